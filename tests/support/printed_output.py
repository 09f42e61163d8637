"""Compare a printed summary with what R printed: the same lines, in order, with numbers within tolerance.

Every non-empty line R printed must appear among ours, in the same order (ours may hold more lines, e.g.
a prediction interval metafor prints only from `predict`). Two lines match when they have the same words
and every number agrees within `places` units of the last decimal R printed (rounding of two results that
agree to 1e-6 can differ by one unit there) or within `rel` relative.
"""

from __future__ import annotations

import re

__all__ = ["assert_same_printout", "line_matches"]

_NUMBER = re.compile(r"^([^0-9.+-]*?)([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([^0-9]*)$")


def _token_matches(ours: str, theirs: str, places: float, rel: float) -> bool:
    if ours == theirs:
        return True
    a, b = _NUMBER.match(ours), _NUMBER.match(theirs)
    if not a or not b or a.group(1) != b.group(1) or a.group(3) != b.group(3):
        return False
    digits = len(b.group(2).split(".")[1]) if "." in b.group(2) else 0
    x, y = float(a.group(2)), float(b.group(2))
    return abs(x - y) <= places * 10.0**-digits + 1e-12 or abs(x - y) <= rel * abs(y)


def line_matches(ours: str, theirs: str, places: float = 1.01, rel: float = 0.0) -> bool:
    """The two lines have the same words and numbers that agree within tolerance."""
    a, b = ours.split(), theirs.split()
    return len(a) == len(b) and all(_token_matches(x, y, places, rel) for x, y in zip(a, b, strict=True))


def assert_same_printout(ours: str, theirs: list[str], places: float = 1.01, rel: float = 0.0) -> None:
    """Every non-empty line of `theirs` matches a line of `ours`, in order; the first miss is reported."""
    lines = ours.splitlines()
    at = 0
    for want in (t for t in theirs if t.strip()):
        for i in range(at, len(lines)):
            if line_matches(lines[i], want, places, rel):
                at = i + 1
                break
        else:
            raise AssertionError(f"R printed\n  {want!r}\nand no later line of ours matches; ours:\n{ours}")
