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
    "Coefficient": "a row of RMAResult/GLMMResult",
    "Subgroup": "a row of RMAResult",
    "ForestRow": "a row of ForestPlot",
    "RevManRow": "a row of RevManForest",
    "CoxTerm": "a row of CoxModel",
    "PooledCoefficient": "a row of PooledResult",
    "GroupEffects": "one group of RandomEffects",
    "ClinicDose": "a row of the registry report",
    "DoseCurve": "the data of a dose-response plot",
    "Tau2Estimate": "an estimator's internal answer, shown through RMAResult",
    # inputs, designs and machinery
    "TwoByTwo": "input tables",
    "PersonTime": "input tables",
    "Proportions": "input",
    "Rates": "input",
    "Design": "a formula's design matrix",
    "Crossproducts": "solver sums",
    "DeviancePieces": "solver sums",
    "Coded": "a coded column",
    "FixedDesign": "a design matrix",
    "RandomTerm": "a parsed term",
    "GrowthDesign": "a design matrix",
    "GrowthModelSpec": "a request's input",
    "ImprovementSpec": "input",
    "PreparedClinic": "a clinic's private rows",
    "SimpleFormula": "a parsed formula",
    "Optimum": "optimiser",
    "Mcid": "an input threshold",
    "RegistryTruth": "the input of the generator",
    "SyntheticRegistry": "a data set (to_frame gives the table)",
    "RegistryReport": "the HTML report's input",
}


def _public_dataclasses() -> dict[str, type]:
    found: dict[str, type] = {}
    for package in (strigil.meta, strigil.registry):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name in getattr(module, "__all__", []):
                obj = getattr(module, name)
                if (
                    isinstance(obj, type)
                    and dataclasses.is_dataclass(obj)
                    and obj.__module__ == module.__name__
                ):
                    found[name] = obj
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
    "RMAResult": _rma,
    "Prediction": lambda: _rma().predict(),
    "Tau2Interval": lambda: _rma().confint(),
    "StudySequence": lambda: _rma().leave1out(),
    "Influence": lambda: _rma().influence(),
    "Baujat": lambda: _rma().baujat(),
    "RegTest": lambda: _rma().regtest(),
    "RankTest": lambda: _rma().ranktest(),
    "TrimFill": lambda: _rma().trimfill(),
    "PermutationTest": lambda: _rma().permutest(iter=50, seed=1),
    "Residuals": lambda: __import__("strigil.meta.residuals", fromlist=["rstandard"]).rstandard(_rma()),
    "Gosh": lambda: __import__("strigil.meta.gosh", fromlist=["gosh"]).gosh(_rma().refit(np.arange(6))),
    "TablesResult": lambda: strigil.meta.rma_mh(**BCG),
    "GLMMResult": lambda: strigil.meta.rma_glmm(**{k: v[:6] for k, v in BCG.items()}),
    "BatchResult": lambda: strigil.meta.rma_batch(
        np.random.default_rng(1).normal(size=(8, 5)), np.full((8, 5), 0.1)
    ),
    "MHBatch": lambda: strigil.meta.rma_mh_batch(
        **{k: np.array(v)[:, None].repeat(3, axis=1) for k, v in BCG.items()}
    ),
    "EffectSizes": lambda: strigil.meta.escalc("RR", BCG),
    "MixedModelFit": _lmer,
    "RandomEffects": lambda: _lmer().ranef(),
    "Intervals": lambda: _lmer().confint(),
    "LikelihoodRatioTests": lambda: _lmer().anova(
        __import__("strigil.registry.lmer", fromlist=["lmer"]).lmer(
            "pain ~ session + (1 + session | patient)", _registry()
        )
    ),
    "CoxModel": lambda: __import__("strigil.registry", fromlist=["cox_model"]).cox_model(
        _improvement(), ["minutes"]
    ),
    "ImprovementCurve": lambda: __import__("strigil.registry", fromlist=["kaplan_meier"]).kaplan_meier(
        _improvement()
    )[0],
    "ImprovementTable": _improvement,
    "PooledResult": _pooled_result,
    "ExactGrowthFit": _exact_growth,
    "ExactCoxFit": _exact_cox,
    "PooledCurve": _pooled_curve,
}


def test_every_public_dataclass_is_a_result_a_plot_or_named_as_neither() -> None:
    assert set(NOT_RESULTS) <= set(CLASSES), sorted(set(NOT_RESULTS) - set(CLASSES))
    assert set(BUILD) == set(RESULTS), (
        f"results without an instance here: {sorted(set(RESULTS) - set(BUILD))}"
    )
    assert len(RESULTS) >= 28 and len(PLOTS) >= 7


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
    assert short.startswith(f"<{name}: ") and len(short) < 200 and "array(" not in short


@pytest.mark.parametrize("name", PLOTS)
def test_plot_displays_itself(name: str) -> None:
    cls = CLASSES[name]
    assert callable(getattr(cls, "_repr_svg_", None)) and callable(getattr(cls, "_repr_png_", None))


@pytest.mark.parametrize("name", PLOTS)
def test_plot_repr_is_short(name: str) -> None:
    # the short repr of InlineFigure, not the dataclass's repr of every row and array
    assert CLASSES[name].__repr__.__qualname__ == "InlineFigure.__repr__"
