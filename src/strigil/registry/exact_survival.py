"""Exact pooled time to improvement across clinics: a Cox model stratified by clinic and a pooled
Kaplan–Meier curve, from per-clinic aggregates only.

Cox: with a baseline hazard per clinic (strata), the partial log-likelihood is a sum over clinics, and so
are its gradient and Hessian (Efron's handling of ties, as lifelines and R's survival use by default;
Efron 1977, J Am Stat Assoc 72:557). Each clinic returns those three sums at the analyst's β; Newton–Raphson
on their totals is the single-database stratified fit.

Disclosure: those sums depend on a clinic's data only through its table of patients per cell (the band
between two successive improvement times × improved or censored × the covariate pattern, i.e. the row of
covariate values), and one ordinary fit's answers can be solved for that table. So each clinic shares only
the patients in cells of at least `min_patients` (`disclosable_patients`), says that it withheld some, and
the pooled fit is the single-database fit of the patients shared.

Kaplan–Meier: each clinic returns, per band of the agreed time grid, the patients at risk at its start and
the improvements and censorings within it. Summed across clinics these give the pooled estimate; where a
count would fall between 1 and `min_patients` − 1 the clinic merges the band with the next (coarsening),
and the result says so. Exact when every time is a grid point and no band was merged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Presentable, Summary
from strigil.registry.design import Column, values_of
from strigil.registry.disclosure import count_allowed, small_column_groups
from strigil.registry.exact_growth import Ask, ClinicDataError, request_id
from strigil.registry.federated import MIN_PATIENTS
from strigil.registry.time_to_improvement import ImprovementTable, Mcid, sessions_to_improvement

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SURVIVAL_FORMAT",
    "ExactCoxFit",
    "ImprovementSpec",
    "PooledCurve",
    "answer_survival_request",
    "disclosable_patients",
    "efron_pieces",
    "fit_exact_cox",
    "pool_kaplan_meier",
]

SURVIVAL_FORMAT = "strigil-exact-survival/1"


@dataclass(frozen=True)
class ImprovementSpec:
    """The agreed analysis of sessions to improvement: outcome, MCID, covariates and their coding, grid."""

    outcome: str
    mcid: float
    lower_is_better: bool = True
    mcid_source: str = ""
    patient: str = "patient"
    session: str = "session"
    covariates: Sequence[str] = ()
    levels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    times: Sequence[float] = tuple(float(t) for t in range(1, 21))
    min_patients: int = MIN_PATIENTS
    site_column: str = "clinic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        object.__setattr__(
            self, "levels", {str(k): tuple(sorted(str(x) for x in v)) for k, v in sorted(self.levels.items())}
        )
        times = tuple(sorted(float(t) for t in self.times))
        if not times or times[0] <= 0:
            raise ValueError(f"times={list(self.times)}: give a grid of positive times (sessions)")
        object.__setattr__(self, "times", times)
        if self.min_patients < MIN_PATIENTS:
            raise ValueError(f"min_patients={self.min_patients}: at least {MIN_PATIENTS} is allowed")

    def names_for(self, levels: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        """Covariate columns: numeric ones by name, text ones as indicators against their first level."""
        names: list[str] = []
        for c in self.covariates:
            if c in self.levels:
                names += [f"{c}[T.{lv}]" for lv in sorted(levels.get(c, ()))[1:]]
            else:
                names.append(c)
        return tuple(names)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "outcome": self.outcome,
            "mcid": self.mcid,
            "lower_is_better": self.lower_is_better,
            "mcid_source": self.mcid_source,
            "patient": self.patient,
            "session": self.session,
            "covariates": list(self.covariates),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "times": list(self.times),
            "min_patients": self.min_patients,
            "site_column": self.site_column,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImprovementSpec:
        """Read the form `to_json` writes."""
        return cls(
            outcome=str(data["outcome"]),
            mcid=float(data["mcid"]),
            lower_is_better=bool(data.get("lower_is_better", True)),
            mcid_source=str(data.get("mcid_source", "")),
            patient=str(data.get("patient", "patient")),
            session=str(data.get("session", "session")),
            covariates=tuple(str(c) for c in data.get("covariates", ())),
            levels={str(k): tuple(str(x) for x in v) for k, v in dict(data.get("levels", {})).items()},
            times=tuple(float(t) for t in data.get("times", range(1, 21))),
            min_patients=int(data.get("min_patients", MIN_PATIENTS)),
            site_column=str(data.get("site_column", "clinic")),
        )


def efron_pieces(
    time: np.ndarray, event: np.ndarray, X: np.ndarray, beta: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Partial log-likelihood, gradient and Hessian of one stratum with Efron's approximation for ties."""
    eta = X @ beta
    r = np.exp(eta)
    order = np.argsort(-time, kind="stable")
    t, e, x, rr, et = time[order], event[order], X[order], r[order], eta[order]
    S0 = np.cumsum(rr)
    S1 = np.cumsum(rr[:, None] * x, axis=0)
    S2 = np.cumsum(rr[:, None, None] * x[:, :, None] * x[:, None, :], axis=0)
    p = X.shape[1]
    loglik, grad, hess = 0.0, np.zeros(p), np.zeros((p, p))
    for u in np.unique(t[e]):
        end = int(np.searchsorted(-t, -u, side="right"))  # rows with time ≥ u are the first `end`
        dead = (t == u) & e
        d = int(dead.sum())
        E0 = float(rr[dead].sum())
        E1 = (rr[dead, None] * x[dead]).sum(axis=0)
        E2 = (rr[dead, None, None] * x[dead, :, None] * x[dead, None, :]).sum(axis=0)
        loglik += float(et[dead].sum())
        grad += x[dead].sum(axis=0)
        for lv in range(d):
            phi = lv / d
            A0 = S0[end - 1] - phi * E0
            A1 = S1[end - 1] - phi * E1
            A2 = S2[end - 1] - phi * E2
            loglik -= float(np.log(A0))
            grad -= A1 / A0
            hess -= A2 / A0 - np.outer(A1, A1) / A0**2
    return loglik, grad, hess


@dataclass(frozen=True)
class _ClinicTable:
    site: str
    reason: str | None
    table: ImprovementTable | None = None
    X: np.ndarray | None = None
    names: tuple[str, ...] = ()
    levels_present: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    withheld: bool = False


def disclosable_patients(time: np.ndarray, event: np.ndarray, X: np.ndarray, min_patients: int) -> np.ndarray:
    """The patients a clinic may share for the stratified Cox model (a boolean mask).

    The Cox answers at any β are functions of the counts per cell: the band [uₖ, uₖ₊₁) between successive
    improvement times that holds the patient's time (before the first improvement time: a band of its own),
    improved or censored, and the covariate pattern (the patient's row of X). A cell of 1 to
    `min_patients` − 1 patients is withheld whole. Withholding can remove an improvement time and so merge
    two bands; the rule is applied again until every cell is empty or holds at least `min_patients`."""
    keep = np.ones(len(time), dtype=bool)
    while keep.any():
        times = np.unique(time[keep & event])
        band = np.searchsorted(times, time, side="right")
        key = np.column_stack([band, event, X])[keep]
        _, cell, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        allowed = np.fromiter(
            (count_allowed(int(n), min_patients) for n in counts), dtype=bool, count=len(counts)
        )
        small = ~allowed[cell.ravel()]
        if not small.any():
            break
        keep[np.flatnonzero(keep)[small]] = False
    return keep


def _clinic_table(columns: Mapping[str, Column], spec: ImprovementSpec, site: str | None) -> _ClinicTable:
    name = site
    if not name:
        col = columns.get(spec.site_column)
        name = "+".join(sorted({str(v) for v in values_of(col)})) if col is not None else "unnamed clinic"
    wanted = [spec.outcome, spec.patient, spec.session, *spec.covariates]
    missing = [v for v in wanted if v not in columns]
    if missing:
        raise ClinicDataError(
            f"clinic {name!r}: column(s) {', '.join(missing)} missing; the network's analysis reads "
            f"{', '.join(wanted)}"
        )
    mcid = Mcid(spec.mcid, spec.lower_is_better, spec.mcid_source)
    try:
        table = sessions_to_improvement(
            columns,
            outcome=spec.outcome,
            mcid=mcid,
            patient=spec.patient,
            session=spec.session,
            covariates=spec.covariates,
        )
    except ValueError as exc:
        raise ClinicDataError(f"clinic {name!r}: {exc}") from exc
    n = len(table.sessions)
    present: dict[str, tuple[str, ...]] = {}
    for c in spec.covariates:
        v = np.asarray(table.covariates[c])
        text = v.dtype.kind in "OUS"
        if c in spec.levels and not text:
            raise ClinicDataError(
                f"clinic {name!r}: column {c!r} holds numbers here, but the network codes it as text with "
                f"levels {list(spec.levels[c])}"
            )
        if c not in spec.levels and text:
            raise ClinicDataError(
                f"clinic {name!r}: column {c!r} holds text here; the network's analysis needs numbers there, "
                "or the agreed coding must list its levels"
            )
        if text:
            seen = sorted(set(v.astype(str).tolist()))
            outside = [x for x in seen if x not in spec.levels[c]]
            if outside:
                raise ClinicDataError(
                    f"clinic {name!r}: column {c!r} has level(s) {outside} outside the network's coding "
                    f"{list(spec.levels[c])}"
                )
            present[c] = tuple(seen)
    if n < spec.min_patients:
        return _ClinicTable(name, f"fewer than {spec.min_patients} patients with follow-up")
    names = spec.names_for(spec.levels)
    X = np.empty((n, len(names)))
    for j, nm in enumerate(names):
        if "[T." in nm:
            c, lv = nm.split("[T.", 1)
            X[:, j] = np.asarray(table.covariates[c]).astype(str) == lv[:-1]
        else:
            X[:, j] = np.asarray(table.covariates[nm], dtype=float)
    keep = disclosable_patients(table.sessions, table.improved, X, spec.min_patients)
    withheld = not bool(keep.all())
    if withheld:
        table = dataclasses.replace(
            table,
            sessions=table.sessions[keep],
            improved=table.improved[keep],
            covariates={c: np.asarray(v)[keep] for c, v in table.covariates.items()},
        )
        X = X[keep]
        n = len(table.sessions)
        present = {
            c: tuple(sorted(set(np.asarray(table.covariates[c]).astype(str).tolist()))) for c in present
        }
    if n < spec.min_patients:
        return _ClinicTable(name, f"fewer than {spec.min_patients} patients in cells it may share")
    small = small_column_groups(X, names, np.arange(n), spec.min_patients)
    min_n = spec.min_patients
    for c, lvs in present.items():
        labels = np.asarray(table.covariates[c]).astype(str)
        small += [f"{c}={lv}" for lv in lvs if not count_allowed(int((labels == lv).sum()), min_n)]
    if small:
        return _ClinicTable(
            name,
            f"between 1 and {spec.min_patients - 1} patients have a nonzero (or a zero) value of "
            f"{', '.join(small)}",
        )
    return _ClinicTable(name, None, table, X, names, present, withheld)


def _bands(table: ImprovementTable, times: Sequence[float], min_patients: int) -> list[dict[str, Any]] | None:
    """Counts per band [start, next start) of the grid (a first band from 0), merged until none is small."""
    starts = [0.0, *times]
    t, e = table.sessions, table.improved
    rows: list[list[float]] = []
    for j, s in enumerate(starts):
        end = starts[j + 1] if j + 1 < len(starts) else np.inf
        inside = (t >= s) & (t < end)
        rows.append([s, int((t >= s).sum()), int((inside & e).sum()), int((inside & ~e).sum())])
    while True:
        bad = [j for j, r in enumerate(rows) if not all(count_allowed(int(n), min_patients) for n in r[1:])]
        if not bad:
            break
        if len(rows) == 1:
            return None
        j = bad[0]
        a, b = (j, j + 1) if j + 1 < len(rows) else (j - 1, j)
        rows[a] = [rows[a][0], rows[a][1], rows[a][2] + rows[b][2], rows[a][3] + rows[b][3]]
        del rows[b]
    return [{"start": s, "at_risk": int(n), "events": int(d), "censored": int(c)} for s, n, d, c in rows]


def answer_survival_request(
    columns: Mapping[str, Column], request: Mapping[str, Any], site: str | None = None
) -> dict[str, Any]:
    """A clinic's answer to the analyst: enrolment, Cox pieces at a batch of β, or Kaplan–Meier bands."""
    if request.get("format") != SURVIVAL_FORMAT:
        raise ValueError(f"request format={request.get('format')!r}; expected {SURVIVAL_FORMAT!r}")
    spec = ImprovementSpec.from_json(request["model"])
    clinic = _clinic_table(columns, spec, site)
    kind = request.get("kind")
    head = {"format": SURVIVAL_FORMAT, "kind": kind, "request": request.get("id"), "site": clinic.site}
    if clinic.reason is not None:
        return {**head, "participates": False, "reason": clinic.reason}
    assert clinic.table is not None and clinic.X is not None
    table = clinic.table
    if clinic.withheld:
        # That some patients were withheld, never how many or which cells.
        head["withheld_rare_cells"] = True
    n_events = int(table.improved.sum())
    if kind == "km":
        bands = _bands(table, spec.times, spec.min_patients)
        if bands is None:
            return {**head, "participates": False, "reason": "every band merged still holds a small count"}
        return {**head, "participates": True, "bands": bands}
    if not count_allowed(n_events, spec.min_patients) or n_events == 0:
        return {**head, "participates": False, "reason": f"fewer than {spec.min_patients} improvements"}
    common = {**head, "participates": True, "n_patients": len(table.sessions), "n_events": n_events}
    if kind == "enrol":
        return {**common, "names": list(clinic.names), "levels_present": dict(clinic.levels_present)}
    if kind == "cox":
        points = []
        for b in request["beta"]:
            ll, g, H = efron_pieces(table.sessions, table.improved, clinic.X, np.asarray(b, dtype=float))
            points.append({"loglik": ll, "gradient": g.tolist(), "hessian": H.tolist()})
        return {**common, "points": points}
    raise ValueError(f"request kind={kind!r}; expected 'enrol', 'cox' or 'km'")


def _request(spec: ImprovementSpec, kind: str, **extra: Any) -> dict[str, Any]:
    req = {"format": SURVIVAL_FORMAT, "kind": kind, "model": spec.to_json(), **extra}
    req["id"] = request_id(req)
    return req


def _by_site(answers: Sequence[Mapping[str, Any]], req: Mapping[str, Any]) -> dict[str, Any]:
    errors = [str(a["error"]) for a in answers if a.get("error")]
    if errors:
        raise ClinicDataError("; ".join(errors))
    out: dict[str, Any] = {}
    for a in answers:
        if a.get("format") != SURVIVAL_FORMAT or a.get("request") != req["id"]:
            raise ValueError(f"clinic {a.get('site')!r} did not answer request {req['id']}")
        if str(a["site"]) in out:
            raise ValueError(f"two answers come from clinic {a['site']!r}; each needs its own name")
        out[str(a["site"])] = a
    return out


@dataclass(frozen=True, repr=False)
class ExactCoxFit(Presentable):
    """Cox model stratified by clinic, fitted to every participating clinic's patients."""

    names: tuple[str, ...]
    beta: np.ndarray
    vcov: np.ndarray
    loglik: float
    sites: tuple[str, ...]
    excluded: Mapping[str, str]
    n_patients: int
    n_events: int
    rounds: int
    converged: bool
    withheld: tuple[str, ...] = ()  # clinics that withheld patients in cells of fewer than min_patients

    def to_frame(self) -> pd.DataFrame:
        """One row per covariate: coefficient, SE, hazard ratio of improving with its Wald 95% interval."""
        from strigil.display import frame

        rows = self.to_json()["terms"]
        cols = ("coef", "se", "hazard_ratio", "ci_lb", "ci_ub")
        return frame({c: [r[c] for r in rows] for c in cols}, list(self.names), "term")

    def summary(self) -> Summary:
        """Hazard ratios of the clinic-stratified Cox model and who took part."""
        from strigil.registry.printing import exact_cox_summary

        return exact_cox_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form (hazard ratios of improving with Wald 95% intervals)."""
        se = np.sqrt(np.diag(self.vcov))
        with np.errstate(over="ignore"):  # an ill-determined coefficient's interval reaches inf
            z = 1.959963984540054 * se
            hr = np.exp(np.column_stack([self.beta, self.beta - z, self.beta + z]))
        return {
            "terms": [
                {
                    "name": n,
                    "coef": float(b),
                    "se": float(s),
                    "hazard_ratio": float(h[0]),
                    "ci_lb": float(h[1]),
                    "ci_ub": float(h[2]),
                }
                for n, b, s, h in zip(self.names, self.beta, se, hr, strict=True)
            ],
            "loglik": self.loglik,
            "sites": list(self.sites),
            "excluded": dict(self.excluded),
            "n_patients": self.n_patients,
            "n_improved": self.n_events,
            "rounds": self.rounds,
            "converged": self.converged,
            "withheld": list(self.withheld),
            "method": "Cox model stratified by clinic (Efron ties), exact from per-clinic partial-likelihood "
            "gradients and Hessians",
        }


def fit_exact_cox(spec: ImprovementSpec, ask: Ask, max_rounds: int = 50) -> ExactCoxFit:
    """Newton–Raphson on the sum of the clinics' partial log-likelihoods (stratified by clinic)."""
    enrol = _request(spec, "enrol")
    enrolled = _by_site(ask(enrol), enrol)
    excluded = {s: str(a["reason"]) for s, a in enrolled.items() if not a["participates"]}
    sites = sorted(s for s, a in enrolled.items() if a["participates"])
    if not sites:
        raise ValueError(f"no clinic can take part: {excluded}")
    levels = {
        c: sorted({x for s in sites for x in enrolled[s]["levels_present"].get(c, [])}) for c in spec.levels
    }
    names = spec.names_for(levels)
    declared = list(enrolled[sites[0]]["names"])
    index = [declared.index(n) for n in names]
    full = len(declared)

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        b = np.zeros(full)
        b[index] = beta
        req = _request(spec, "cox", beta=[b.tolist()], sites=sites)
        answers = _by_site(ask(req), req)
        ll, g, H = 0.0, np.zeros(len(index)), np.zeros((len(index), len(index)))
        for s in sites:
            pt = answers[s]["points"][0]
            ll += float(pt["loglik"])
            g += np.asarray(pt["gradient"])[index]
            H += np.asarray(pt["hessian"])[np.ix_(index, index)]
        return ll, g, H

    beta = np.zeros(len(index))
    ll, g, H = evaluate(beta)
    rounds, converged = 2, False
    while rounds < max_rounds:
        step = np.linalg.solve(-H, g)
        t = 1.0
        while True:
            ll_new, g_new, H_new = evaluate(beta + t * step)
            rounds += 1
            if ll_new >= ll - 1e-12 * abs(ll) or t < 1e-6:
                break
            t *= 0.5
        improvement = ll_new - ll
        beta, ll, g, H = beta + t * step, ll_new, g_new, H_new
        if np.all(np.abs(t * step) < 1e-10) or abs(improvement) < 1e-13 * max(1.0, abs(ll)):
            converged = True
            break
    return ExactCoxFit(
        names=names,
        beta=beta,
        vcov=np.linalg.inv(-H),
        loglik=ll,
        sites=tuple(sites),
        excluded=excluded,
        n_patients=sum(int(enrolled[s]["n_patients"]) for s in sites),
        n_events=sum(int(enrolled[s]["n_events"]) for s in sites),
        rounds=rounds,
        converged=converged,
        withheld=tuple(s for s in sites if enrolled[s].get("withheld_rare_cells")),
    )


@dataclass(frozen=True, repr=False)
class PooledCurve(Presentable):
    """Pooled Kaplan–Meier share improved at the start of each pooled band, with 95% bands."""

    times: np.ndarray  # start of each pooled band; the share improved counts the band's improvements
    improved: np.ndarray  # 1 − S
    lower: np.ndarray
    upper: np.ndarray
    band_starts: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    sites: tuple[str, ...]
    excluded: Mapping[str, str]
    coarsened: bool
    note: str
    withheld: tuple[str, ...] = ()  # clinics that withheld patients in cells of fewer than min_patients

    def to_frame(self) -> pd.DataFrame:
        """One row per pooled band: share improved with its 95% band, at risk and improvements."""
        from strigil.display import frame

        return frame({"improved": self.improved, "lower": self.lower, "upper": self.upper,
                      "band_start": self.band_starts, "at_risk": self.at_risk, "events": self.events},
                     self.times, "sessions")

    def summary(self) -> Summary:
        """The pooled share improved by band."""
        from strigil.registry.printing import pooled_curve_summary

        return pooled_curve_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "times": self.times.tolist(),
            "improved": self.improved.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "bands": [
                {"start": float(s), "at_risk": int(n), "events": int(d)}
                for s, n, d in zip(self.band_starts, self.at_risk, self.events, strict=True)
            ],
            "sites": list(self.sites),
            "excluded": dict(self.excluded),
            "coarsened": self.coarsened,
            "note": self.note,
            "withheld": list(self.withheld),
        }


def pool_kaplan_meier(spec: ImprovementSpec, ask: Ask) -> PooledCurve:
    """Pooled Kaplan–Meier curve from the clinics' band counts (one round)."""
    req = _request(spec, "km")
    answers = _by_site(ask(req), req)
    excluded = {s: str(a["reason"]) for s, a in answers.items() if not a["participates"]}
    sites = sorted(s for s, a in answers.items() if a["participates"])
    if not sites:
        raise ValueError(f"no clinic can take part: {excluded}")
    grid = [0.0, *spec.times]
    starts_each = [{float(b["start"]) for b in answers[s]["bands"]} for s in sites]
    common = sorted(set.intersection(*starts_each))
    merged = any(len(st) < len(grid) for st in starts_each)
    at_risk, events = [], []
    for j, s0 in enumerate(common):
        s1 = common[j + 1] if j + 1 < len(common) else np.inf
        n = d = 0
        for s in sites:
            for b in answers[s]["bands"]:
                if float(b["start"]) == s0:
                    n += int(b["at_risk"])
                if s0 <= float(b["start"]) < s1:
                    d += int(b["events"])
        at_risk.append(n)
        events.append(d)
    n_arr, d_arr = np.asarray(at_risk, dtype=float), np.asarray(events, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n_arr > 0, 1.0 - d_arr / n_arr, 1.0)
        S = np.cumprod(factor)
        # Greenwood's variance on the log(−log S) scale (the "exponential Greenwood" band lifelines draws).
        var = np.cumsum(np.where(n_arr > d_arr, d_arr / (n_arr * (n_arr - d_arr)), 0.0))
        logS = np.log(S)
        half = 1.959963984540054 * np.sqrt(var) / np.abs(logS)
        lo_S = np.where(S < 1, np.exp(-np.exp(np.log(-logS) + half)), 1.0)
        hi_S = np.where(S < 1, np.exp(-np.exp(np.log(-logS) - half)), 1.0)
    note = f"Kaplan–Meier on the grid {list(spec.times)} pooled over {len(sites)} clinics. " + (
        "Some bands were merged so that no shared count falls between 1 and "
        f"{spec.min_patients - 1}: the curve is coarsened there (a merged band's improvements show at "
        "its start)."
        if merged
        else "No band was merged: exact wherever every time is a grid point."
    )
    withheld = tuple(s for s in sites if answers[s].get("withheld_rare_cells"))
    if withheld:
        note += (
            f" {', '.join(withheld)} withheld patients whose cell (time band, improved or not, covariate "
            f"values) held fewer than {spec.min_patients}: the curve is that of the patients shared."
        )
    return PooledCurve(
        times=np.asarray(common),
        improved=1.0 - S,
        lower=1.0 - hi_S,
        upper=1.0 - lo_S,
        band_starts=np.asarray(common),
        at_risk=np.asarray(at_risk),
        events=np.asarray(events),
        sites=tuple(sites),
        excluded=excluded,
        coarsened=merged,
        note=note,
        withheld=withheld,
    )
