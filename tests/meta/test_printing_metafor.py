"""Printed summaries against metafor's own console output (tests/reference/metafor/printed.json).

Each case refits metafor's model with strigil and checks that every line metafor printed appears in the
summary, in order, with the same words and numbers equal to the last printed decimal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from printed_output import assert_same_printout, line_matches

from strigil.meta import rma, rma_glmm, rma_mh, rma_peto

FIXTURE = json.loads((Path(__file__).parents[1] / "reference/metafor/printed.json").read_text())
DATA = FIXTURE["data"]
CASES = {c["id"]: c for c in FIXTURE["cases"]}


def _fit(**options: Any) -> Any:
    return rma(DATA["yi"], DATA["vi"], slab=DATA["slab"], **options)


def _mods(*names: str) -> dict[str, list[float]]:
    return {n: DATA[n] for n in names}


def _tables() -> dict[str, Any]:
    return {n: np.array(DATA[n]) for n in ("ai", "bi", "ci", "di")}


BUILD: dict[str, Callable[[], Any]] = {
    "rma/REML": lambda: _fit(),
    "rma/DL/t": lambda: _fit(method="DL", test="t"),
    "rma/FE": lambda: _fit(method="FE"),
    "rma/EE": lambda: _fit(method="EE"),
    "rma/ML/mods": lambda: _fit(mods=_mods("ablat"), method="ML"),
    "rma/REML/mods/knha": lambda: _fit(mods=_mods("ablat", "year"), test="knha"),
    "rma/FE/mods": lambda: _fit(mods=_mods("ablat"), method="FE"),
    "regtest": lambda: _fit().regtest(),
    "ranktest": lambda: _fit().ranktest(),
    "trimfill": lambda: _fit().trimfill(),
    "mh/OR": lambda: rma_mh(**_tables()),
    "mh/RR": lambda: rma_mh(**_tables(), measure="RR"),
    "mh/RD": lambda: rma_mh(**_tables(), measure="RD"),
    "peto": lambda: rma_peto(**_tables()),
    "glmm/OR": lambda: rma_glmm(**_tables(), measure="OR"),
}


def test_every_printed_case_is_checked() -> None:
    assert set(BUILD) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_prints_what_metafor_prints(case: str) -> None:
    result = BUILD[case]()
    # lme4's standard errors of a GLMM come from a numerically differenced Hessian, good to about 1e-2
    # (tests/reference/metafor/README.md); every other number to the last printed decimal
    rel = 1e-2 if case.startswith("glmm") else 0.0
    assert_same_printout(str(result.summary()), CASES[case]["lines"], rel=rel)


def test_a_wrong_number_fails_the_comparison() -> None:
    # the comparison can fail: one unit off in the second decimal is caught, the fourth is tolerated
    assert line_matches("Q(df = 12) = 152.2331, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    assert not line_matches("Q(df = 12) = 152.2430, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    assert not line_matches("QE(df = 12) = 152.2330, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    with pytest.raises(AssertionError):
        assert_same_printout(str(_fit(method="DL").summary()), CASES["rma/REML"]["lines"])
