"""The fitted model offers every diagnostic and plot as a method (metafor's vocabulary)."""

from __future__ import annotations

import numpy as np
from metafor_reference import dataset, numbers

from strigil.meta import rma
from strigil.meta.bias import RankTest, RegTest
from strigil.meta.influence import Baujat, Influence, StudySequence
from strigil.meta.permutation import PermutationTest
from strigil.meta.plots import ForestPlot, FunnelPlot
from strigil.meta.trimfill import TrimFill


def test_result_methods_delegate_to_the_diagnostics():
    d = dataset("normand_smd")
    res = rma(numbers(d["yi"]), numbers(d["vi"]), slab=d["slab"])
    assert isinstance(res.regtest(), RegTest) and isinstance(res.ranktest(), RankTest)
    assert isinstance(res.trimfill(estimator="R0"), TrimFill)
    l1o, cum = res.leave1out(), res.cumul()
    assert isinstance(l1o, StudySequence) and isinstance(cum, StudySequence)
    assert cum.estimate[-1] == res.beta[0].estimate
    assert isinstance(res.influence(), Influence) and isinstance(res.baujat(), Baujat)
    perm = res.permutest()
    assert isinstance(perm, PermutationTest) and perm.exact and perm.iter == 2 ** res.k
    assert isinstance(res.forest(), ForestPlot) and isinstance(res.funnel(), FunnelPlot)
    for obj in (res.regtest(), res.ranktest(), l1o, res.influence(), res.baujat(), perm):
        doc = obj.to_json()
        assert isinstance(doc, dict) and doc
    assert np.all(np.isfinite(l1o.estimate))
