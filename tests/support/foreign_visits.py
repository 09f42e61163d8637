"""Another EMR's visits as it would send them: the hand-written elbow visit of tests/interop/bundles, and
copies of it for other patients of the same system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BUNDLES = Path(__file__).parents[1] / "interop" / "bundles"


def elbow_visit() -> dict[str, Any]:
    """The elbow visit: Patient (MRN-55031), Condition, Encounter, an NPRS Observation and a Procedure."""
    return json.loads((BUNDLES / "other_ehr_elbow_visit.json").read_text(encoding="utf-8"))


def another_visit(visit: dict[str, Any], n: int) -> dict[str, Any]:
    """Another patient's visit from the same system: every id and identifier of `visit` numbered `n`."""
    text = json.dumps(visit)
    for old, new in [
        ("P-0002", f"P-{1000 + n}"),
        ("MRN-55031", f"MRN-{55100 + n}"),
        ("dx-elbow", f"dx-elbow-{n}"),
        ("visit-7", f"visit-{100 + n}"),
        ("pain-77", f"pain-{100 + n}"),
        ('"value": "77"', f'"value": "{100 + n}"'),
        ("proc-7", f"proc-{100 + n}"),
    ]:
        text = text.replace(old, new)
    return json.loads(text)
