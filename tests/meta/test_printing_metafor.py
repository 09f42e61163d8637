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

from strigil.meta import rma, rma_glmm, rma_mh, rma_mv, rma_peto

FIXTURE = json.loads((Path(__file__).parents[1] / "reference/metafor/printed.json").read_text())
DATA = FIXTURE["data"]
CASES = {c["id"]: c for c in FIXTURE["cases"]}


def _fit(**options: Any) -> Any:
    return rma(DATA["yi"], DATA["vi"], slab=DATA["slab"], **options)


def _mods(*names: str) -> dict[str, list[float]]:
    return {n: DATA[n] for n in names}


def _tables() -> dict[str, Any]:
    return {n: np.array(DATA[n]) for n in ("ai", "bi", "ci", "di")}


def _schools(method: str = "REML", year: bool = False) -> Any:
    kon = DATA["konstantopoulos"]
    return rma_mv(kon["yi"], kon["vi"], mods={"year": kon["year"]} if year else None,
                  random="~ 1 | district/school", data={"district": kon["district"], "school": kon["school"]},
                  method=method)


def _berkey() -> Any:
    bk = DATA["berkey"]
    k = len(bk["yi"])
    V = np.zeros((k, k))
    trials = np.array(bk["trial"])
    for t in np.unique(trials):
        rows = np.flatnonzero(trials == t)
        V[np.ix_(rows, rows)] = np.column_stack([np.array(bk["v1i"])[rows], np.array(bk["v2i"])[rows]])
    outcome = np.array(bk["outcome"])
    X = np.column_stack([outcome == "AL", outcome == "PD"]).astype(float)
    return rma_mv(bk["yi"], V, mods=X, mod_names=["outcomeAL", "outcomePD"], intercept=False,
                  random="~ outcome | trial", struct="UN",
                  data={"outcome": list(outcome), "trial": bk["trial"]})


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
    "summary/rma/REML": lambda: _fit(),
    "fitstats/rma/REML": lambda: _fit().fitstats(),
    "mv/multilevel": lambda: _schools(),
    "mv/multilevel/year": lambda: _schools(year=True),
    "mv/anova/wald": lambda: _schools(year=True).anova(btt=["year"]),
    "mv/anova/lrt": lambda: _schools("ML", year=True).anova(_schools("ML")),
    "mv/robust": lambda: _schools().robust(DATA["konstantopoulos"]["district"]),
    "mv/multivariate/UN": _berkey,
}


def test_every_printed_case_is_checked() -> None:
    assert set(BUILD) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_summary_prints_what_metafor_prints(case: str) -> None:
    result = BUILD[case]()
    # lme4's standard errors of a GLMM come from a numerically differenced Hessian, good to about 1e-2
    # (tests/reference/metafor/README.md); every other number to the last printed decimal
    # rma.mv: the printout was made with metafor's default convergence settings (nlminb, rel.tol 1e-10), which
    # leave its numbers about 1e-5 relative from the optimum (QM 108.8607 against 108.8616 here)
    rel = 1e-2 if case.startswith("glmm") else 2e-5 if case.startswith("mv/") else 0.0
    assert_same_printout(str(result.summary()), CASES[case]["lines"], rel=rel)


def test_a_wrong_number_fails_the_comparison() -> None:
    # the comparison can fail: one unit off in the second decimal is caught, the fourth is tolerated
    assert line_matches("Q(df = 12) = 152.2331, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    assert not line_matches("Q(df = 12) = 152.2430, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    assert not line_matches("QE(df = 12) = 152.2330, p-val < .0001", "Q(df = 12) = 152.2330, p-val < .0001")
    with pytest.raises(AssertionError):
        assert_same_printout(str(_fit(method="DL").summary()), CASES["rma/REML"]["lines"])
