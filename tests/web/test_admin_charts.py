"""The dashboard's SVG charts: where the lines fall, and nothing a CSP would block."""

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import Babel

from web.charts import bars, cumulative

WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.fixture(autouse=True)
def italian_request() -> Iterator[None]:
    """Amounts and dates are written in the language of the request."""
    app = Flask(__name__, root_path=str(WEB))
    Babel(app, default_locale="it", default_translation_directories="translations")
    with app.test_request_context("/admin/"):
        yield


def test_cumulative_line_ends_halfway_to_a_target_twice_the_total() -> None:
    svg = str(
        cumulative([(date(2016, 1, 1), 10_000), (date(2016, 12, 31), 30_000)], 60_000, "Raccolto")
    )
    [points] = re.findall(r'class="raised" points="([^"]+)"', svg)
    assert points == "96.0,184.7 592.0,130.0"  # 1/6 and 1/2 of the height above the axis
    [target_y] = re.findall(r'class="target" x1="96" y1="([\d.]+)"', svg)
    assert target_y == "48.0"  # the target is the top of the chart
    assert "€ 600,00" in svg and "€ 300,00" in svg and "style=" not in svg and "<script" not in svg


def test_raised_above_target_stretches_the_chart_and_the_target_line_drops() -> None:
    svg = str(cumulative([(date(2016, 1, 1), 20_000)], 10_000, "Raccolto"))
    [target_y] = re.findall(r'class="target" x1="96" y1="([\d.]+)"', svg)
    assert target_y == "130.0"


def test_euro_axis_has_round_labelled_ticks_and_a_title() -> None:
    svg = str(cumulative([(date(2016, 1, 1), 10_000), (date(2016, 12, 31), 30_000)], 60_000, "R"))
    ticks = re.findall(r'class="euro-tick"[^>]*>([^<]+)<', svg)
    assert ticks == ["€ 0", "€ 200", "€ 400", "€ 600"]
    assert "Raccolto (euro)</text>" in svg and 'transform="rotate(-90' in svg


def test_time_axis_spans_the_campaign_not_the_days_with_gifts() -> None:
    campaign = (date(2016, 9, 1), date(2017, 8, 31))
    svg = str(cumulative([(date(2016, 9, 10), 10_000)], 60_000, "R", campaign))
    ends = dict(re.findall(r'class="time-(start|end)"[^>]*>([^<]+)<', svg))
    assert ends == {"start": "01/09/2016", "end": "31/08/2017"}
    # One gift on 10 September sits 9 days of 364 into the 496 px of the time axis.
    [points] = re.findall(r'class="raised" points="([^"]+)"', svg)
    assert points == "108.3,184.7"
    months = re.findall(r'class="month-tick"[^>]*>([^<]+)<', svg)
    assert months[0] == "09/2016" and months[-1] in ("07/2017", "08/2017") and len(months) <= 7
    # A gift before the campaign's first day widens the axis instead of falling off it.
    early = str(cumulative([(date(2016, 8, 20), 10_000)], 60_000, "R", campaign))
    assert dict(re.findall(r'class="time-(start|end)"[^>]*>([^<]+)<', early))["start"] == (
        "20/08/2016"
    )


def test_bars_are_as_long_as_their_share_of_the_largest() -> None:
    svg = str(bars([("stand", 20_000), ("online", 5_000), ("<bank>", 0)], "Per canale"))
    widths = [float(w) for w in re.findall(r'<rect x="110" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths == [200.0, 50.0, 0.0]
    assert "&lt;bank&gt;" in svg and "€ 200,00" in svg


def test_no_gifts_draw_no_chart() -> None:
    assert str(cumulative([], 10_000, "Raccolto")) == "" and str(bars([], "Per mese")) == ""
