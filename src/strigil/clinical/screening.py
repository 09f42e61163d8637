"""Contraindication screening, run at the start of every session (not only at intake).

Input: the patient's findings (codes of the findings catalogue, `catalog/data/findings.toml`) with where they
are, the region to treat, earlier adverse responses and tolerance. Output: a verdict — `contraindicated`,
`precautions` or `clear` — the reasons with their sources and advice, and, when contraindicated, what to do
instead; `referral` ("urgent": refer the same day) and `consult_required` (stacked precautions) when they
apply, and the assumptions made (a finding without a region is taken to be at the treated region).

Where a finding is matters: a local finding counts at the treated region, is at least a precaution in a
neighbouring region (`catalog/data/neighbours.toml`), and is a note further away (an infection elsewhere
stays a precaution). Three or more findings that call for care, or two or more bleeding-risk findings, set
`consult_required`. These are the catalogue's conservative choices (configurable heuristics; see its header).

The catalogue rests on practitioner sources (⚠️) because the Cheatham 2025 Delphi item list could not be
retrieved (❓ unverified; domain reference §2); see the header of findings.toml.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from strigil.catalog import UnknownCode, load_bibliography, load_catalog
from strigil.clinical.adverse import DEFAULT_COURSES, AdverseReport, judge
from strigil.clinical.checks import problems_from
from strigil.clinical.limits import CODE_CHARS, HISTORY_ITEMS, LIST_ITEMS
from strigil.clinical.vocabulary import Tolerance, allowed

__all__ = [
    "CONSULT_BLEEDING_FINDINGS",
    "CONSULT_FINDINGS",
    "TOLERANCE",
    "VERDICTS",
    "Alternative",
    "Finding",
    "FindingAt",
    "FindingEntry",
    "FindingsCatalogue",
    "PriorAdverseEntry",
    "ScreenDocument",
    "ScreeningReason",
    "ScreeningResult",
    "combine_regions",
    "load_findings",
    "load_neighbours",
    "parse_screen_document",
    "screen",
    "screen_document",
    "verdict_rank",
]

TOLERANCE: tuple[str, ...] = allowed(Tolerance)

# From worst to best; `verdict_rank` orders them so that tests and callers can compare verdicts.
VERDICTS: tuple[str, ...] = ("contraindicated", "precautions", "clear")

# Stacked precautions: this many findings that call for care, or this many bleeding-risk findings, ask for a
# consultation first. Configurable heuristics — no source gives a count; the nearest is the catalogue's own
# advice to consult the physician for anticoagulants and bleeding disorders (domain reference §2).
CONSULT_FINDINGS = 3
CONSULT_BLEEDING_FINDINGS = 2
_STACK_SOURCE = load_bibliography().render_field(
    "@strigil (configurable heuristic: 3 or more findings, or 2 or more bleeding-risk findings, ask for a "
    "consultation); @chicago_sports_doctors (relative: anticoagulant medication); @nct05698108 (exclusion: "
    "haemophilia)"
)


def verdict_rank(verdict: str) -> int:
    """0 for the worst verdict (contraindicated), 2 for the best (clear)."""
    return VERDICTS.index(verdict)


@dataclass(frozen=True, slots=True)
class Alternative:
    """Something to do instead of IASTM."""

    code: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One entry of the findings catalogue."""

    code: str
    name: str
    kind: Literal["contraindication", "precaution"]
    scope: Literal["local", "systemic"]
    advice: str
    source: str
    actions: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    quality: str = ""
    classified_by: tuple[str, ...] = ()
    choice: str = ""
    contraindicated_regions: tuple[str, ...] = ()
    contraindicated_at_site: bool = False  # a systemic precaution that is a contraindication at its site
    elsewhere: str = ""  # "precaution": a local finding that still counts away from the treated region
    bleeding_risk: bool = False
    referral: str = ""  # "urgent": refer the same day


@dataclass(frozen=True)
class FindingsCatalogue:
    """The findings catalogue: findings and alternatives by code."""

    findings: Mapping[str, Finding]
    alternatives: Mapping[str, Alternative]

    def require(self, code: str) -> Finding:
        """The finding `code`, or UnknownCode listing the closest codes."""
        try:
            return self.findings[code]
        except KeyError:
            near = difflib.get_close_matches(code, list(self.findings), n=3, cutoff=0.5)
            raise UnknownCode("findings", code, near) from None


@lru_cache(maxsize=1)
def load_findings() -> FindingsCatalogue:
    """Read `strigil/catalog/data/findings.toml` once."""
    text = resources.files("strigil.catalog").joinpath("data", "findings.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    cite = load_bibliography().render_field  # `source` fields cite the bibliography by key
    alternatives = {
        code: Alternative(code, str(a["text"]), cite(str(a["source"])))
        for code, a in doc["alternatives"].items()
    }
    findings: dict[str, Finding] = {}
    for raw in doc["finding"]:
        data: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        data["source"] = cite(str(data["source"]))
        entry = Finding(**data)
        if entry.referral not in ("", "urgent") or entry.elsewhere not in ("", "precaution"):
            raise ValueError(f"findings.toml: {entry.code}: referral may be 'urgent', elsewhere 'precaution'")
        if entry.code in findings:
            raise ValueError(f"findings.toml: duplicate code {entry.code!r}")
        findings[entry.code] = entry
    return FindingsCatalogue(findings, alternatives)


@lru_cache(maxsize=1)
def load_neighbours() -> Mapping[str, frozenset[str]]:
    """Which regions border each other (`strigil/catalog/data/neighbours.toml`, made symmetric)."""
    text = resources.files("strigil.catalog").joinpath("data", "neighbours.toml").read_text(encoding="utf-8")
    pairs: dict[str, set[str]] = {}
    for region, others in tomllib.loads(text)["neighbours"].items():
        for other in others:
            pairs.setdefault(region, set()).add(other)
            pairs.setdefault(other, set()).add(region)
    return {region: frozenset(others) for region, others in pairs.items()}


@dataclass(frozen=True, slots=True)
class FindingAt:
    """A finding, optionally with the region where it is (None: at the treated region or systemic)."""

    code: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ScreeningReason:
    """Why the verdict is what it is: one finding with its class, scope, advice and source."""

    code: str
    name: str
    kind: str
    scope: str
    advice: str
    source: str
    rule: str
    actions: tuple[str, ...] = ()
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the contract's keys first)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "scope": self.scope,
            "advice": self.advice,
            "source": self.source,
            "name": self.name,
            "rule": self.rule,
            "actions": list(self.actions),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ScreeningResult:
    """The verdict, its reasons (worst first), alternatives when contraindicated, and notes."""

    region: str
    verdict: str
    reasons: tuple[ScreeningReason, ...]
    alternatives: tuple[Alternative, ...] = ()
    notes: tuple[ScreeningReason, ...] = ()
    caveats: tuple[str, ...] = field(default=())
    referral: str | None = None  # "urgent": refer the same day
    consult_required: bool = False  # stacked precautions: consult before treating
    assumptions: tuple[str, ...] = ()
    by_region: tuple[tuple[str, str], ...] = ()  # (region, verdict) when several regions were screened

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as `strigil screen --json` prints it."""
        return {
            "verdict": self.verdict,
            "region": self.region,
            "reasons": [r.to_json() for r in self.reasons],
            "alternatives": [a.code for a in self.alternatives],
            "alternatives_detail": [
                {"code": a.code, "text": a.text, "source": a.source} for a in self.alternatives
            ],
            "notes": [r.to_json() for r in self.notes],
            "caveats": list(self.caveats),
            "referral": self.referral,
            "consult_required": self.consult_required,
            "consult_source": _STACK_SOURCE if self.consult_required else None,
            "assumptions": list(self.assumptions),
            "by_region": [{"region": r, "verdict": v} for r, v in self.by_region],
        }


_CAVEAT = (
    "The contraindication catalogue rests on practitioner opinion: the item list of the international "
    "expert Delphi could not be obtained, so no entry claims to be its result. Clinical judgement decides. "
    "Delphi: " + load_bibliography().render_field("@cheatham2025")
)


def _reason(f: Finding, rule: str, *, kind: str | None = None, detail: str = "") -> ScreeningReason:
    return ScreeningReason(
        f.code, f.name, kind or f.kind, f.scope, f.advice, f.source, rule, f.actions, detail
    )


def screen(
    region: str,
    findings: Iterable[str | FindingAt],
    prior_adverse_responses: Sequence[AdverseReport] = (),
    intolerance: bool = False,
    *,
    prior_tolerance: Sequence[str] = (),
    adverse_windows: Mapping[str, float] | None = None,
    catalogue: FindingsCatalogue | None = None,
    regions: Collection[str] | None = None,
) -> ScreeningResult:
    """Screen a patient before a session: verdict, reasons with sources, alternatives when contraindicated.

    Local findings count at the treated region (a finding without a region is taken to be there, and the
    output says so), are at least a precaution in a neighbouring region, and are a note further away;
    systemic findings count wherever they are. Unknown codes raise UnknownCode (a ValueError) with the
    closest matches. Sources: findings catalogue (domain reference §2); Baker & Baker 2017 (§0) for
    intolerance and adverse responses. `prior_tolerance` takes the record's per-session tolerance codes;
    "poorly_tolerated" or "stopped_early" count as intolerance.
    """
    cat = catalogue or load_findings()
    _require_region(region, regions)
    near = load_neighbours().get(region, frozenset())
    reasons: list[ScreeningReason] = []
    notes: list[ScreeningReason] = []
    assumptions: list[str] = []
    for item in findings:
        at = item if isinstance(item, FindingAt) else FindingAt(item)
        f = cat.require(at.code)
        if at.region is not None:
            _require_region(at.region, regions)
        _place(f, at.region, region, near, reasons, notes, assumptions)
    for i, t in enumerate(prior_tolerance):
        if t not in TOLERANCE:
            raise ValueError(f"prior_tolerance[{i}]: {t!r} is not allowed; allowed: {', '.join(TOLERANCE)}")
    poor = [t for t in prior_tolerance if t in ("poorly_tolerated", "stopped_early")]
    if intolerance or poor:
        detail = f"earlier sessions: {', '.join(poor)}" if poor else "recorded intolerance"
        reasons.append(_reason(cat.require("iastm_intolerance"), "screen.intolerance", detail=detail))
    for f, rule, detail, where in _from_adverse(prior_adverse_responses, cat, adverse_windows):
        if where is not None:
            _require_region(where, regions)
        _place(f, where, region, near, reasons, notes, assumptions, rule=rule, detail=detail)
    reasons = _unique(reasons)
    worst = "clear"
    if any(r.kind == "contraindication" for r in reasons):
        worst = "contraindicated"
    elif reasons:
        worst = "precautions"
    reasons.sort(key=lambda r: r.kind != "contraindication")  # stable: contraindications first
    alternatives: tuple[Alternative, ...] = ()
    if worst == "contraindicated":
        codes: list[str] = []
        for r in reasons:
            if r.kind == "contraindication":
                codes += [c for c in cat.require(r.code).alternatives if c not in codes]
        if "exercise_based_care" not in codes:
            codes.append("exercise_based_care")  # always an option: exercise is the cornerstone (§0)
        alternatives = tuple(cat.alternatives[c] for c in codes)
    bleeding = sum(cat.require(r.code).bleeding_risk for r in reasons)
    consult = len(reasons) >= CONSULT_FINDINGS or bleeding >= CONSULT_BLEEDING_FINDINGS
    urgent = any(cat.require(r.code).referral == "urgent" for r in reasons)
    return ScreeningResult(
        region,
        worst,
        tuple(reasons),
        alternatives,
        tuple(notes),
        (_CAVEAT,),
        "urgent" if urgent else None,
        consult,
        tuple(dict.fromkeys(assumptions)),
    )


def _place(
    f: Finding,
    where: str | None,
    treated: str,
    near: Collection[str],
    reasons: list[ScreeningReason],
    notes: list[ScreeningReason],
    assumptions: list[str],
    *,
    rule: str | None = None,
    detail: str = "",
) -> None:
    """Add what finding `f`, recorded at `where`, means for a session on `treated`."""
    here = where is None or where == treated
    if where is None and (f.scope == "local" or f.contraindicated_at_site):
        side = "at" if f.scope == "local" else "away from"
        assumptions.append(
            f"{f.code} has no recorded region: taken to be {side} the treated region {treated}"
            + ("" if f.scope == "local" else " (record malignancy_at_site if it is there)")
        )
        here = f.scope == "local"
    extra = f"; {detail}" if detail else ""
    if f.scope == "local" and not here:
        if where in near:
            reasons.append(
                _reason(
                    f,
                    "screen.adjacent_region",
                    kind="precaution",
                    detail=f"recorded at {where}, next to the treated region {treated}: keep away from it "
                    f"and treat with care (conservative choice, configurable heuristic){extra}",
                )
            )
        elif f.elsewhere == "precaution":
            reasons.append(
                _reason(
                    f,
                    "screen.elsewhere_precaution",
                    kind="precaution",
                    detail=f"recorded at {where}, away from the treated region {treated}: check for fever or "
                    "signs of spread (then record fever_or_systemic_infection); conservative choice, "
                    f"configurable heuristic{extra}",
                )
            )
        else:
            notes.append(
                _reason(
                    f,
                    "screen.local_elsewhere",
                    detail=f"recorded at {where}; not at the treated region {treated}{extra}",
                )
            )
    elif f.contraindicated_at_site and here:
        reasons.append(
            _reason(
                f,
                "screen.at_site",
                kind="contraindication",
                detail=f"recorded at the treated region {treated}: {f.advice}{extra}",
            )
        )
    elif f.contraindicated_at_site and where in near:
        reasons.append(
            _reason(
                f, "screen.adjacent_region", detail=f"recorded at {where}, next to the treated region{extra}"
            )
        )
    elif f.kind == "precaution" and treated in f.contraindicated_regions:
        reasons.append(
            _reason(
                f,
                "screen.region_contraindication",
                kind="contraindication",
                detail=f"a contraindication over {treated} (regions: {', '.join(f.contraindicated_regions)})",
            )
        )
    elif f.kind == "precaution" and f.contraindicated_regions:
        reasons.append(
            _reason(
                f,
                "screen.region_contraindication",
                detail=f"a precaution at {treated}; contraindicated over "
                f"{', '.join(f.contraindicated_regions)}",
            )
        )
    else:
        reasons.append(_reason(f, rule or f"screen.{f.kind}", detail=detail))


def _from_adverse(
    responses: Sequence[AdverseReport], cat: FindingsCatalogue, windows: Mapping[str, float] | None
) -> list[tuple[Finding, str, str, str | None]]:
    """What earlier adverse responses mean for screening: (finding, rule, detail, region where it is)."""
    out: list[tuple[Finding, str, str, str | None]] = []
    for r in responses:
        j = judge(r, windows=windows)
        what = f"{r.severity} {r.type}"
        if r.severity == "severe":
            out.append((cat.require("prior_severe_adverse_response"), "screen.prior_severe", what, None))
        if r.type == "paresthesia":
            out.append((cat.require("prior_paresthesia"), "screen.prior_paresthesia", what, None))
        if not r.resolved:
            # A bruise still present is ecchymosis: do not treat over it (Elite Learning ⚠️, §2).
            code, rule = (
                ("ecchymosis_or_effusion", "screen.unresolved_bruise")
                if r.type == "bruising"
                else ("prior_adverse_response_unresolved", "screen.prior_unresolved")
            )
            out.append((cat.require(code), rule, f"{what} not yet resolved", r.region))
        if j.outlasted:
            prolonged = cat.require("prior_adverse_response_prolonged")
            out.append((prolonged, "screen.prior_prolonged", "; ".join(j.reasons), None))
    return out


def _unique(reasons: list[ScreeningReason]) -> list[ScreeningReason]:
    seen: dict[str, ScreeningReason] = {}
    for r in reasons:
        old = seen.get(r.code)
        if old is None or (r.kind == "contraindication" and old.kind != "contraindication"):
            seen[r.code] = r
    return list(seen.values())


def combine_regions(results: Sequence[ScreeningResult]) -> ScreeningResult:
    """Several regions screened for one session: the worst verdict, every reason (named by region)."""
    if len(results) == 1:
        return results[0]
    reasons: dict[str, ScreeningReason] = {}
    for res in results:
        for r in res.reasons:
            tagged = replace(r, detail=f"{res.region}: {r.detail}" if r.detail else f"at {res.region}")
            old = reasons.get(r.code)
            if old is None or (r.kind == "contraindication" and old.kind != "contraindication"):
                reasons[r.code] = tagged  # one reason per finding: the worst, named by its region
    worst = min((res.verdict for res in results), key=verdict_rank)
    alternatives = {a.code: a for res in results for a in res.alternatives}
    ordered = sorted(reasons.values(), key=lambda r: r.kind != "contraindication")
    return ScreeningResult(
        results[0].region,
        worst,
        tuple(ordered),
        tuple(alternatives.values()),
        tuple(n for res in results for n in res.notes),
        results[0].caveats,
        "urgent" if any(res.referral for res in results) else None,
        any(res.consult_required for res in results),
        tuple(dict.fromkeys(a for res in results for a in res.assumptions)),
        tuple((res.region, res.verdict) for res in results),
    )


def _require_region(code: str, regions: Collection[str] | None) -> None:
    if regions is None:
        load_catalog().require("regions", code)
    elif code not in regions:
        raise UnknownCode("regions", code, difflib.get_close_matches(code, list(regions), n=3, cutoff=0.5))


# ---- the JSON document of `strigil screen` (validated at the edge, then handed to `screen`) ----


class FindingEntry(BaseModel):
    """A finding with the region where it is."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=CODE_CHARS, description="A findings-catalogue code.")
    region: str | None = Field(
        None,
        max_length=CODE_CHARS,
        description="Where the finding is; omitted: at the treated region (said in `assumptions`). A local "
        "finding in a region next to the treated one (the catalogue's neighbour map, "
        "catalog/data/neighbours.toml) is at least a precaution; further away it is a note (an infection "
        "stays a precaution).",
    )


class PriorAdverseEntry(BaseModel):
    """An adverse response to an earlier IASTM session."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(
        max_length=CODE_CHARS,
        description="petechiae, bruising, soreness, skin_irritation, pain_flare, paresthesia, other"
    )
    severity: Literal["mild", "moderate", "severe"]
    resolved_days: float | None = Field(
        None, ge=0, description="Days until it resolved; null = not resolved."
    )
    days_since: float | None = Field(
        None, ge=0, description="Days since the session that caused it (optional)."
    )
    region: str | None = Field(
        None,
        max_length=CODE_CHARS,
        description="Where it is; omitted: at the treated region (an unresolved bruise there blocks).",
    )


class ScreenDocument(BaseModel):
    """Input of `strigil screen FILE.json` (only `region` and `findings` are required)."""

    model_config = ConfigDict(extra="forbid", title="strigil screen input")
    region: str = Field(
        max_length=CODE_CHARS, description="Region code of the area to treat (catalogue of regions)."
    )
    findings: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)] | FindingEntry] = Field(
        max_length=LIST_ITEMS, description="Findings-catalogue codes (or {code, region})."
    )
    prior_adverse_responses: list[PriorAdverseEntry] = Field(default_factory=list, max_length=HISTORY_ITEMS)
    intolerance: bool = Field(False, description="Earlier hypersensitivity or intolerance to IASTM.")
    settings: dict[str, dict[str, float]] | None = Field(
        None,
        description="Clinic settings: adverse_windows_days {type: days} (expected course of each adverse "
        "response type; defaults are configurable heuristics, see strigil.clinical.adverse).",
    )
    prior_tolerance: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)]] = Field(
        default_factory=list,
        max_length=HISTORY_ITEMS,
        description="Tolerance recorded at earlier sessions (well_tolerated, tolerated_with_modification, "
        "poorly_tolerated, stopped_early); the last two count as intolerance.",
    )
    regions: list[Annotated[str, StringConstraints(max_length=CODE_CHARS)]] = Field(
        default_factory=list,
        max_length=LIST_ITEMS,
        description="Further regions to treat in the same session: each is screened, the verdict is the "
        "worst (output: by_region).",
    )
    episode_id: int | None = Field(
        None,
        ge=1,
        description="Store the screening on this episode of the clinic record (`strigil screen --episode "
        "ID`): the episode's own adverse responses and tolerance are added, and `strigil session record` "
        "gates the next session on it. Without it nothing is stored.",
    )


def parse_screen_document(doc: Mapping[str, Any]) -> ScreenDocument:
    """The `strigil screen` document, validated; ValueError names each bad field."""
    try:
        return ScreenDocument.model_validate(doc)
    except ValidationError as exc:
        raise ValueError("; ".join(str(p) for p in problems_from(exc))) from None


def screen_document(
    doc: Mapping[str, Any] | ScreenDocument,
    history: Sequence[AdverseReport] = (),
    history_tolerance: Sequence[str] = (),
) -> ScreeningResult:
    """Screen a `strigil screen` document (every region it names); ValueError names each bad field.

    `history` and `history_tolerance` are the episode's own adverse responses and tolerance, added by the
    record's service when the screening is stored on an episode.
    """
    parsed = doc if isinstance(doc, ScreenDocument) else parse_screen_document(doc)
    findings = [FindingAt(f) if isinstance(f, str) else FindingAt(f.code, f.region) for f in parsed.findings]
    prior = list(history)
    for i, a in enumerate(parsed.prior_adverse_responses):
        try:
            prior.append(AdverseReport(a.type, a.severity, a.resolved_days, None, a.days_since, a.region))
        except ValueError as exc:
            raise ValueError(f"prior_adverse_responses[{i}]: {exc}") from None
    windows = _windows(parsed.settings or {})
    regions = list(dict.fromkeys([parsed.region, *parsed.regions]))
    return combine_regions(
        [
            screen(
                region,
                findings,
                prior,
                parsed.intolerance,
                prior_tolerance=[*history_tolerance, *parsed.prior_tolerance],
                adverse_windows=windows,
            )
            for region in regions
        ]
    )


def _windows(settings: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    for key in settings:
        if key != "adverse_windows_days":
            raise ValueError(f"settings.{key}: unknown setting; allowed: adverse_windows_days")
    out: dict[str, float] = {}
    for kind, days in settings.get("adverse_windows_days", {}).items():
        if kind not in DEFAULT_COURSES:
            known = ", ".join(DEFAULT_COURSES)
            raise ValueError(f"settings.adverse_windows_days.{kind}: unknown adverse type; allowed: {known}")
        if not math.isfinite(days) or days < 0:
            raise ValueError(f"settings.adverse_windows_days.{kind}: {days!r}; allowed: a number of days ≥ 0")
        out[kind] = float(days)
    return out
