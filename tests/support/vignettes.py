"""Load the vignette suite (vignettes.toml) for the tests; TOML has no null, so "null" stands for it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1] / "clinical"


def _nulls(value: Any) -> Any:
    if value == "null":
        return None
    if isinstance(value, dict):
        return {k: _nulls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nulls(v) for v in value]
    return value


def load(kind: str | None = None) -> list[dict[str, Any]]:
    """All vignettes, or those of one kind, with "null" turned into None."""
    with (HERE / "vignettes.toml").open("rb") as fh:
        items = [_nulls(v) for v in tomllib.load(fh)["vignette"]]
    return [v for v in items if kind is None or v["kind"] == kind]
