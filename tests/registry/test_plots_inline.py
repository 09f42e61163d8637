"""Registry plots show themselves in a notebook and never change the matplotlib backend or pyplot figures."""

from __future__ import annotations

import matplotlib
import numpy as np

from strigil.registry.generator import RegistryTruth, generate_registry
from strigil.registry.lmer import lmer
from strigil.registry.plots import dose_response_curves, dose_response_plot


def test_dose_response_plot_is_inline_and_leaves_the_backend_alone() -> None:
    import matplotlib.pyplot as plt

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    reg = generate_registry(RegistryTruth(n_clinics=2, patients_per_clinic=15), seed=1)
    fit = lmer("pain ~ session + session:minutes + (1 + session | patient)", reg.to_frame())
    curves = dose_response_curves(fit, reg.columns, time="session", dose="minutes", doses=[1.0, 5.0])
    plot = dose_response_plot(curves, time="session", dose="minutes", outcome="pain")
    svg = plot._repr_svg_()
    assert svg.startswith("<svg") and "minutes = 5" in svg
    assert plot._repr_png_().startswith(b"\x89PNG")
    assert plot.svg() == svg
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures
    assert np.all(curves[1].mean[1:] < curves[0].mean[1:])  # more minutes, steeper improvement (the truth)
