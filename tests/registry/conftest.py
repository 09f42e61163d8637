"""Shared helpers of the registry tests: the lme4 reference fixtures and their data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strigil.cli.registry import read_columns
from strigil.registry.design import Column

REFERENCE = Path(__file__).parent.parent / "reference" / "lme4"


def load_fixture(name: str) -> dict[str, Any]:
    """One lme4 reference fit (written by tests/reference/lme4/make_fixtures.R)."""
    with open(REFERENCE / name) as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def load_data(csv_name: str) -> dict[str, Column]:
    """The rows lme4 fitted."""
    return read_columns(REFERENCE / csv_name)


@pytest.fixture(scope="session")
def registry_t() -> dict[str, Column]:
    """The generated registry with t noise (also fitted by lme4)."""
    return load_data("registry_t.csv")

