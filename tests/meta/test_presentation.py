"""Meta-analysis results in a notebook: tables, short reprs, HTML, real signatures, inline plots."""

from __future__ import annotations

import inspect
import pydoc

import matplotlib
import numpy as np
import pandas as pd
import pytest

import strigil.meta as meta
from strigil.meta import bias, cumulative, influence, permutation, trimfill
from strigil.meta.result import RMAResult

DIAGNOSTICS = {
    "leave1out": influence.leave1out, "influence": influence.influence, "baujat": influence.baujat,
    "cumul": cumulative.cumul, "regtest": bias.regtest, "ranktest": bias.ranktest,
    "trimfill": trimfill.trimfill, "permutest": permutation.permutest,
}


@pytest.fixture
def frame(bcg_counts: dict[str, list[int]]) -> pd.DataFrame:
    df = pd.DataFrame(bcg_counts)
    df["study"] = [f"Trial {i + 1}" for i in range(len(df))]
    return df


@pytest.mark.parametrize("name", sorted(DIAGNOSTICS))
def test_each_diagnostic_method_has_the_functions_parameters(name: str) -> None:
    method = inspect.signature(getattr(RMAResult, name))
    function = inspect.signature(DIAGNOSTICS[name])
    kinds = {p.kind for p in method.parameters.values()}
    assert not kinds & {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
    # the same parameters, with the same defaults, as the function it calls (the result is `self`)
    assert [(p.name, p.default) for p in list(method.parameters.values())[1:]] == [
        (p.name, p.default) for p in list(function.parameters.values())[1:]]
    text = pydoc.render_doc(getattr(RMAResult, name), renderer=pydoc.plaintext)
    assert "*args" not in text and "**kwargs" not in text
    for p in list(function.parameters)[1:]:
        assert f"{p}:" in text, f"help({name}) does not explain {p}"


def test_help_of_rma_shows_its_parameters() -> None:
    text = pydoc.render_doc(meta.rma, renderer=pydoc.plaintext)
    for p in ("yi", "vi", "mods", "method", "test", "data", "slab"):
        assert f"    {p}:" in text


def test_rma_takes_a_data_frame_and_a_formula(frame: pd.DataFrame) -> None:
    es = meta.escalc("RR", frame, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    data = frame.assign(yi=es.yi, vi=es.vi)
    by_name = meta.rma(data=data, yi="yi", vi="vi", mods="~ ablat", slab="study")
    by_value = meta.rma(es.yi, es.vi, mods={"ablat": list(frame["ablat"])})
    assert [c.name for c in by_name.beta] == ["intrcpt", "ablat"]
    assert by_name.beta[1].estimate == pytest.approx(by_value.beta[1].estimate, rel=1e-12)
    assert by_name.slab == tuple(frame["study"])


def test_rma_takes_the_escalc_result(frame: pd.DataFrame) -> None:
    es = meta.escalc("RR", frame, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    direct = meta.rma(es, mods="~ ablat", slab="study")
    by_value = meta.rma(es.yi, es.vi, mods=es.rows["ablat"])
    assert direct.beta[1].estimate == pytest.approx(by_value.beta[1].estimate, rel=1e-12)
    assert direct.slab == tuple(frame["study"])
    with pytest.raises(ValueError, match="comes with the escalc result"):
        meta.rma(es, es.vi)


def test_to_frame_tabulates_coefficients_studies_and_model(frame: pd.DataFrame) -> None:
    es = meta.escalc("RR", frame, ai="tpos", bi="tneg", ci="cpos", di="cneg")
    res = meta.rma(es, mods="~ ablat", slab="study")
    coef = res.to_frame()
    assert list(coef.index) == ["intrcpt", "ablat"]
    assert coef.loc["ablat", "estimate"] == res.beta[1].estimate
    assert coef.loc["ablat", "p"] == res.beta[1].p
    studies = res.to_frame("studies")
    assert list(studies.index) == list(frame["study"])
    np.testing.assert_allclose(studies["yi"], es.yi)
    assert studies["weight"].sum() == pytest.approx(100)
    model = res.to_frame("model")
    assert model.loc[0, "tau2"] == res.tau2 and model.loc[0, "QM"] == res.QM
    with pytest.raises(ValueError, match="not one of"):
        res.to_frame("everything")


def test_repr_is_short_and_names_the_model(bcg: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    yi, vi, _ = bcg
    res = meta.rma(yi, vi)
    assert repr(res) == "<RMAResult: Random-Effects Model (k = 13; tau^2 estimator: REML)>"
    html = res._repr_html_()
    assert html.startswith("<pre") and "Test for Heterogeneity" in html and "&lt;.0001" in html


def test_diagnostics_tabulate_and_print(bcg: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    yi, vi, _ = bcg
    res = meta.rma(yi, vi)
    l1o = res.leave1out()
    table = l1o.to_frame()
    assert len(table) == 13
    np.testing.assert_array_equal(table["estimate"], l1o.estimate)
    inf = res.influence()
    assert inf.to_frame()["inf"].tolist() == list(inf.inf)
    assert "Influential:" in str(inf.summary())
    assert f"{l1o.estimate[0]:.4f}" in str(l1o.summary())


def test_plots_display_inline_without_touching_pyplot(bcg: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    import matplotlib.pyplot as plt

    yi, vi, _ = bcg
    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    res = meta.rma(yi, vi)
    for plot in (res.forest(), res.funnel()):
        svg = plot._repr_svg_()
        assert svg.startswith("<svg") and "</svg>" in svg
        assert plot._repr_png_().startswith(b"\x89PNG")
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == before
