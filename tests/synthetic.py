"""Synthetic donations CSV of any size, in the foundation's Italian Excel style, for load tests."""

import random
from datetime import date, timedelta
from pathlib import Path

from ledger.csv_import import COLUMNS

FIRST = ("Maria", "Giuseppe", "Anna", "Luca", "Giulia", "Marco", "Sara", "Paolo", "Elena", "Luigi")
LAST = ("Rossi", "Bianchi", "Colombo", "Ferrari", "Galli", "Sala", "Villa", "Fabbri", "Barbieri")
STANDS = (
    ("Piazza del Comune, Cremona", "Cremona"),
    ("Piazza Duomo, Crema", "Crema"),
    ("Piazza Garibaldi, Casalmaggiore", "Casalmaggiore"),
)


def synthetic_row(index: int, rng: random.Random, campaign: str) -> dict[str, str]:
    """Every fifth row an anonymous stand tally, the others identified by e-mail or phone."""
    day = date(2016, 7, 1) + timedelta(days=index % 700)
    row = dict.fromkeys(COLUMNS, "")
    row.update(date=day.strftime("%d/%m/%Y"), campaign=campaign, reference=f"SYN-{index:07d}")
    if index % 5 == 0:
        stand, district = STANDS[index % 3]
        row.update(
            channel="stand",
            method="cash",
            donors=str(rng.randint(5, 40)),
            amount=f"{rng.randint(50, 400)},00",
            stand=stand,
            district=district,
        )
        return row
    person = rng.randrange(max(index // 3, 1))  # repeat donors, so the registry has to join
    row.update(
        channel="online",
        method="card",
        donors="1",
        amount=f"{rng.choice((10, 20, 25, 50, 100))},00",
        first_name=rng.choice(FIRST),
        last_name=rng.choice(LAST),
        privacy_consent="sì",
        marketing_consent=rng.choice(("sì", "no")),
        district=STANDS[person % 3][1],
    )
    if person % 2:
        row["email"] = f"donor{person}@example.org"
    else:
        row["phone"] = f"+39 3{person % 100:02d} {person:07d}"[:16]
    return row


def write_donations_csv(
    path: Path, rows: int, campaign: str = "fare-legami-anni-2-3", seed: int = 7
) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(";".join(COLUMNS) + "\r\n")
        for index in range(rows):
            out.write(";".join(synthetic_row(index, rng, campaign).values()) + "\r\n")
    return path
