"""Every public result of the meta-analysis and registry packages presents itself in a notebook.

The public dataclasses of `strigil.meta` and `strigil.registry` are enumerated: each is a result (with
`summary()`, `to_frame()`, an HTML repr and a short repr, all checked on a real instance built below), a plot
(inline as SVG and PNG), or a part or input named in `NOT_RESULTS` with the reason. A new public dataclass
that is none of these fails the enumeration.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import strigil.meta
import strigil.registry
from strigil.display import Presentable, Summary

NOT_RESULTS = {
    # parts of a result, shown by the result they belong to
    "meta.Coefficient": "a row of RMAResult/GLMMResult",
    "meta.Subgroup": "a row of RMAResult",
    "meta.ForestRow": "a row of ForestPlot",
    "meta.RevManRow": "a row of RevManForest",
    "registry.CoxTerm": "a row of CoxModel",
    "registry.PooledCoefficient": "a row of PooledResult",
    "registry.GroupEffects": "one group of RandomEffects",
    "registry.ClinicDose": "a row of the registry report",
    "registry.DoseCurve": "the data of a dose-response plot",
    "meta.Tau2Estimate": "an estimator's internal answer, shown through RMAResult",
    "meta.VarianceComponent": "a row of RMAMVResult",
    # the multilevel engine's inputs and machinery
    "meta.BlockCovariance": "an input (sampling covariance)",
    "meta.BlockGroup": "engine",
    "meta.BlockLayout": "engine",
    "meta.CovarianceStructure": "engine",
    "meta.Evaluation": "engine",
    "meta.Factor": "a grouping column",
    "meta.InnerOuter": "a parsed term",
    "meta.MarginalModel": "engine",
    "meta.Maximum": "optimiser",
    "meta.RandomSpec": "parsed terms",
    "meta.Setup": "engine",
    # inputs, designs and machinery
    "meta.TwoByTwo": "input tables",
    "meta.PersonTime": "input tables",
    "meta.Proportions": "input",
    "meta.Rates": "input",
    "meta.Design": "a formula's design matrix",
    "registry.Crossproducts": "solver sums",
    "registry.DeviancePieces": "solver sums",
    "registry.Coded": "a coded column",
    "registry.FixedDesign": "a design matrix",
    "registry.RandomTerm": "a parsed term",
    "registry.GrowthDesign": "a design matrix",
    "registry.GrowthModelSpec": "a request's input",
    "registry.ImprovementSpec": "input",
    "registry.PreparedClinic": "a clinic's private rows",
    "registry.SimpleFormula": "a parsed formula",
    "registry.Optimum": "optimiser",
    "registry.Mcid": "an input threshold",
    "registry.RegistryTruth": "the input of the generator",
    "registry.SyntheticRegistry": "a data set (to_frame gives the table)",
    "registry.RegistryReport": "the HTML report's input",
}


def _public_dataclasses() -> dict[str, type]:
    """Every public dataclass, keyed "meta.Name" or "registry.Name" (both packages have a RandomEffects)."""
    found: dict[str, type] = {}
    for package in (strigil.meta, strigil.registry):
        short = package.__name__.split(".")[-1]
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name in getattr(module, "__all__", []):
                obj = getattr(module, name)
                if (
                    isinstance(obj, type)
                    and dataclasses.is_dataclass(obj)
                    and obj.__module__ == module.__name__
                ):
                    found[f"{short}.{name}"] = obj
    return found


CLASSES = _public_dataclasses()
PLOTS = sorted(n for n, c in CLASSES.items() if "figure" in {f.name for f in dataclasses.fields(c)})
RESULTS = sorted(set(CLASSES) - set(PLOTS) - set(NOT_RESULTS))


# ---- one real instance of every result ------------------------------------------------------------------

BCG = {
    "ai": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "bi": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    "ci": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "di": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
}


# schools within districts (Konstantopoulos 2011, as shipped with metafor), the first 4 districts
SCHOOLS = {
    "yi": [
        -0.18,
        -0.22,
        0.23,
        -0.3,
        0.13,
        -0.26,
        0.19,
        0.32,
        0.45,
        0.38,
        0.29,
        0.38,
        -0.16,
        0.65,
        0.36,
        0.6,
        -0.02,
        0.33,
        0.58,
    ],
    "vi": [
        0.118,
        0.118,
        0.144,
        0.144,
        0.014,
        0.014,
        0.015,
        0.024,
        0.023,
        0.043,
        0.012,
        0.020,
        0.004,
        0.013,
        0.011,
        0.011,
        0.011,
        0.010,
        0.007,
    ],
    "district": [11] * 4 + [12] * 4 + [18] * 3 + [27] * 8,
    "school": [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8],
    "year": [
        1976,
        1976,
        1976,
        1976,
        1989,
        1989,
        1989,
        1989,
        1994,
        1994,
        1994,
        1976,
        1976,
        1976,
        1976,
        1976,
        1976,
        1976,
        1976,
    ],
}


def _schools(method: str = "REML", year: bool = False) -> Any:
    return strigil.meta.rma_mv(
        SCHOOLS["yi"],
        SCHOOLS["vi"],
        mods={"year": SCHOOLS["year"]} if year else None,
        random="~ 1 | district/school",
        method=method,
        data={"district": SCHOOLS["district"], "school": SCHOOLS["school"]},
    )


def _rma() -> Any:
    es = strigil.meta.escalc("RR", BCG)
    return strigil.meta.rma(es, slab=[f"Trial {i + 1}" for i in range(13)])


def _registry() -> Any:
    from strigil.registry.generator import RegistryTruth, generate_registry

    return generate_registry(RegistryTruth(n_clinics=3, patients_per_clinic=15), seed=3).to_frame()


def _lmer() -> Any:
    from strigil.registry.lmer import lmer

    return lmer("pain ~ session + phase + (1 + session | patient)", _registry())


def _improvement() -> Any:
    from strigil.registry.time_to_improvement import Mcid, sessions_to_improvement

    data = _registry()
    columns = {c: data[c].to_numpy() for c in data.columns}
    return sessions_to_improvement(
        columns, outcome="pain", mcid=Mcid(2.0, True, "a test bar"), covariates=["minutes"]
    )


def _exact_cox() -> Any:
    from strigil.registry.exact_survival import ExactCoxFit

    return ExactCoxFit(
        names=("minutes",),
        beta=np.array([0.2]),
        vcov=np.array([[0.01]]),
        loglik=-50.0,
        sites=("north", "south"),
        excluded={"east": "fewer than 5 patients"},
        n_patients=40,
        n_events=25,
        rounds=4,
        converged=True,
    )


def _pooled_curve() -> Any:
    from strigil.registry.exact_survival import PooledCurve

    return PooledCurve(
        times=np.array([0.0, 2.0]),
        improved=np.array([0.2, 0.5]),
        lower=np.array([0.1, 0.3]),
        upper=np.array([0.3, 0.7]),
        band_starts=np.array([0.0, 2.0]),
        at_risk=np.array([40, 30]),
        events=np.array([8, 9]),
        sites=("north", "south"),
        excluded={},
        coarsened=False,
        note="",
    )


def _pooled_result() -> Any:
    from strigil.registry.federated import PooledCoefficient, PooledResult

    return PooledResult(
        coefficients=(PooledCoefficient("session", -0.3, 0.05, -0.4, -0.2, 0.001, 3),),
        common_names=("session",),
        common_estimate=np.array([-0.3]),
        common_covariance=np.array([[0.0025]]),
        sites=("a", "b", "c"),
        n_obs=300,
        n_patients=60,
    )


def _exact_growth() -> Any:
    from strigil.registry.exact_growth import ExactGrowthFit

    return ExactGrowthFit(fit=_lmer(), sites=("north", "south"), excluded={}, rounds=5, n_messages=20)


BUILD: dict[str, Callable[[], Any]] = {
    "meta.RMAResult": _rma,
    "meta.Prediction": lambda: _rma().predict(),
    "meta.Tau2Interval": lambda: _rma().confint(),
    "meta.StudySequence": lambda: _rma().leave1out(),
    "meta.Influence": lambda: _rma().influence(),
    "meta.Baujat": lambda: _rma().baujat(),
    "meta.RegTest": lambda: _rma().regtest(),
    "meta.RankTest": lambda: _rma().ranktest(),
    "meta.TrimFill": lambda: _rma().trimfill(),
    "meta.PermutationTest": lambda: _rma().permutest(iter=50, seed=1),
    "meta.Residuals": lambda: __import__("strigil.meta.residuals", fromlist=["rstandard"]).rstandard(
        _rma()
    ),
    "meta.Gosh": lambda: __import__("strigil.meta.gosh", fromlist=["gosh"]).gosh(
        _rma().refit(np.arange(6))
    ),
    "meta.TablesResult": lambda: strigil.meta.rma_mh(**BCG),
    "meta.GLMMResult": lambda: strigil.meta.rma_glmm(**{k: v[:6] for k, v in BCG.items()}),
    "meta.BatchResult": lambda: strigil.meta.rma_batch(
        np.random.default_rng(1).normal(size=(8, 5)), np.full((8, 5), 0.1)
    ),
    "meta.MHBatch": lambda: strigil.meta.rma_mh_batch(
        **{k: np.array(v)[:, None].repeat(3, axis=1) for k, v in BCG.items()}
    ),
    "meta.EffectSizes": lambda: strigil.meta.escalc("RR", BCG),
    "meta.RMAMVResult": _schools,
    "meta.FitStatistics": lambda: _rma().fitstats(),
    "meta.WaldTest": lambda: _schools(year=True).anova(btt=["year"]),
    "meta.LikelihoodRatioTest": lambda: _schools("ML", year=True).anova(_schools("ML")),
    "meta.RobustResult": lambda: _schools().robust(SCHOOLS["district"]),
    "meta.RobustWald": lambda: _schools(year=True).robust(SCHOOLS["district"]).QM,
    "meta.RandomEffects": lambda: _rma().blup(),
    "meta.ComponentInterval": lambda: _schools().confint()[0],
    "registry.MixedModelFit": _lmer,
    "registry.RandomEffects": lambda: _lmer().ranef(),
    "registry.Intervals": lambda: _lmer().confint(),
    "registry.LikelihoodRatioTests": lambda: _lmer().anova(
        __import__("strigil.registry.lmer", fromlist=["lmer"]).lmer(
            "pain ~ session + (1 + session | patient)", _registry()
        )
    ),
    "registry.CoxModel": lambda: __import__("strigil.registry", fromlist=["cox_model"]).cox_model(
        _improvement(), ["minutes"]
    ),
    "registry.ImprovementCurve": lambda: __import__(
        "strigil.registry", fromlist=["kaplan_meier"]
    ).kaplan_meier(_improvement())[0],
    "registry.ImprovementTable": _improvement,
    "registry.PooledResult": _pooled_result,
    "registry.ExactGrowthFit": _exact_growth,
    "registry.ExactCoxFit": _exact_cox,
    "registry.PooledCurve": _pooled_curve,
}


def test_every_public_dataclass_is_a_result_a_plot_or_named_as_neither() -> None:
    assert set(NOT_RESULTS) <= set(CLASSES), sorted(set(NOT_RESULTS) - set(CLASSES))
    assert set(BUILD) == set(RESULTS), (
        f"results without an instance here: {sorted(set(RESULTS) - set(BUILD))}"
    )
    assert len(RESULTS) >= 36 and len(PLOTS) >= 7


@pytest.mark.parametrize("name", RESULTS)
def test_result_has_summary_table_and_html(name: str) -> None:
    cls = CLASSES[name]
    assert issubclass(cls, Presentable)
    for method in ("summary", "to_frame"):
        assert getattr(cls, method) is not getattr(Presentable, method), (
            f"{name}.{method} is not implemented"
        )
    result = BUILD[name]()
    assert type(result) is cls
    summary = result.summary()
    assert isinstance(summary, Summary) and len(summary.text.splitlines()) >= 2
    table = result.to_frame()
    assert isinstance(table, pd.DataFrame) and table.shape[0] >= 1 and table.shape[1] >= 1
    html = result._repr_html_()
    assert html.startswith("<pre") and summary.title.split()[0] in html
    short = repr(result)
    # the short repr of Presentable ("<Name: title>") or the result's own one-line repr
    bare = name.split(".")[1]
    assert short.startswith((f"<{bare}: ", f"{bare}(")) and "\n" not in short
    assert len(short) < 250 and "array(" not in short
    # print(result) shows the whole report with its numbers, not the one-line repr
    assert str(result) == summary.text


@pytest.mark.parametrize("name", PLOTS)
def test_plot_displays_itself(name: str) -> None:
    cls = CLASSES[name]
    assert callable(getattr(cls, "_repr_svg_", None)) and callable(getattr(cls, "_repr_png_", None))


@pytest.mark.parametrize("name", PLOTS)
def test_plot_repr_is_short(name: str) -> None:
    # the short repr of InlineFigure, not the dataclass's repr of every row and array
    assert CLASSES[name].__repr__.__qualname__ == "InlineFigure.__repr__"
