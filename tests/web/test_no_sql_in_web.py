"""Every query against a read model lives beside it in projections/: web/ and the CLI call
those functions and hold no SQL of their own (STYLE.md, 7)."""

import re
from pathlib import Path

from projections.store import read_models

WEB = Path(__file__).resolve().parents[2] / "web"
SQL = re.compile(
    r"\bSELECT\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\bsession\.(query|one|scalar|execute|executemany)\(|\bsql\.\w+\("
)
# Sign-in sessions and failed sign-ins are the web layer's own tables, not read models: they
# are not built from events, so a rebuild never touches them and nothing in projections/ reads
# them. These two modules own them and are the only place web/ speaks SQL.
WEB_OWNED = {"sessions.py": "web_sessions", "throttle.py": "login_failures"}


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(WEB)): path.read_text(encoding="utf-8")
        for path in sorted(WEB.rglob("*.py"))
    }


def test_web_modules_hold_no_sql() -> None:
    sources = _sources()
    assert len(sources) > 20  # the walk found the package, not an empty folder
    found = {
        name: sorted({match.group(0) for match in SQL.finditer(text)})
        for name, text in sources.items()
        if name not in WEB_OWNED
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_web_names_no_read_model_table() -> None:
    tables = {table for model in read_models() for table in model.tables}
    tables |= {"projection_positions", "projection_stalls"}
    assert {"gifts_view", "registry_donors", "money_movements"} <= tables
    # Inside string literals: `receipts_view` is also the name web/ imports a module by.
    named = {
        name: sorted(table for table in tables if re.search(rf"[\"'][^\"'\n]*\b{table}\b", text))
        for name, text in _sources().items()
    }
    assert {name: hits for name, hits in named.items() if hits} == {}


def test_web_owned_tables_are_only_their_own() -> None:
    """The two modules allowed SQL speak only of the table each of them creates."""
    sources = _sources()
    for name, table in WEB_OWNED.items():
        mentioned = set(
            re.findall(r"\b(?:FROM|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?)\s+(\w+)", sources[name])
        )
        assert mentioned == {table}, name
