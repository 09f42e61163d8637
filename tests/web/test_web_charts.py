"""Progress charts: by date with the meaningful-change band and a line for a meaningful improvement, the same
values as a table; by session number when two sessions share a day."""

from __future__ import annotations

import datetime as dt

from strigil.services.progress import MeasureSeries, Point
from strigil.web.charts import progress_rows, progress_svg


def _series(dates: list[dt.date]) -> MeasureSeries:
    points = []
    for n, date in enumerate(dates, start=1):
        points += [Point(n, "pre", 6.0 - n, date), Point(n, "post", 4.0 - n / 2, date)]
    return MeasureSeries("nprs", "Numeric Pain Rating Scale", "points", True, 0.0, 10.0, 5.0, 2.0, "MCID",
                         "2 points", points, key="nprs", label="Numeric Pain Rating Scale", goal="sleep")


def test_a_chart_is_drawn_by_date_with_the_band_and_the_improvement_line() -> None:
    start = dt.date(2026, 3, 2)
    svg = progress_svg(_series([start, start + dt.timedelta(days=7), start + dt.timedelta(days=21)]))
    assert 'data-axis="date"' in svg and "02 Mar" in svg and "23 Mar" in svg
    assert 'class="mcid-band"' in svg and 'class="goal-line"' in svg
    assert "a meaningful improvement from baseline: 3 points" in svg  # 5 - 2, lower is better
    # the second session sits a third of the way: 7 of 21 days
    xs = [float(part.split('"')[1]) for part in svg.split('<circle cx=')[1:] if "before IASTM" in part]
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - 1 / 3) < 1e-6


def test_two_sessions_on_one_day_are_charted_by_session_and_tabled() -> None:
    day = dt.date(2026, 3, 2)
    series = _series([day, day, day + dt.timedelta(days=1)])
    assert 'data-axis="session"' in progress_svg(series)
    rows = progress_rows(series)
    assert [r["session"] for r in rows] == ["1", "2", "3"]
    assert rows[0] == {"date": "2026-03-02", "session": "1", "pre": "5", "post": "3.5"}


def test_the_caption_names_the_value_the_band_is_centred_on() -> None:
    from strigil.web.pages import TEMPLATES

    day = dt.date(2026, 3, 2)
    # a score between sessions first, then a pre-test: the band is on the pre-test, as the decision aid judges
    points = [Point(1, "between", 56.0, day), Point(2, "pre", 50.0, day + dt.timedelta(days=7))]
    series = MeasureSeries(
        "prtee", "PRTEE", "points", True, 0.0, 100.0, 50.0, 11.0, "MCID", "11 points", points
    )

    def caption(s: MeasureSeries) -> str:
        html = TEMPLATES.env.get_template("_chart.html").render(
            series=s, svg=progress_svg(s), rows=progress_rows(s)
        )
        return " ".join(html.split("<figcaption")[1].split("</figcaption>")[0].split())

    assert "the first pre-test value, 50.0 (the baseline the decision aid judges from)" in caption(series)
    only_between = MeasureSeries(
        "prtee", "PRTEE", "points", True, 0.0, 100.0, 56.0, 11.0, "MCID", "11 points", points[:1]
    )
    assert "Shaded band: the first value, 56.0, ±" in caption(only_between)
