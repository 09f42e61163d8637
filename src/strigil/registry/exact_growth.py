"""Exact pooled growth model across clinics: the fit of all participating clinics' rows, no row moves.

The profiled (RE)ML deviance of the growth model with a random intercept and slope per patient is, for given
θ, a function of sums over patients (`strigil.registry.mixed_model.DeviancePieces`): Σ log|Aᵢ|, the reduced
cross-product matrix [X y]ᵀ[X y] − Σ BᵢᵀMᵢBᵢ and their derivatives in θ. Patients are nested in clinics, so
each is a sum of per-clinic sums; the analyst's side adds the clinics' pieces and minimises the same
deviance the single-database solver minimises (Luo et al. 2022, Nat Commun 13:1678, pool linear mixed models
losslessly from per-site aggregates; here the aggregates are exchanged per θ, as patient-level random
effects need). Clinic enters as a fixed effect.

The exchange (every message is plain JSON; `docs/federated.md` lists every field):
1. enrol: each clinic checks its data against the agreed model and coding and says whether it takes part.
   A clinic with fewer than `min_patients` patients, or with a column whose patients with a nonzero (or a
   zero) value number 1 to `min_patients` − 1, does not (and says which rule, never a count).
2. pieces: for a batch of θ values, each participating clinic returns its sums at each θ. The analyst takes
   Newton steps in rounds (`strigil.registry.newton_rounds`) until the same stopping rule as the
   single-database solver holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from strigil.display import Presentable, Summary
from strigil.registry.crossproducts import Crossproducts, crossproducts
from strigil.registry.design import (
    Coded,
    Column,
    codes_of,
    fixed_design,
    parse_random,
    random_design,
    term_values,
    values_of,
)
from strigil.registry.disclosure import MIN_PATIENTS, small_column_groups
from strigil.registry.formula import read_simple_formula
from strigil.registry.mixed_model import DeviancePieces, MixedModelFit, deviance_pieces, fit_from_pieces
from strigil.registry.newton_rounds import newton_in_rounds

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXCHANGE_FORMAT",
    "Ask",
    "ClinicDataError",
    "ExactGrowthFit",
    "GrowthModelSpec",
    "PreparedClinic",
    "answer_request",
    "fit_exact_growth",
    "prepare_clinic",
    "request_id",
]

EXCHANGE_FORMAT = "strigil-exact-growth/1"

# Sends one request to the clinics and returns their answers (any order).
Ask = Callable[[dict[str, Any]], list[dict[str, Any]]]


class ClinicDataError(ValueError):
    """A clinic's data do not fit the agreed model (another variable set or coding); names the clinic."""


@dataclass(frozen=True)
class GrowthModelSpec:
    """The model the network agreed on: formula, patient term, coding of every text variable, rules."""

    formula: str
    random: str
    levels: Mapping[str, Sequence[str]] = field(default_factory=dict)
    reml: bool = True
    min_patients: int = MIN_PATIENTS
    site_column: str = "clinic"

    def __post_init__(self) -> None:
        # One form of the coding (sorted tuples), so that two specs of the same model compare equal.
        object.__setattr__(
            self, "levels", {str(k): tuple(sorted(str(x) for x in v)) for k, v in sorted(self.levels.items())}
        )
        simple = read_simple_formula(self.formula)
        if simple is None or not simple.intercept:
            raise ValueError(
                f"formula={self.formula!r}: exact pooling takes formulas of numeric columns, their products "
                "(':' or '*') and text columns as main effects, with an intercept"
            )
        for term in simple.terms:
            if len(term) > 1 and any(v in self.levels for v in term):
                raise ValueError(
                    f"formula={self.formula!r}: the text column in {':'.join(term)!r} may appear only as a "
                    "main effect in exact pooling"
                )
        patient_term = parse_random(self.random)
        if patient_term.group in self.levels:
            raise ValueError(f"random={self.random!r}: the patient column cannot be a coded text variable")
        if self.min_patients < MIN_PATIENTS:
            raise ValueError(f"min_patients={self.min_patients}: at least {MIN_PATIENTS} is allowed")

    @property
    def response(self) -> str:
        """The outcome column."""
        simple = read_simple_formula(self.formula)
        assert simple is not None
        return simple.response

    @property
    def variables(self) -> list[str]:
        """Every column the model reads: outcome, fixed-effect variables, random terms, patient column."""
        simple = read_simple_formula(self.formula)
        assert simple is not None
        term = parse_random(self.random)
        extra = [t for t in term.terms if t != "Intercept"]
        return list(dict.fromkeys([simple.response, *simple.variables, *extra, term.group]))

    def names_for(self, levels: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        """Fixed-effect column names (as formulaic names them) when the text variables have `levels`."""
        simple = read_simple_formula(self.formula)
        assert simple is not None
        n = max([2, *(len(v) for v in levels.values())])
        frame: dict[str, Column] = {simple.response: np.ones(n)}
        for v in simple.variables:
            if v in levels:
                if not levels[v]:
                    raise ValueError(f"levels[{v!r}] is empty")
                frame[v] = Coded(np.arange(n) % len(levels[v]), np.asarray(sorted(levels[v]), dtype=object))
            else:
                frame[v] = np.linspace(1.0, 2.0, n)
        return fixed_design(self.formula, frame).names

    def declared_names(self) -> tuple[str, ...]:
        """Fixed-effect names under the agreed coding (every declared level)."""
        return self.names_for(self.levels)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "formula": self.formula,
            "random": self.random,
            "levels": {k: sorted(v) for k, v in sorted(self.levels.items())},
            "reml": self.reml,
            "min_patients": self.min_patients,
            "site_column": self.site_column,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GrowthModelSpec:
        """Read the form `to_json` writes."""
        try:
            return cls(
                formula=str(data["formula"]),
                random=str(data["random"]),
                levels={str(k): tuple(str(x) for x in v) for k, v in dict(data.get("levels", {})).items()},
                reml=bool(data.get("reml", True)),
                min_patients=int(data.get("min_patients", MIN_PATIENTS)),
                site_column=str(data.get("site_column", "clinic")),
            )
        except KeyError as exc:
            raise ValueError(f"model: missing field {exc.args[0]!r}") from exc


@dataclass(frozen=True)
class PreparedClinic:
    """A clinic's data reduced to per-patient cross-products (kept at the clinic; never sent as such)."""

    site: str
    spec: GrowthModelSpec
    reason: str | None  # why the clinic does not take part (None: it does)
    names: tuple[str, ...] = ()  # columns of the cross-products: the declared fixed-effect names
    crossproducts: Crossproducts | None = None
    n_patients: int = 0
    levels_present: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Patients withheld because their visit pattern is a small cell, and the input rows that are shared
    # (both stay at the clinic; the answers say only whether any patient was withheld).
    withheld_patients: int = 0
    shared_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    @property
    def participates(self) -> bool:
        """True when the clinic's data pass every rule."""
        return self.reason is None


def _site_name(columns: Mapping[str, Column], spec: GrowthModelSpec, site: str | None) -> str:
    if site:
        return site
    col = columns.get(spec.site_column)
    if col is None:
        return "unnamed clinic"
    values = [v for v in _distinct_text(col) if v != ""]
    return "+".join(values) if values else "unnamed clinic"


def _distinct_text(col: Column) -> list[str]:
    """The distinct values of a column as sorted text (from the codes when the column is coded)."""
    if isinstance(col, Coded):
        used = np.flatnonzero(np.bincount(col.codes[col.codes >= 0], minlength=len(col.levels)))
        texts = col.level_texts()
        return sorted({texts[int(k)] for k in used})
    return sorted({str(v) for v in np.unique(np.asarray(col).astype(str))})


def _is_text(col: Column) -> bool:
    return isinstance(col, Coded) or np.asarray(col).dtype.kind in "OUS"


def prepare_clinic(
    columns: Mapping[str, Column], spec: GrowthModelSpec, site: str | None = None
) -> PreparedClinic:
    """Check one clinic's rows against the agreed model and sum its cross-products per patient.

    Raises `ClinicDataError` (naming the clinic) when a column is missing or coded otherwise; returns a
    non-participating clinic (with the rule it fails) when its data would share a small cell.
    """
    from strigil.registry.growth_model import complete_mask, take_rows

    name = _site_name(columns, spec, site)
    wanted = spec.variables
    missing = [v for v in wanted if v not in columns]
    if missing:
        raise ClinicDataError(
            f"clinic {name!r}: its data have no column {' or '.join(map(repr, missing))}, which the "
            f"network's model uses (it reads {', '.join(wanted)}); add the column or agree on another model"
        )
    term = parse_random(spec.random)
    present: dict[str, tuple[str, ...]] = {}
    for v in wanted:
        col = columns[v]
        if v in spec.levels:
            if not _is_text(col):
                raise ClinicDataError(
                    f"clinic {name!r}: column {v!r} holds numbers here, but the network codes it as text "
                    f"with levels {sorted(spec.levels[v])}"
                )
        elif v != term.group and _is_text(col):
            raise ClinicDataError(
                f"clinic {name!r}: column {v!r} holds text here (e.g. {str(values_of(col)[0])!r}); the "
                "network's model needs numbers there, or the agreed coding must list its levels"
            )
    keep = complete_mask(columns, wanted)
    data = {v: take_rows(columns[v], keep) for v in wanted}
    for v in spec.levels:
        if v not in data:
            continue
        seen = _distinct_text(data[v])
        outside = [x for x in seen if x not in set(spec.levels[v])]
        if outside:
            raise ClinicDataError(
                f"clinic {name!r}: column {v!r} has level(s) {outside} outside the network's coding "
                f"{sorted(spec.levels[v])}"
            )
        present[v] = tuple(seen)
        # Plain text, so that an agreed level this clinic never saw gives an indicator of zeros.
        data[v] = np.asarray(values_of(data[v])).astype(str)
    groups, n_patients = codes_of(data[term.group]) if keep.any() else (np.zeros(0, np.intp), 0)
    if n_patients < spec.min_patients:
        return PreparedClinic(name, spec, f"fewer than {spec.min_patients} patients")
    names = spec.declared_names()
    X = np.empty((len(groups), len(names)), order="F")
    for j, nm in enumerate(names):
        values = term_values(nm, data)
        if values is None:
            raise ClinicDataError(f"clinic {name!r}: cannot form the model's column {nm!r} from its data")
        X[:, j] = values
    texts = {v: np.asarray(values_of(data[v])).astype(str) for v in present}
    Z = random_design(term, data)
    shared = _shared_patients(X, names, groups, Z, texts, spec.min_patients)
    withheld = int(n_patients - shared.sum())
    rows = shared[groups]
    X, Z, groups = X[rows], Z[rows], groups[rows]
    texts = {v: t[rows] for v, t in texts.items()}
    y = np.asarray(data[spec.response], dtype=float)[rows]
    groups, n_patients = np.unique(groups, return_inverse=True)[1].astype(np.intp), int(shared.sum())
    local_rows = np.flatnonzero(keep)[rows]
    if n_patients < spec.min_patients:
        return PreparedClinic(
            name, spec, f"fewer than {spec.min_patients} patients in visit patterns it may share"
        )
    small = _small_cells(X, names, groups, texts, spec.min_patients)
    if small:
        return PreparedClinic(
            name,
            spec,
            f"between 1 and {spec.min_patients - 1} patients have a nonzero (or a zero) value of "
            f"{', '.join(small)}",
        )
    return PreparedClinic(
        site=name,
        spec=spec,
        reason=None,
        names=names,
        crossproducts=crossproducts(X, y, Z, groups),
        n_patients=n_patients,
        levels_present={v: tuple(sorted(set(texts[v].tolist()))) for v in present},
        withheld_patients=withheld,
        shared_rows=local_rows,
    )


def _small_cells(
    X: np.ndarray,
    names: Sequence[str],
    groups: np.ndarray,
    texts: Mapping[str, np.ndarray],
    min_patients: int,
) -> list[str]:
    """The columns and text levels whose group of patients numbers 1 to `min_patients` − 1."""
    small = small_column_groups(X, names, groups, min_patients)
    for v, text in texts.items():
        # The reference level has no column of its own, but its patients' sums follow from the totals.
        for lv in sorted(set(text.tolist())):
            if len(np.unique(groups[text == lv])) < min_patients:
                small.append(f"{v}={lv}")
    return small


def _shared_patients(
    X: np.ndarray,
    names: Sequence[str],
    groups: np.ndarray,
    Z: np.ndarray,
    texts: Mapping[str, np.ndarray],
    min_patients: int,
) -> np.ndarray:
    """Which patients a clinic may share: those whose visit pattern is a cell it may disclose.

    The answers are functions of θ whose dependence on the data runs through per-pattern sums (patients with
    the same ZᵢᵀZᵢ share Aᵢ and Mᵢ): answers at enough θ points can be solved for each pattern's count and its
    sums Σ BᵢᵀBᵢ, even on the Newton path alone (a researcher's review did so with the ~50 points of one
    ordinary fit). So every visit pattern is itself a cell: it must hold at least `min_patients` patients, and
    within it no column or text level may single out 1 to `min_patients` − 1 of them. Patients in other
    patterns are withheld from the exchange; the fit is then exactly the fit of the shared patients' rows.
    """
    n = int(groups.max()) + 1 if len(groups) else 0
    q = Z.shape[1]
    ztz = np.empty((n, q * (q + 1) // 2))
    col = 0
    for i in range(q):
        for j in range(i + 1):
            ztz[:, col] = np.bincount(groups, Z[:, i] * Z[:, j], minlength=n)
            col += 1
    _, pattern = np.unique(ztz, axis=0, return_inverse=True)
    pattern = np.asarray(pattern).reshape(-1)
    size = np.bincount(pattern)
    shared = np.zeros(n, dtype=bool)
    # Rows sorted by their patient's pattern: each pattern's rows are one slice.
    row_pattern = pattern[groups]
    order = np.argsort(row_pattern, kind="stable")
    bounds = np.searchsorted(row_pattern[order], np.arange(len(size) + 1))
    for k in np.flatnonzero(size >= min_patients):
        rows = order[bounds[k] : bounds[k + 1]]
        local = np.unique(groups[rows], return_inverse=True)[1]
        if not _small_cells(X[rows], names, local, {v: t[rows] for v, t in texts.items()}, min_patients):
            shared[pattern == k] = True
    return shared


def request_id(request: Mapping[str, Any]) -> str:
    """A short fingerprint of a request (answers carry it, so the analyst can match them)."""
    body = {k: v for k, v in request.items() if k != "id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _pieces_json(pieces: DeviancePieces) -> dict[str, Any]:
    assert pieces.d_logdet is not None and pieces.d_reduced is not None
    return {
        "logdet": pieces.logdet,
        "reduced": pieces.reduced.tolist(),
        "d_logdet": pieces.d_logdet.tolist(),
        "d_reduced": pieces.d_reduced.tolist(),
    }


def answer_request(clinic: PreparedClinic, request: Mapping[str, Any]) -> dict[str, Any]:
    """The clinic's answer to one request of the analyst (an enrolment or its pieces at a batch of θ)."""
    if request.get("format") != EXCHANGE_FORMAT:
        raise ValueError(f"request format={request.get('format')!r}; expected {EXCHANGE_FORMAT!r}")
    if GrowthModelSpec.from_json(request["model"]) != clinic.spec:
        raise ValueError(f"clinic {clinic.site!r}: the request is for another model than the one prepared")
    kind = request.get("kind")
    head = {"format": EXCHANGE_FORMAT, "kind": kind, "request": request.get("id"), "site": clinic.site}
    if not clinic.participates:
        return {**head, "participates": False, "reason": clinic.reason}
    assert clinic.crossproducts is not None
    cp = clinic.crossproducts
    common = {**head, "participates": True, "n_patients": clinic.n_patients, "n_obs": cp.n_obs}
    if kind == "enrol":
        return {
            **common,
            "names": list(clinic.names),
            "levels_present": dict(clinic.levels_present),
            "withheld_rare_patterns": clinic.withheld_patients > 0,
        }
    if kind == "pieces":
        points = [
            _pieces_json(deviance_pieces(np.asarray(th, dtype=float), cp, gradient=True))
            for th in request["theta"]
        ]
        return {**common, "points": points}
    raise ValueError(f"request kind={kind!r}; expected 'enrol' or 'pieces'")


@dataclass(frozen=True, repr=False)
class ExactGrowthFit(Presentable):
    """The pooled growth model: the fit of every participating clinic's rows, and who took part."""

    fit: MixedModelFit
    sites: tuple[str, ...]
    excluded: Mapping[str, str]  # site -> the rule it fails
    rounds: int
    n_messages: int
    withheld: tuple[str, ...] = ()  # clinics that withheld patients whose visit pattern is a small cell

    def to_frame(self, part: str = "fixed") -> pd.DataFrame:
        """The pooled model's fixed effects ("fixed") or variance components ("random")."""
        return self.fit.to_frame(part)

    def summary(self) -> Summary:
        """Who took part, then the pooled model as lme4 prints it."""
        from strigil.registry.printing import exact_growth_summary

        return exact_growth_summary(self)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready form: the `registry fit --json` fields plus who took part."""
        return {
            **self.fit.to_json(),
            "sites": list(self.sites),
            "excluded": dict(self.excluded),
            "rounds": self.rounds,
            "n_messages": self.n_messages,
            "withheld_rare_patterns": list(self.withheld),
            "method": "exact federated (RE)ML: per-clinic sums at each θ, added centrally; equals the fit of "
            "the participating clinics' shared rows (patients in visit patterns of at least min_patients) "
            "with clinic as a fixed effect",
        }


def _request(spec: GrowthModelSpec, kind: str, **extra: Any) -> dict[str, Any]:
    req = {"format": EXCHANGE_FORMAT, "kind": kind, "model": spec.to_json(), **extra}
    req["id"] = request_id(req)
    return req


def _answers_by_site(answers: Sequence[Mapping[str, Any]], req: Mapping[str, Any]) -> dict[str, Any]:
    by_site: dict[str, Any] = {}
    for a in answers:
        if a.get("format") != EXCHANGE_FORMAT or a.get("kind") != req["kind"]:
            raise ValueError(f"an answer is not a {req['kind']!r} answer in format {EXCHANGE_FORMAT!r}")
        if a.get("error"):
            continue
        if a.get("request") != req["id"]:
            raise ValueError(f"clinic {a.get('site')!r} answered another request than {req['id']}")
        site = str(a["site"])
        if site in by_site:
            raise ValueError(f"two answers come from clinic {site!r}; each clinic must have its own name")
        by_site[site] = a
    errors = [str(a["error"]) for a in answers if a.get("error")]
    if errors:
        raise ClinicDataError("; ".join(errors))
    return by_site


def fit_exact_growth(spec: GrowthModelSpec, ask: Ask) -> ExactGrowthFit:
    """Fit the growth model to the participating clinics' shared rows through `ask` (one call per round)."""
    enrol = _request(spec, "enrol")
    enrolled = _answers_by_site(ask(enrol), enrol)
    excluded = {s: str(a["reason"]) for s, a in enrolled.items() if not a["participates"]}
    sites = sorted(s for s, a in enrolled.items() if a["participates"])
    if not sites:
        raise ValueError(f"no clinic can take part: {excluded}")
    levels = {
        v: sorted({x for s in sites for x in enrolled[s]["levels_present"].get(v, [])}) for v in spec.levels
    }
    final = spec.names_for({v: lv for v, lv in levels.items() if lv})
    declared = list(enrolled[sites[0]]["names"])
    index = [declared.index(n) for n in final] + [len(declared)]
    q = len(parse_random(spec.random).terms)
    cache: dict[tuple[float, ...], DeviancePieces] = {}
    n_messages = len(enrolled)

    def evaluate(points: Sequence[np.ndarray]) -> list[tuple[float, np.ndarray]]:
        nonlocal n_messages
        from strigil.registry.mixed_model import combine_pieces

        req = _request(spec, "pieces", theta=[[float(x) for x in pt] for pt in points], sites=sites)
        answers = _answers_by_site(ask(req), req)
        n_messages += len(answers)
        missing = [s for s in sites if s not in answers]
        if missing:
            raise ValueError(f"no answer from clinic(s) {missing} to request {req['id']}")
        out = []
        for k, pt in enumerate(points):
            total: DeviancePieces | None = None
            for s in sites:
                part = answers[s]["points"][k]
                piece = DeviancePieces(
                    n_obs=int(answers[s]["n_obs"]),
                    logdet=float(part["logdet"]),
                    reduced=np.asarray(part["reduced"])[np.ix_(index, index)],
                    d_logdet=np.asarray(part["d_logdet"]),
                    d_reduced=np.asarray(part["d_reduced"])[:, index][:, :, index],
                )
                total = piece if total is None else total + piece
            assert total is not None
            cache[tuple(float(x) for x in pt)] = total
            fac = combine_pieces(total, len(final), spec.reml)
            assert fac.gradient is not None
            out.append((fac.deviance, fac.gradient))
        return out

    start = np.array([1.0 if i == j else 0.0 for j in range(q) for i in range(j, q)])
    opt = newton_in_rounds(evaluate, start)
    group = parse_random(spec.random).group
    fit = fit_from_pieces(
        cache[tuple(float(x) for x in opt.x)],
        opt.x,
        fixed_names=final,
        random_terms=parse_random(spec.random).terms,
        group_name=group,
        n_groups=sum(int(enrolled[s]["n_patients"]) for s in sites),
        reml=spec.reml,
        converged=opt.converged,
        n_evaluations=opt.n_evaluations,
    )
    return ExactGrowthFit(
        fit=fit,
        sites=tuple(sites),
        excluded=excluded,
        rounds=opt.n_evaluations + 1,
        n_messages=n_messages,
        withheld=tuple(s for s in sites if enrolled[s].get("withheld_rare_patterns")),
    )
