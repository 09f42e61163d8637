"""Stroke segmentation of a cleaned normal-force signal: hysteresis, gap merging, splitting, edges.

1. Hysteresis: a stroke is a run of samples above `offset_n` that somewhere exceeds `onset_n` (a Schmitt
   trigger), so noise near one threshold does not chop a stroke into pieces. The stroke begins and ends
   where the force crosses `offset_n` (the contact level), timed by a straight line between the two samples
   around the crossing, as contact is timed on force plates by a force threshold.
2. Runs separated by less than `merge_gap_s` below `offset_n` are one stroke (a brief loss of contact).
3. Strokes that follow each other without a return to rest (two-handed work) are split at a force minimum
   that is at most `split_valley_ratio` of the lower neighbouring peak; deeper valleys are split first, so
   every accepted split still satisfies the rule after the others.
4. Strokes shorter than `min_duration_s` are dropped; a stroke cut by the start or end is marked.

Everything is vectorised over the samples; only the (few) candidate split points are visited one by one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from strigil.force.settings import ForceSettings

__all__ = ["Segments", "hysteresis_runs", "reduce_spans", "segment_strokes", "valley_time"]

_Array = NDArray[np.float64]
_Index = NDArray[np.int64]


@dataclass(frozen=True)
class Segments:
    """Stroke boundaries: stroke i spans onset_s[i] … offset_s[i] and holds samples onset[i] … offset[i].

    Times lie between samples where the force crossed the resting level (linear interpolation); the
    force there is `onset_value_n` / `offset_value_n`. `joined` marks a stroke whose onset is a split point
    (the force did not return to rest before it);
    `truncated` marks a stroke cut by the start or the end of the recording.
    """

    onset: _Index
    offset: _Index
    onset_s: _Array
    offset_s: _Array
    onset_value_n: _Array
    offset_value_n: _Array
    joined: NDArray[np.bool_]
    truncated: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.onset)


def reduce_spans(ufunc: np.ufunc, x: _Array, starts: _Index, ends: _Index) -> _Array:
    """`ufunc` reduced over each [start, end) of `x` in one vectorised call (sorted, disjoint spans)."""
    if len(starts) == 0:
        return np.zeros(0)
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    # reduceat reduces between consecutive indices; the odd (gap) entries are discarded. An end at the
    # array's length is not a valid index, and is not needed: the last span then runs to the end.
    if ends[-1] == len(x):
        bounds = bounds[:-1]
    return np.asarray(ufunc.reduceat(x, bounds)[0::2], dtype=np.float64)


def hysteresis_runs(x: _Array, onset: float, offset: float) -> tuple[_Index, _Index]:
    """Runs of `x` above `offset` that reach above `onset`, as (starts, ends) with ends exclusive."""
    above = np.empty(len(x) + 2, dtype=np.int8)
    above[0] = above[-1] = 0
    np.greater(x, offset, out=above[1:-1])
    change = np.diff(above)
    starts = np.flatnonzero(change == 1)
    ends = np.flatnonzero(change == -1)
    if len(starts) == 0:
        return starts, ends
    peak = reduce_spans(np.maximum, x, starts, ends)
    keep = peak > onset
    return starts[keep], ends[keep]


def _merge_gaps(starts: _Index, ends: _Index, max_gap: int) -> tuple[_Index, _Index]:
    if len(starts) < 2:
        return starts, ends
    new_group = np.concatenate([[True], (starts[1:] - ends[:-1]) >= max_gap])
    first = np.flatnonzero(new_group)
    last = np.concatenate([first[1:], [len(starts)]]) - 1
    return starts[first], ends[last]


def _split_points(
    x: _Array, starts: _Index, ends: _Index, settings: ForceSettings, min_len: int
) -> list[list[int]]:
    """Split points of each segment, deepest valley first (so earlier splits stay valid as parts shrink)."""
    ratio = settings.split_valley_ratio
    cuts: list[list[int]] = [[] for _ in range(len(starts))]
    if ratio <= 0 or len(starts) == 0:
        return cuts
    # Candidates: local minima above the contact level and below `ratio` of their segment's peak (a
    # necessary condition; the exact rule below uses the peaks of the parts that other splits leave).
    inner = np.zeros(len(x), dtype=bool)
    inner[1:-1] = (x[1:-1] < x[:-2]) & (x[1:-1] <= x[2:]) & (x[1:-1] > settings.offset_n)
    candidates = np.flatnonzero(inner)
    segment_of = np.searchsorted(starts, candidates, side="right") - 1
    inside = (segment_of >= 0) & (candidates < ends[np.maximum(segment_of, 0)])
    candidates, segment_of = candidates[inside], segment_of[inside]
    peak = reduce_spans(np.maximum, x, starts, ends)
    deep = x[candidates] <= ratio * peak[segment_of]
    candidates, segment_of = candidates[deep], segment_of[deep]
    for j in np.argsort(x[candidates], kind="stable"):
        i, k = int(candidates[j]), int(segment_of[j])
        bounds = cuts[k]
        pos = bisect.bisect_left(bounds, i)
        a = bounds[pos - 1] + 1 if pos > 0 else int(starts[k])
        b = bounds[pos] + 1 if pos < len(bounds) else int(ends[k])
        if i + 1 - a < min_len or b - (i + 1) < min_len:
            continue
        if x[i] <= ratio * min(float(x[a : i + 1].max()), float(x[i + 1 : b].max())):
            bounds.insert(pos, i)
    return cuts


@dataclass(frozen=True)
class _Edges:
    onset_s: _Array
    offset_s: _Array
    onset_value: _Array
    offset_value: _Array


def _edges(x: _Array, t: _Array, starts: _Index, ends: _Index, level: float) -> _Edges:
    """Times where the force crosses `level` at each run's start and end (straight line between samples)."""
    n = len(x)
    onset_s, onset_value = t[starts].copy(), x[starts].copy()
    offset_s, offset_value = t[ends - 1].copy(), x[ends - 1].copy()
    inner = starts > 0
    a, b = starts[inner] - 1, starts[inner]
    onset_s[inner] = t[a] + (t[b] - t[a]) * (level - x[a]) / (x[b] - x[a])
    onset_value[inner] = level
    inner = ends < n
    a, b = ends[inner] - 1, ends[inner]
    offset_s[inner] = t[a] + (t[b] - t[a]) * (x[a] - level) / (x[a] - x[b])
    offset_value[inner] = level
    return _Edges(onset_s, offset_s, onset_value, offset_value)


def valley_time(t: _Array, x: _Array, m: _Index) -> tuple[_Array, _Array, _Index]:
    """Where joined strokes part: the vertex of the parabola through the lowest sample m and its neighbours.

    Returns the time, the force there on the straight line between samples (so that the impulses of the
    two strokes add up to the whole), and the last sample before that time.
    """
    prev, nxt = x[m - 1], x[m + 1]
    curvature = prev - 2.0 * x[m] + nxt
    shift = np.where(curvature > 0, 0.5 * (prev - nxt) / np.where(curvature > 0, curvature, 1.0), 0.0)
    shift = np.clip(shift, -0.5, 0.5)
    step = t[m + 1] - t[m]
    when = t[m] + shift * step
    left_last = np.where(shift >= 0, m, m - 1)
    frac = np.where(shift >= 0, shift, 1.0 + shift)
    value = x[left_last] + frac * (x[left_last + 1] - x[left_last])
    return when, value, left_last.astype(np.int64)


def segment_strokes(t: _Array, x: _Array, settings: ForceSettings) -> Segments:
    """Find the strokes in a cleaned normal-force signal `x` (N) on the regular time grid `t` (s)."""
    sampling_hz = (len(t) - 1) / float(t[-1] - t[0])
    starts, ends = hysteresis_runs(x, settings.onset_n, settings.offset_n)
    starts, ends = _merge_gaps(starts, ends, max(1, round(settings.merge_gap_s * sampling_hz)))
    min_len = max(1, round(settings.min_duration_s * sampling_hz))
    cuts = _split_points(x, starts, ends, settings, min_len)
    edges = _edges(x, t, starts, ends, settings.offset_n)
    counts = np.array([len(c) + 1 for c in cuts], dtype=np.int64)
    flat_cuts = np.array([i for c in cuts for i in c], dtype=np.int64)
    total = int(counts.sum())
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    onset = np.empty(total, dtype=np.int64)
    offset = np.empty(total, dtype=np.int64)
    onset_s = np.empty(total)
    offset_s = np.empty(total)
    onset_value = np.empty(total)
    offset_value = np.empty(total)
    onset[first], onset_s[first], onset_value[first] = starts, edges.onset_s, edges.onset_value
    offset[last], offset_s[last], offset_value[last] = ends - 1, edges.offset_s, edges.offset_value
    joined = np.ones(total, dtype=bool)
    joined[first] = False
    if len(flat_cuts):
        # A split ends the left stroke and starts the right one at the same instant.
        inner_end = np.ones(total, dtype=bool)
        inner_end[last] = False
        when, value, left_last = valley_time(t, x, flat_cuts)
        offset[inner_end], offset_s[inner_end], offset_value[inner_end] = left_last, when, value
        onset[joined], onset_s[joined], onset_value[joined] = left_last + 1, when, value
    n = len(x)
    truncated = ((onset == 0) & (x[0] > settings.offset_n)) | (
        (offset == n - 1) & (x[-1] > settings.offset_n)
    )
    keep = (offset_s - onset_s) >= settings.min_duration_s
    return Segments(
        onset=onset[keep],
        offset=offset[keep],
        onset_s=onset_s[keep],
        offset_s=offset_s[keep],
        onset_value_n=onset_value[keep],
        offset_value_n=offset_value[keep],
        joined=joined[keep],
        truncated=truncated[keep],
    )
