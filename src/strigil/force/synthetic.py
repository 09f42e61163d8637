"""Synthetic force recordings with known truth, to check that the analysis finds what was put in.

Each stroke is a pulse with smooth (sin²) rising and falling edges, a plateau with a slow ripple (the
force a clinician's hand varies within a stroke) and its own peak. Two-handed work is imitated by letting a
stroke start while the previous one is still falling (`overlap`), early enough that the summed force
between them falls only to `overlap_valley` of the lower peak: a valley, but no return to rest. The
noise-free signal is sampled on the recording's grid, and the truth is taken from those samples: a stroke
runs while the force is above the contact level `contact_n` (crossings timed on the straight line between
samples) or, where it overlaps a neighbour, to the minimum of the summed force between them; its peak,
impulse and time-weighted mean are those of the noise-free samples over that span.
Then the sensor's faults are added, each stated in `SyntheticSpec.describe()`: a constant offset (tare),
linear drift, mains hum and white noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from strigil.force.recording import Recording
from strigil.force.segment import valley_time

__all__ = [
    "StrokeMatch",
    "SyntheticRecording",
    "SyntheticSpec",
    "TrueStrokes",
    "generate_recording",
    "match_strokes",
]

_Array = NDArray[np.float64]


@dataclass(frozen=True)
class SyntheticSpec:
    """What a synthetic recording holds: strokes (timing, force, overlap) and sensor faults."""

    sampling_hz: float = 1000.0
    n_strokes: int = 20
    n_sets: int = 1
    lead_s: float = 2.0
    set_rest_s: float = 20.0
    duration_s: tuple[float, float] = (0.6, 1.2)
    edge_fraction: float = 0.25
    peak_n: float = 8.0
    peak_cv: float = 0.2
    rest_s: tuple[float, float] = (0.4, 1.5)
    overlap: float = 0.0
    overlap_valley: float = 0.3
    ripple: float = 0.05
    noise_sd_n: float = 0.0
    drift_n_per_min: float = 0.0
    hum_n: float = 0.0
    hum_hz: float = 50.0
    offset_n: float = 0.0
    contact_n: float = 0.5
    shear_ratio: float | None = None
    shear_direction_deg: float = 30.0
    tool_angle_deg: float | None = None

    def describe(self) -> str:
        """The recording's make-up in one line: rate, strokes, noise SD, drift, hum, offset and overlap."""
        parts = [
            f"{self.sampling_hz:g} Hz",
            f"{self.n_strokes} strokes in {self.n_sets} set(s)",
            f"peaks {self.peak_n:g} N ± {100 * self.peak_cv:g} % (CV)",
            f"noise SD {self.noise_sd_n:g} N",
            f"drift {self.drift_n_per_min:g} N/min",
            f"hum {self.hum_n:g} N at {self.hum_hz:g} Hz"
            + (
                " (removed by the device's anti-aliasing filter)"
                if self.hum_hz >= self.sampling_hz / 2
                else ""
            ),
            f"offset {self.offset_n:g} N",
            f"truth at contact above {self.contact_n:g} N",
            f"overlap {100 * self.overlap:g} % of strokes "
            f"(valley at {100 * self.overlap_valley:g} % of the lower peak)",
        ]
        if self.shear_ratio is not None:
            parts.append(f"shear {self.shear_ratio:g} × normal at {self.shear_direction_deg:g}°")
        if self.tool_angle_deg is not None:
            parts.append(f"tool angle {self.tool_angle_deg:g}°")
        return ", ".join(parts)


@dataclass(frozen=True)
class TrueStrokes:
    """True strokes from the noise-free sampled force: times (s), peak and mean (N), impulse (N·s)."""

    onset_s: _Array
    offset_s: _Array
    peak_n: _Array
    mean_n: _Array
    impulse_ns: _Array

    def __len__(self) -> int:
        return len(self.onset_s)


@dataclass(frozen=True)
class SyntheticRecording:
    """A generated recording, its noise-free force, the true strokes, and the spec and seed that made them."""

    recording: Recording
    noise_free_n: _Array
    truth: TrueStrokes
    spec: SyntheticSpec
    seed: int


def _pulse(tau: _Array, duration: float, edge: float, ripple: float, freq: float, phase: float) -> _Array:
    """Pulse shape in [0, 1 + ripple]: sin² edges, plateau, a slow ripple; zero outside (0, duration)."""
    inside = (tau > 0) & (tau < duration)
    rise = np.clip(tau / edge, 0.0, 1.0)
    fall = np.clip((duration - tau) / edge, 0.0, 1.0)
    envelope = np.sin(0.5 * np.pi * rise) ** 2 * np.sin(0.5 * np.pi * fall) ** 2
    return np.where(inside, envelope * (1.0 + ripple * np.sin(2 * np.pi * freq * tau + phase)), 0.0)


def _crossing(t: _Array, x: _Array, a: int, level: float) -> float:
    """Time where the straight line from sample a to sample a + 1 crosses `level`."""
    return float(t[a] + (t[a + 1] - t[a]) * (level - x[a]) / (x[a + 1] - x[a]))


def _true_strokes(t: _Array, x: _Array, top: NDArray[np.int64], level: float) -> TrueStrokes:
    """Each pulse's span above `level` on the noise-free samples; overlapping pulses part at their minimum.

    The force between samples is the straight line through them, so a stroke's times, impulse and
    time-weighted mean do not depend on where the samples happen to fall.
    """
    n = len(top)
    lo = np.empty(n, dtype=np.int64)  # first sample above the level
    hi = np.empty(n, dtype=np.int64)  # last sample above the level
    on_s, off_s = np.empty(n), np.empty(n)
    on_value, off_value = np.full(n, level), np.full(n, level)
    for k in range(n):
        # walk out from the pulse's own peak to where the force is at or below the level
        lo[k] = top[k]
        while x[lo[k] - 1] > level:
            lo[k] -= 1
        hi[k] = top[k]
        while x[hi[k] + 1] > level:
            hi[k] += 1
        on_s[k] = _crossing(t, x, int(lo[k]) - 1, level)
        off_s[k] = _crossing(t, x, int(hi[k]), level)
    for k in range(1, n):
        if hi[k - 1] >= lo[k]:  # one run above the level: no return to rest between the two
            m = top[k - 1] + int(np.argmin(x[top[k - 1] : top[k] + 1]))
            when, value, left_last = valley_time(t, x, np.array([m]))
            hi[k - 1], lo[k] = left_last[0], left_last[0] + 1
            off_s[k - 1] = on_s[k] = when[0]
            off_value[k - 1] = on_value[k] = value[0]
    peak, area = np.empty(n), np.empty(n)
    for k in range(n):
        inside = x[lo[k] : hi[k] + 1]
        peak[k] = inside.max()
        area[k] = (
            np.trapezoid(inside, t[lo[k] : hi[k] + 1])
            + 0.5 * (on_value[k] + x[lo[k]]) * (t[lo[k]] - on_s[k])
            + 0.5 * (x[hi[k]] + off_value[k]) * (off_s[k] - t[hi[k]])
        )
    return TrueStrokes(
        onset_s=on_s, offset_s=off_s, peak_n=peak, mean_n=area / (off_s - on_s), impulse_ns=area
    )


def _overlap_for_valley(
    shape: tuple[float, float, float, float],
    ripple: tuple[float, float, float, float],
    peak_a: float,
    peak_b: float,
    ripple_size: float,
    valley: float,
) -> float:
    """How long stroke b overlaps the end of stroke a for their sum to dip to `valley` × the lower peak."""
    dur_a, edge_a, dur_b, edge_b = shape
    grid = np.linspace(0.0, 1.0, 401)

    def dip(lead: float) -> float:
        t = dur_a - lead + grid * lead  # the overlap, in stroke a's time
        a = peak_a * _pulse(t, dur_a, edge_a, ripple_size, ripple[0], ripple[1])
        b = peak_b * _pulse(t - (dur_a - lead), dur_b, edge_b, ripple_size, ripple[2], ripple[3])
        return float((a + b)[1:-1].min())

    # Longer overlap lifts the valley; bisect between touching edges and the shorter edge's length.
    goal = valley * min(peak_a, peak_b)
    low, high = 1e-4, min(edge_a, edge_b)
    for _ in range(40):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if dip(mid) < goal else (low, mid)
    return 0.5 * (low + high)


def generate_recording(spec: SyntheticSpec | None = None, seed: int = 0) -> SyntheticRecording:
    """Generate a recording from `spec` with a seeded random generator (pure: no I/O)."""
    s = spec or SyntheticSpec()
    rng = np.random.default_rng(seed)
    n = s.n_strokes
    duration = rng.uniform(s.duration_s[0], s.duration_s[1], n)
    edge = s.edge_fraction * duration
    # Peaks: normal with the stated CV, kept above half the mean, so that valleys between overlapping
    # strokes stay above the contact level.
    peaks = np.maximum(rng.normal(s.peak_n, s.peak_cv * s.peak_n, n), s.peak_n / 2.0)
    rests = rng.uniform(s.rest_s[0], s.rest_s[1], n)
    overlapping = rng.random(n) < s.overlap
    ripple_freq = rng.uniform(2.0, 5.0, n)
    ripple_phase = rng.uniform(0.0, 2 * np.pi, n)
    set_of = np.minimum(np.arange(n) * s.n_sets // max(n, 1), s.n_sets - 1)
    start = np.empty(n)
    clock = s.lead_s
    for k in range(n):
        if k == 0:
            start[k] = clock
        elif set_of[k] != set_of[k - 1]:
            start[k] = start[k - 1] + duration[k - 1] + s.set_rest_s
        elif overlapping[k]:
            shape = (duration[k - 1], edge[k - 1], duration[k], edge[k])
            ripple = (ripple_freq[k - 1], ripple_phase[k - 1], ripple_freq[k], ripple_phase[k])
            lead = _overlap_for_valley(shape, ripple, peaks[k - 1], peaks[k], s.ripple, s.overlap_valley)
            start[k] = start[k - 1] + duration[k - 1] - lead
        else:
            start[k] = start[k - 1] + duration[k - 1] + rests[k]
    end_s = (start[-1] + duration[-1] if n else 0.0) + s.lead_s
    fs = s.sampling_hz
    t = np.arange(int(np.ceil(end_s * fs)) + 1) / fs
    clean_n = np.zeros(len(t))
    first = np.searchsorted(t, start, side="right")
    last = np.searchsorted(t, start + duration, side="left") - 1
    top = np.empty(n, dtype=np.int64)  # each pulse's own highest sample
    for k in range(n):
        span = slice(first[k], last[k] + 1)
        pulse = peaks[k] * _pulse(
            t[span] - start[k], duration[k], edge[k], s.ripple, ripple_freq[k], ripple_phase[k]
        )
        clean_n[span] += pulse
        top[k] = first[k] + int(np.argmax(pulse))
    truth = _true_strokes(t, clean_n, top, s.contact_n)
    # A device sampling slower than twice the mains frequency low-passes before it samples (anti-aliasing),
    # so no hum reaches its samples.
    hum = s.hum_n if s.hum_hz < fs / 2 else 0.0
    measured = (
        clean_n
        + s.offset_n
        + s.drift_n_per_min * t / 60.0
        + hum * np.sin(2 * np.pi * s.hum_hz * t + rng.uniform(0, 2 * np.pi))
        + rng.normal(0.0, s.noise_sd_n, len(t))
    )
    shear_x = shear_y = None
    if s.shear_ratio is not None:
        direction = np.radians(s.shear_direction_deg)
        shear_x = s.shear_ratio * clean_n * np.cos(direction) + rng.normal(0.0, s.noise_sd_n, len(t))
        shear_y = s.shear_ratio * clean_n * np.sin(direction) + rng.normal(0.0, s.noise_sd_n, len(t))
    angle = None
    if s.tool_angle_deg is not None:
        angle = s.tool_angle_deg + rng.normal(0.0, 1.0, len(t))
    recording = Recording.from_arrays(
        t,
        measured,
        time_unit="s",
        force_unit="N",
        shear_x=shear_x,
        shear_y=shear_y,
        tool_angle=angle,
        source=f"synthetic (seed {seed}): {s.describe()}",
    )
    return SyntheticRecording(recording=recording, noise_free_n=clean_n, truth=truth, spec=s, seed=seed)


@dataclass(frozen=True)
class StrokeMatch:
    """Detected strokes matched one-to-one to true ones (onset and offset both within the tolerance)."""

    pairs: tuple[tuple[int, int], ...]
    n_detected: int
    n_true: int

    @property
    def precision(self) -> float:
        """Matched detections / detections (1 when nothing was detected and nothing was there)."""
        return len(self.pairs) / self.n_detected if self.n_detected else float(self.n_true == 0)

    @property
    def recall(self) -> float:
        """Matched true strokes / true strokes."""
        return len(self.pairs) / self.n_true if self.n_true else float(self.n_detected == 0)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall: 2·matched / (detected + true)."""
        total = self.n_detected + self.n_true
        return 2 * len(self.pairs) / total if total else 1.0


def match_strokes(
    onset_s: _Array, offset_s: _Array, true_onset_s: _Array, true_offset_s: _Array, tolerance_s: float = 0.05
) -> StrokeMatch:
    """Match detected to true strokes in time order, each pair with onset and offset within `tolerance_s`."""
    pairs: list[tuple[int, int]] = []
    j = 0
    for i in range(len(onset_s)):
        while j < len(true_onset_s) and true_onset_s[j] < onset_s[i] - tolerance_s:
            j += 1
        if (
            j < len(true_onset_s)
            and abs(true_onset_s[j] - onset_s[i]) <= tolerance_s
            and abs(true_offset_s[j] - offset_s[i]) <= tolerance_s
        ):
            pairs.append((i, j))
            j += 1
    return StrokeMatch(pairs=tuple(pairs), n_detected=len(onset_s), n_true=len(true_onset_s))
