"""Between pandas (what vantage6 hands an algorithm) and Strigil's columns, and the node-local prepared state.

The prepared state of a clinic (its per-patient cross-products) stays on the node: vantage6 keeps a
preprocessing step's result as the session's dataframe, so it is stored as a one-row frame whose `state`
cell holds the arrays (numpy's npz format) and whose `clinic` cell holds the rest as JSON.
"""

from __future__ import annotations

import io
import json
from dataclasses import fields
from typing import Any

import numpy as np

from strigil.registry.crossproducts import Crossproducts
from strigil.registry.design import Coded, Column
from strigil.registry.exact_growth import GrowthModelSpec, PreparedClinic

__all__ = ["columns_of", "prepared_from_frame", "prepared_to_frame"]


def columns_of(frame: Any) -> dict[str, Column]:
    """A pandas DataFrame as Strigil's columns: numbers as floats (NaN missing), text as coded levels."""
    out: dict[str, Column] = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind in "fiub":
            out[str(name)] = values.astype(float)
        else:
            # Dictionary-encoded as read_columns gives text (missing = code −1): no per-row Python work.
            cat = frame[name].astype(str).where(frame[name].notna()).astype("category")
            levels = np.asarray(cat.cat.categories.astype(str), dtype=object)
            out[str(name)] = Coded(cat.cat.codes.to_numpy().astype(np.int64), levels)
    return out


def prepared_to_frame(clinic: PreparedClinic) -> Any:
    """The node-local frame holding a prepared clinic."""
    import pandas as pd

    buffer = io.BytesIO()
    cp = clinic.crossproducts
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    if cp is not None:
        for f in fields(cp):
            value = getattr(cp, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            elif value is not None:
                scalars[f.name] = value
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    meta = {
        "site": clinic.site,
        "spec": clinic.spec.to_json(),
        "reason": clinic.reason,
        "names": list(clinic.names),
        "n_patients": clinic.n_patients,
        "levels_present": {k: list(v) for k, v in clinic.levels_present.items()},
        "withheld_patients": clinic.withheld_patients,
        "scalars": scalars if cp is not None else None,
    }
    return pd.DataFrame({"clinic": [json.dumps(meta)], "state": [buffer.getvalue()]})


def prepared_from_frame(frame: Any) -> PreparedClinic:
    """Read the frame `prepared_to_frame` wrote."""
    if list(frame.columns) != ["clinic", "state"] or len(frame) != 1:
        raise ValueError(
            "this dataframe is not a prepared clinic: run the preprocessing step prepare_growth_model first"
        )
    meta = json.loads(frame["clinic"].iloc[0])
    cp = None
    if meta["scalars"] is not None:
        with np.load(io.BytesIO(frame["state"].iloc[0])) as arrays:
            cp = Crossproducts(**meta["scalars"], **{k: arrays[k] for k in arrays.files})
    return PreparedClinic(
        site=meta["site"],
        spec=GrowthModelSpec.from_json(meta["spec"]),
        reason=meta["reason"],
        names=tuple(meta["names"]),
        crossproducts=cp,
        n_patients=int(meta["n_patients"]),
        levels_present={k: tuple(v) for k, v in meta["levels_present"].items()},
        withheld_patients=int(meta.get("withheld_patients", 0)),
    )
