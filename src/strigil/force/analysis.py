"""From a recording to its measured dose: clean, segment, per-stroke dose, per-set and session summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from strigil.force.clean import CleanedSignal, clean
from strigil.force.dose import DoseSummary, StrokeTable, stroke_doses, summarise
from strigil.force.recording import Recording
from strigil.force.segment import Segments, segment_strokes
from strigil.force.settings import ForceSettings, describe_settings

__all__ = ["ForceAnalysis", "analyse"]


@dataclass(frozen=True)
class ForceAnalysis:
    """The measured dose of one recording: strokes, sets, the session, and how the signal was treated.

    `cleaned` and `segments` keep the arrays for plots; `to_json()` carries the numbers and the words.
    """

    source: str
    sampling_hz: float
    n_samples: int
    duration_s: float
    settings: ForceSettings
    cleaned: CleanedSignal
    segments: Segments
    strokes: StrokeTable
    sets: tuple[DoseSummary, ...]
    session: DoseSummary
    n_truncated: int
    notes: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"ForceAnalysis(source={self.source!r}, strokes={len(self.strokes)}, sets={len(self.sets)}, "
            f"mean={self.session.mean_n}, peak={self.session.peak_n})"
        )

    def summary(self) -> str:
        """A few plain lines: strokes, sets, average peak and mean force with their variability."""
        s = self.session
        lines = [
            f"{s.n_strokes} strokes in {s.n_sets} set(s) over {self.duration_s:.1f} s "
            f"({self.source or 'recording'})"
        ]
        if s.n_strokes:
            cv = "" if s.peak_cv_pct is None else f" (CV {s.peak_cv_pct:.0f} %)"
            cvm = "" if s.mean_cv_pct is None else f" (CV {s.mean_cv_pct:.0f} %)"
            lines.append(f"peak force {s.peak_n:.2f} N on average{cv}; highest {s.max_peak_n:.2f} N")
            lines.append(f"mean force {s.mean_n:.2f} N on average{cvm}")
            if s.rate_hz is not None:
                lines.append(f"stroke rate {s.rate_hz:.2f} per second; contact {s.contact_s:.1f} s in all")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict: recording, settings (with units and basis), cleaning, session, sets, strokes."""
        return {
            "recording": {
                "source": self.source,
                "sampling_hz": round(self.sampling_hz, 6),
                "n_samples": self.n_samples,
                "duration_s": round(self.duration_s, 6),
            },
            "settings": describe_settings(self.settings),
            "cleaning": {
                "filters": list(self.cleaned.filters),
                "noise_sd_n": float(f"{self.cleaned.noise_sd_n:.6g}"),
            },
            "session": self.session.to_json(),
            "sets": [s.to_json() for s in self.sets],
            "strokes": self.strokes.to_json(),
            "n_truncated": self.n_truncated,
            "notes": list(self.notes),
        }


def analyse(recording: Recording, settings: ForceSettings | None = None) -> ForceAnalysis:
    """Per-stroke dose and per-set and session summaries of a recording (pure: arrays in, result out)."""
    chosen = settings or ForceSettings()
    cleaned = clean(recording, chosen)
    segments = segment_strokes(cleaned.time_s, cleaned.normal_n, chosen)
    strokes = stroke_doses(cleaned, segments, chosen.set_gap_s)
    n_sets = int(strokes.set_index.max()) + 1 if len(strokes) else 0
    sets = tuple(summarise(strokes, strokes.set_index == k, scope=f"set {k + 1}") for k in range(n_sets))
    notes = list(cleaned.notes)
    if recording.resampled:
        notes.append(
            "the time steps were irregular: the recording was put on a regular grid (linear interpolation)"
        )
    n_truncated = int(np.count_nonzero(segments.truncated))
    if n_truncated:
        notes.append(f"{n_truncated} stroke(s) cut by the start or end of the recording were left out")
    if not len(strokes):
        notes.append(
            f"no stroke was found: the force never rose above onset_n = {chosen.onset_n:g} N for at least "
            f"min_duration_s = {chosen.min_duration_s:g} s"
        )
    return ForceAnalysis(
        source=recording.source,
        sampling_hz=recording.sampling_hz,
        n_samples=recording.n_samples,
        duration_s=recording.duration_s,
        settings=chosen,
        cleaned=cleaned,
        segments=segments,
        strokes=strokes,
        sets=sets,
        session=summarise(strokes),
        n_truncated=n_truncated,
        notes=tuple(notes),
    )
