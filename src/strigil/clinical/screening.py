"""Contraindication screening, run at the start of every session (not only at intake).

Input: the patient's findings (codes of the findings catalogue, `catalog/data/findings.toml`), the region to
treat, earlier adverse responses and tolerance. Output: a verdict — `contraindicated`, `precautions` or
`clear` — the reasons with their sources and advice, and, when contraindicated, what to do instead.

The catalogue rests on practitioner sources (⚠️) because the Cheatham 2025 Delphi item list could not be
retrieved (❓ unverified; domain reference §2); see the header of findings.toml.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strigil.catalog import UnknownCode, load_bibliography, load_catalog
from strigil.clinical.adverse import DEFAULT_COURSES, AdverseReport, judge
from strigil.clinical.checks import problems_from
from strigil.clinical.vocabulary import Tolerance, allowed

__all__ = [
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
    "load_findings",
    "screen",
    "screen_document",
    "verdict_rank",
]

TOLERANCE: tuple[str, ...] = allowed(Tolerance)

# From worst to best; `verdict_rank` orders them so that tests and callers can compare verdicts.
VERDICTS: tuple[str, ...] = ("contraindicated", "precautions", "clear")


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
        if entry.code in findings:
            raise ValueError(f"findings.toml: duplicate code {entry.code!r}")
        findings[entry.code] = entry
    return FindingsCatalogue(findings, alternatives)


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

    Local findings count only when at the treated region (a finding without a region is taken to be there);
    systemic findings count wherever they are. Unknown codes raise UnknownCode (a ValueError) with the
    closest matches. Sources: findings catalogue (domain reference §2); Baker & Baker 2017 (§0) for
    intolerance and adverse responses. `prior_tolerance` takes the record's per-session tolerance codes;
    "poorly_tolerated" or "stopped_early" count as intolerance.
    """
    cat = catalogue or load_findings()
    _require_region(region, regions)
    reasons: list[ScreeningReason] = []
    notes: list[ScreeningReason] = []
    for item in findings:
        at = item if isinstance(item, FindingAt) else FindingAt(item)
        f = cat.require(at.code)
        if at.region is not None:
            _require_region(at.region, regions)
        here = at.region is None or at.region == region
        if f.scope == "local" and not here:
            notes.append(
                _reason(
                    f,
                    "screen.local_elsewhere",
                    detail=f"recorded at {at.region}; not at the treated region {region}",
                )
            )
        elif f.kind == "precaution" and region in f.contraindicated_regions:
            reasons.append(
                _reason(
                    f,
                    "screen.region_contraindication",
                    kind="contraindication",
                    detail=f"a contraindication over {region} "
                    f"(regions: {', '.join(f.contraindicated_regions)})",
                )
            )
        elif f.kind == "precaution" and f.contraindicated_regions:
            reasons.append(
                _reason(
                    f,
                    "screen.region_contraindication",
                    detail=f"a precaution at {region}; contraindicated over "
                    f"{', '.join(f.contraindicated_regions)}",
                )
            )
        else:
            reasons.append(_reason(f, f"screen.{f.kind}"))
    for i, t in enumerate(prior_tolerance):
        if t not in TOLERANCE:
            raise ValueError(f"prior_tolerance[{i}]: {t!r} is not allowed; allowed: {', '.join(TOLERANCE)}")
    poor = [t for t in prior_tolerance if t in ("poorly_tolerated", "stopped_early")]
    if intolerance or poor:
        detail = f"earlier sessions: {', '.join(poor)}" if poor else "recorded intolerance"
        reasons.append(_reason(cat.require("iastm_intolerance"), "screen.intolerance", detail=detail))
    reasons.extend(_from_adverse(prior_adverse_responses, cat, adverse_windows))
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
    return ScreeningResult(region, worst, tuple(reasons), alternatives, tuple(notes), (_CAVEAT,))


def _from_adverse(
    responses: Sequence[AdverseReport], cat: FindingsCatalogue, windows: Mapping[str, float] | None
) -> list[ScreeningReason]:
    out: list[ScreeningReason] = []
    for r in responses:
        j = judge(r, windows=windows)
        what = f"{r.severity} {r.type}"
        if r.severity == "severe":
            out.append(
                _reason(cat.require("prior_severe_adverse_response"), "screen.prior_severe", detail=what)
            )
        if r.type == "paresthesia":
            out.append(_reason(cat.require("prior_paresthesia"), "screen.prior_paresthesia", detail=what))
        if not r.resolved:
            if r.type == "bruising":
                # A bruise still present is ecchymosis: do not treat over it (Elite Learning ⚠️, §2).
                out.append(
                    _reason(
                        cat.require("ecchymosis_or_effusion"),
                        "screen.unresolved_bruise",
                        detail=f"{what} not yet resolved",
                    )
                )
            else:
                out.append(
                    _reason(
                        cat.require("prior_adverse_response_unresolved"),
                        "screen.prior_unresolved",
                        detail=f"{what} not yet resolved",
                    )
                )
        if j.outlasted:
            out.append(
                _reason(
                    cat.require("prior_adverse_response_prolonged"),
                    "screen.prior_prolonged",
                    detail="; ".join(j.reasons),
                )
            )
    return out


def _unique(reasons: list[ScreeningReason]) -> list[ScreeningReason]:
    seen: dict[str, ScreeningReason] = {}
    for r in reasons:
        old = seen.get(r.code)
        if old is None or (r.kind == "contraindication" and old.kind != "contraindication"):
            seen[r.code] = r
    return list(seen.values())


def _require_region(code: str, regions: Collection[str] | None) -> None:
    if regions is None:
        load_catalog().require("regions", code)
    elif code not in regions:
        raise UnknownCode("regions", code, difflib.get_close_matches(code, list(regions), n=3, cutoff=0.5))


# ---- the JSON document of `strigil screen` (validated at the edge, then handed to `screen`) ----


class FindingEntry(BaseModel):
    """A finding with the region where it is."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="A findings-catalogue code.")
    region: str | None = Field(None, description="Where the finding is; omitted: at the treated region.")


class PriorAdverseEntry(BaseModel):
    """An adverse response to an earlier IASTM session."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(
        description="petechiae, bruising, soreness, skin_irritation, pain_flare, paresthesia, other"
    )
    severity: Literal["mild", "moderate", "severe"]
    resolved_days: float | None = Field(
        None, ge=0, description="Days until it resolved; null = not resolved."
    )
    days_since: float | None = Field(
        None, ge=0, description="Days since the session that caused it (optional)."
    )


class ScreenDocument(BaseModel):
    """Input of `strigil screen FILE.json` (only `region` and `findings` are required)."""

    model_config = ConfigDict(extra="forbid", title="strigil screen input")
    region: str = Field(description="Region code of the area to treat (catalogue of regions).")
    findings: list[str | FindingEntry] = Field(description="Findings-catalogue codes (or {code, region}).")
    prior_adverse_responses: list[PriorAdverseEntry] = Field(default_factory=list)
    intolerance: bool = Field(False, description="Earlier hypersensitivity or intolerance to IASTM.")
    settings: dict[str, dict[str, float]] | None = Field(
        None,
        description="Clinic settings: adverse_windows_days {type: days} (expected course of each adverse "
        "response type; defaults are configurable heuristics, see strigil.clinical.adverse).",
    )
    prior_tolerance: list[str] = Field(
        default_factory=list,
        description="Tolerance recorded at earlier sessions (well_tolerated, tolerated_with_modification, "
        "poorly_tolerated, stopped_early); the last two count as intolerance.",
    )


def screen_document(doc: Mapping[str, Any]) -> ScreeningResult:
    """Validate a `strigil screen` JSON document and screen it; ValueError names each bad field."""
    try:
        parsed = ScreenDocument.model_validate(doc)
    except ValidationError as exc:
        raise ValueError("; ".join(str(p) for p in problems_from(exc))) from None
    findings = [FindingAt(f) if isinstance(f, str) else FindingAt(f.code, f.region) for f in parsed.findings]
    prior = []
    for i, a in enumerate(parsed.prior_adverse_responses):
        try:
            prior.append(AdverseReport(a.type, a.severity, a.resolved_days, None, a.days_since))
        except ValueError as exc:
            raise ValueError(f"prior_adverse_responses[{i}]: {exc}") from None
    return screen(
        parsed.region,
        findings,
        prior,
        parsed.intolerance,
        prior_tolerance=parsed.prior_tolerance,
        adverse_windows=_windows(parsed.settings or {}),
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
