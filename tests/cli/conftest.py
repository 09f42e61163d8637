"""CLI fixtures (helpers live in record_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from record_cli import Clinic, make_clinic


@pytest.fixture
def clinic(tmp_path: Path) -> Clinic:
    return make_clinic(tmp_path)
