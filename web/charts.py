"""Server-rendered SVG charts: no script, no inline style, readable on a laptop and a phone."""

from collections.abc import Sequence
from datetime import date

from flask_babel import gettext as _
from markupsafe import Markup, escape

from web.i18n import day, eur, number

WIDTH, HEIGHT, PAD, LEFT = 640, 260, 48, 96
COLOURS = ("#b3261e", "#0b57a4", "#1b7f3b", "#8a5a00", "#6b3fa0", "#00707a")


def _y(cents: int, top: int) -> float:
    return HEIGHT - PAD - (cents / top) * (HEIGHT - 2 * PAD) if top else HEIGHT - PAD


def _step(top: int) -> int:
    """A round euro step (1, 2 or 5 times a power of ten, in cents) giving 3 to 6 ticks."""
    magnitude = 100
    while True:
        for factor in (1, 2, 5):
            if top / (factor * magnitude) <= 5:
                return factor * magnitude
        magnitude *= 10


def _euro_ticks(top: int) -> list[str]:
    step, parts = _step(top), []
    for tick in range(0, top + 1, step):
        y = _y(tick, top)
        parts += [
            f'<line class="tick" x1="{LEFT - 4}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}" '
            'stroke="#ddd" stroke-width="1"/>',
            f'<text class="euro-tick" x="{LEFT - 8}" y="{y + 4:.1f}" font-size="12" '
            f'fill="#555" text-anchor="end">€ {escape(number(tick // 100))}</text>',
        ]
    return parts


def _months(first: date, last: date) -> list[date]:
    """The first day of each month inside the span, thinned to at most seven."""
    months, day_ = [], date(first.year, first.month, 1)
    while day_ <= last:
        if day_ >= first:
            months.append(day_)
        day_ = date(day_.year + day_.month // 12, day_.month % 12 + 1, 1)
    every = max(1, -(-len(months) // 7))
    return months[::every]


def cumulative(
    points: Sequence[tuple[date, int]],
    target_cents: int,
    title: str,
    span: tuple[date | None, date | None] = (None, None),
) -> Markup:
    """Cumulative raised over time as a line, against the target as a dashed line; the time
    axis covers the campaign's days (`span`, widened to every gift), the euro axis has
    round ticks and its title."""
    if not points:
        return Markup("")
    first = min(d for d in (span[0], points[0][0]) if d is not None)
    last = max(d for d in (span[1], points[-1][0]) if d is not None)
    days = max((last - first).days, 1)
    top = max(target_cents, max(c for _d, c in points), 1)

    def x(when: date) -> float:
        return LEFT + (when - first).days / days * (WIDTH - LEFT - PAD)

    line = " ".join(f"{x(d):.1f},{_y(c, top):.1f}" for d, c in points)
    axis_title = _("Raised (euro)")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        *_euro_ticks(top),
        f'<text class="axis-title" x="14" y="{HEIGHT / 2:.0f}" font-size="12" fill="#555" '
        f'text-anchor="middle" transform="rotate(-90 14 {HEIGHT / 2:.0f})">'
        f"{escape(axis_title)}</text>",
        f'<line x1="{LEFT}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#888" stroke-width="1"/>',
        f'<line x1="{LEFT}" y1="{PAD}" x2="{LEFT}" y2="{HEIGHT - PAD}" '
        'stroke="#888" stroke-width="1"/>',
        f'<polyline class="raised" points="{line}" fill="none" stroke="#1b7f3b" stroke-width="3"/>',
        f'<text class="time-start" x="{LEFT}" y="{HEIGHT - 12}" font-size="12" fill="#555">'
        f"{escape(day(first))}</text>",
        f'<text class="time-end" x="{WIDTH - PAD}" y="{HEIGHT - 12}" font-size="12" '
        f'fill="#555" text-anchor="end">{escape(day(last))}</text>',
        f'<text x="{x(points[-1][0]):.1f}" y="{_y(points[-1][1], top) - 8:.1f}" font-size="14" '
        f'fill="#1b7f3b" text-anchor="end">{escape(eur(points[-1][1]))}</text>',
    ]
    for month in _months(first, last):
        parts += [
            f'<line x1="{x(month):.1f}" y1="{HEIGHT - PAD}" x2="{x(month):.1f}" '
            f'y2="{HEIGHT - PAD + 5}" stroke="#888" stroke-width="1"/>',
            f'<text class="month-tick" x="{x(month):.1f}" y="{HEIGHT - PAD + 18}" '
            f'font-size="11" fill="#555" text-anchor="middle">{month:%m/%Y}</text>',
        ]
    if target_cents:
        target_y = _y(target_cents, top)
        parts += [
            f'<line class="target" x1="{LEFT}" y1="{target_y:.1f}" x2="{WIDTH - PAD}" '
            f'y2="{target_y:.1f}" stroke="#b3261e" stroke-width="2" stroke-dasharray="8 6"/>',
            f'<text x="{LEFT + 4}" y="{target_y - 8:.1f}" font-size="13" fill="#b3261e">'
            f"{escape(_('Target'))} {escape(eur(target_cents))}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(items: Sequence[tuple[str, int]], title: str) -> Markup:
    """Horizontal bars, one per label, with the amount written beside each."""
    if not items:
        return Markup("")
    row, label_width, width_all = 30, 110, 420
    height = row * len(items) + 10
    top = max(max(cents for _l, cents in items), 1)
    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width_all} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, cents) in enumerate(items):
        y = 5 + index * row
        width = max(cents, 0) / top * (width_all - label_width - 110)
        parts += [
            f'<text x="0" y="{y + 19}" font-size="14" fill="#333">{escape(label)}</text>',
            f'<rect x="{label_width}" y="{y + 4}" width="{width:.1f}" height="{row - 10}" '
            f'fill="{COLOURS[index % len(COLOURS)]}" rx="3"/>',
            f'<text x="{label_width + width + 6:.1f}" y="{y + 19}" font-size="13" '
            f'fill="#333">{escape(eur(cents))}</text>',
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
