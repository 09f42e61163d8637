"""The body chart: the treated area picked on a front and a back view of the body (inline SVG).

Each area is a region of the catalogue on one side, drawn as a target of at least 24×24 px at the chart's
200 px width (WCAG 2.2 2.5.8); each is a button a keyboard reaches with Tab and presses with Enter or Space
(static/strigil.js sets the step's region and side). The region and side lists beside it stay the way to
choose without a pointer or without JavaScript. Front view: the patient's right is on the viewer's left; back
view: on the viewer's right.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from strigil.clinical.vocabulary import display_name

__all__ = ["AREAS", "HEIGHT", "WIDTH", "Area", "body_chart_svg"]

WIDTH, HEIGHT = 200, 470


@dataclass(frozen=True)
class Area:
    """One pickable area: a catalogue region on one side, in one view, and its rectangle."""

    view: str  # "front" or "back"
    region: str
    side: str  # "left", "right" or "midline"
    x: int
    y: int
    w: int
    h: int


def _pair(view: str, region: str, x_left: int, x_right: int, y: int, w: int, h: int) -> list[Area]:
    """An area on both sides; on the front the viewer's left is the patient's right."""
    left_side, right_side = ("right", "left") if view == "front" else ("left", "right")
    return [
        Area(view, region, left_side, x_left, y, w, h),
        Area(view, region, right_side, x_right, y, w, h),
    ]


def _limbs(view: str) -> list[Area]:
    return [
        *_pair(view, "shoulder", 40, 124, 82, 36, 30),
        *_pair(view, "upper_arm", 30, 138, 114, 32, 50),
        *_pair(view, "elbow", 24, 144, 166, 32, 28),
        *_pair(view, "forearm", 18, 150, 196, 32, 46),
        *_pair(view, "wrist_hand", 4, 164, 244, 32, 36),
        *_pair(view, "hip", 66, 102, 188, 32, 32),
        *_pair(view, "knee", 66, 102, 294, 32, 30),
        *_pair(view, "ankle", 66, 102, 388, 32, 26),
    ]


AREAS: tuple[Area, ...] = (
    Area("front", "neck", "midline", 84, 52, 32, 28),
    Area("front", "chest", "midline", 78, 84, 44, 56),
    Area("front", "abdomen", "midline", 78, 142, 44, 44),
    *_limbs("front"),
    *_pair("front", "thigh_lateral", 40, 134, 244, 26, 48),
    *_pair("front", "thigh_anterior", 68, 102, 244, 30, 48),
    *_pair("front", "lower_leg_anterior", 68, 104, 326, 28, 60),
    Area("back", "neck", "midline", 84, 52, 32, 28),
    Area("back", "upper_back", "midline", 78, 84, 44, 56),
    Area("back", "low_back", "midline", 78, 142, 44, 44),
    *_limbs("back"),
    *_pair("back", "thigh_posterior", 62, 102, 244, 36, 48),
    *_pair("back", "lower_leg_posterior", 68, 104, 326, 28, 60),
    *_pair("back", "foot_plantar", 64, 102, 416, 34, 26),
)


def body_chart_svg(view: str, step: int, region: str, side: str) -> str:
    """One view of the body chart for dose step `step` (0-based), with the step's area pressed."""
    name = "Front" if view == "front" else "Back"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="group" aria-label="{name} of the body, step {step + 1}" '
        f'class="body-view" data-view="{view}">',
        '<circle cx="100" cy="28" r="22" fill="#eef1f5" stroke="#767676" aria-hidden="true"/>',
        f'<text x="100" y="464" font-size="13" text-anchor="middle" fill="#1a1a1a" '
        f'aria-hidden="true">{name}</text>',
    ]
    for a in AREAS:
        if a.view != view:
            continue
        chosen = a.region == region and (a.side == side or a.side == "midline")
        label = f"{display_name(a.side)} {display_name(a.region).split(' (')[0].lower()}"
        if a.side == "midline":
            label = display_name(a.region).split(" (")[0]
        parts.append(
            f'<g class="area" role="button" tabindex="0" aria-pressed="{"true" if chosen else "false"}" '
            f'aria-label="{escape(label)} ({view})" data-region="{a.region}" data-side="{a.side}">'
            f'<rect x="{a.x}" y="{a.y}" width="{a.w}" height="{a.h}" rx="6"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
