"""Feedback against the clinician's own target, published context with sources, and the pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from strigil.catalog import host_allowed
from strigil.force import (
    DEFAULT_TOLERANCE_PCT,
    SyntheticSpec,
    Target,
    analyse,
    generate_recording,
    give_feedback,
    published_studies,
    simulant_warning,
    stroke_chart,
    target_from_earlier,
    trace_plot,
)

ANALYSIS = analyse(generate_recording(SyntheticSpec(n_strokes=20, noise_sd_n=0.05), seed=7).recording)


def test_counts_and_plain_summary_against_a_set_target() -> None:
    peaks = ANALYSIS.strokes.peak_n
    target = Target.between(7.0, 9.0)
    fb = give_feedback(ANALYSIS.strokes, target)
    assert fb.above == int((peaks > 9.0).sum()) and fb.below == int((peaks < 7.0).sum())
    assert fb.above + fb.within + fb.below == 20
    assert fb.summary.startswith(f"{fb.above} of 20 strokes above your target (peak force 7.0–9.0 N)")
    assert f"{fb.within} within; {fb.below} below." in fb.summary
    assert "coefficient of variation" in fb.summary
    out = fb.to_json()
    assert out["strokes"].count("above") == fb.above and out["target"]["basis"].startswith(
        "set by the clinician"
    )


def test_a_target_from_earlier_sessions_is_the_clinicians_own_average() -> None:
    earlier = analyse(generate_recording(SyntheticSpec(n_strokes=30, peak_n=6.0), seed=8).recording)
    target = target_from_earlier(earlier.strokes.peak_n, "peak")
    centre = float(earlier.strokes.peak_n.mean())
    assert (target.low_n, target.high_n) == pytest.approx((centre * 0.85, centre * 1.15))
    assert "your earlier sessions" in target.basis and "configurable heuristic" in target.basis
    mean_target = Target.around(5.0, 10.0, "mean")
    assert (mean_target.low_n, mean_target.high_n) == pytest.approx((4.5, 5.5))
    assert "heuristic" not in mean_target.basis  # the clinician chose the tolerance
    assert DEFAULT_TOLERANCE_PCT == 15.0
    with pytest.raises(ValueError, match="need 0 < low ≤ high"):
        Target.between(9.0, 7.0)
    with pytest.raises(ValueError, match="none to build a target from"):
        target_from_earlier([])


def test_published_forces_are_context_with_sources_and_the_simulant_warning() -> None:
    fb = give_feedback(ANALYSIS.strokes, Target.around(8.0))
    assert fb.context and all(s.citation for s in fb.context)
    assert "skin simulant" in fb.warning and "not a correct or recommended dose" in fb.warning
    assert fb.warning == simulant_warning()
    figures = {f.text for s in published_studies() for f in s.figures}
    assert "average peak normal force about 8.9 N" in figures
    assert "clinician averages of peak force from 3.0 to 11.6 N" in figures
    assert "coefficient of variation of mean force 15–35 %" in figures
    # Users see the sources themselves, cited from the one bibliography: never the copy the team read.
    studies = {s.id: s for s in published_studies()}
    assert studies["one-handed-reliability-2022"].url == "https://doi.org/10.1123/jsr.2021-0216"
    assert studies["two-handed-consistency-2024"].url == ""  # only an abstract aggregator's copy was read
    assert studies["two-handed-consistency-2024"].citation.startswith("Baker RT, Martonick NJP")
    for study in studies.values():
        assert not study.url or host_allowed(study.url, patient=True), study.url


def test_the_trace_shows_every_stroke_and_the_chart_every_verdict() -> None:
    trace = trace_plot(ANALYSIS, Target.between(7.0, 9.0))
    assert trace.n_strokes == 20
    svg = trace.svg()
    assert svg.startswith("<?xml") and "20 strokes detected" in svg and "your target (peak)" in svg
    assert svg == trace_plot(ANALYSIS, Target.between(7.0, 9.0)).svg()  # no timestamps: same bytes
    part = trace_plot(ANALYSIS, start_s=0.0, end_s=ANALYSIS.strokes.offset_s[4] + 0.01)
    assert part.n_strokes == 5
    chart = stroke_chart(ANALYSIS, Target.between(7.0, 9.0))
    colours = chart.figure.axes[0].collections[-1].get_facecolors()
    fb = give_feedback(ANALYSIS.strokes, Target.between(7.0, 9.0))
    red = np.all(np.isclose(colours[:, :3], [0xC0 / 255, 0x39 / 255, 0x2B / 255], atol=1e-3), axis=1)
    assert int(red.sum()) == fb.above


def test_a_long_trace_is_drawn_as_an_envelope(tmp_path: Path) -> None:
    long = analyse(generate_recording(SyntheticSpec(n_strokes=200), seed=1).recording)
    trace = trace_plot(long)
    line = trace.figure.axes[0].lines[0]
    assert len(line.get_xdata()) <= 6000 < long.n_samples
    out = trace.save(tmp_path / "trace.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="cannot tell the image format"):
        trace.save("trace.gif")
