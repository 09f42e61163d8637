"""The body chart: every catalogue region is reachable, targets are at least 24 px, none overlap."""

from __future__ import annotations

from itertools import combinations

from strigil.catalog import load_catalog
from strigil.web.body_chart import AREAS, body_chart_svg


def test_every_region_can_be_picked_on_the_chart() -> None:
    regions = set(load_catalog().regions)
    assert {a.region for a in AREAS} == regions
    assert all(a.side in load_catalog().sides for a in AREAS)


def test_targets_are_large_enough_and_apart() -> None:
    assert all(a.w >= 24 and a.h >= 24 for a in AREAS)  # at the chart's 200 px width: 1 unit = 1 px
    for a, b in combinations(AREAS, 2):
        if a.view != b.view:
            continue
        apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
        assert apart, (a, b)


def test_the_steps_area_is_pressed_and_each_area_is_a_named_button() -> None:
    svg = body_chart_svg("front", 0, "elbow", "right")
    assert svg.count('aria-pressed="true"') == 1
    assert 'aria-label="Right elbow (front)" data-region="elbow" data-side="right"' in svg
    assert svg.count('role="button" tabindex="0"') == sum(1 for a in AREAS if a.view == "front")
    back = body_chart_svg("back", 1, "low_back", "midline")
    assert 'aria-pressed="true" aria-label="Low back (back)"' in back
