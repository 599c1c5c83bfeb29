"""Server-rendered SVG charts: no script, no inline style, readable on a laptop and a phone."""

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from web.i18n import day, eur

WIDTH, HEIGHT, PAD = 640, 260, 48
COLOURS = ("#b3261e", "#0b57a4", "#1b7f3b", "#8a5a00", "#6b3fa0", "#00707a")


def _y(cents: int, top: int) -> float:
    return HEIGHT - PAD - (cents / top) * (HEIGHT - 2 * PAD) if top else HEIGHT - PAD


def cumulative(points: Sequence[tuple[date, int]], target_cents: int, title: str) -> Markup:
    """Cumulative raised over time as a line, against the target as a dashed line."""
    if not points:
        return Markup("")
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    top = max(target_cents, max(c for _d, c in points), 1)

    def x(when: date) -> float:
        return PAD + (when - first).days / span * (WIDTH - 2 * PAD)

    line = " ".join(f"{x(d):.1f},{_y(c, top):.1f}" for d, c in points)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#888" stroke-width="1"/>',
        f'<polyline class="raised" points="{line}" fill="none" stroke="#1b7f3b" stroke-width="3"/>',
        f'<text x="{PAD}" y="{HEIGHT - 16}" font-size="13" fill="#555">{escape(day(first))}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 16}" font-size="13" fill="#555" '
        f'text-anchor="end">{escape(day(last))}</text>',
        f'<text x="{x(last):.1f}" y="{_y(points[-1][1], top) - 8:.1f}" font-size="14" '
        f'fill="#1b7f3b" text-anchor="end">{escape(eur(points[-1][1]))}</text>',
    ]
    if target_cents:
        target_y = _y(target_cents, top)
        parts += [
            f'<line class="target" x1="{PAD}" y1="{target_y:.1f}" x2="{WIDTH - PAD}" '
            f'y2="{target_y:.1f}" stroke="#b3261e" stroke-width="2" stroke-dasharray="8 6"/>',
            f'<text x="{PAD}" y="{target_y - 8:.1f}" font-size="13" fill="#b3261e">'
            f"{escape(eur(target_cents))}</text>",
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
