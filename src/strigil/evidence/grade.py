"""GRADE certainty of a body of evidence, from explicit rules (written out in docs/evidence.md).

GRADE (the GRADE Working Group's approach, Guyatt et al., J Clin Epidemiol 2011 series) starts randomized
evidence at "high" and other designs at "low", then rates down for risk of bias, inconsistency, indirectness,
imprecision and publication bias. GRADE itself asks for judgement; Strigil replaces the judgement by the fixed
rules below so that every rating can be reproduced and tested. Every threshold is a *configurable
heuristic* (no source fixes it for IASTM); they live in `GradeRules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strigil.evidence.records import RANDOMIZED_DESIGNS

__all__ = ["LEVELS", "Grade", "GradeInputs", "GradeRules", "rate"]

LEVELS = ("very low", "low", "moderate", "high")


@dataclass(frozen=True)
class GradeRules:
    """The thresholds of the rules; all are configurable heuristics, not published cut-offs."""

    pedro_adequate: float = 6.0  # mean PEDro below this → serious risk of bias
    i2_serious: float = 50.0  # I² above this (k ≥ 2) → serious inconsistency
    i2_very_serious: float = 75.0  # I² above this → very serious inconsistency
    optimal_information_size: int = 400  # total participants below this → serious imprecision
    single_small_study_n: int = 100  # one study with fewer participants → very serious imprecision (−2)
    min_k_publication_bias: int = 10  # fewer studies → small-study effects cannot be assessed
    small_study_p: float = 0.10  # small-study (Egger-type) test p below this → rate down


@dataclass(frozen=True)
class GradeInputs:
    """What the rules look at, for one outcome (one pooled or single-study estimate)."""

    designs: tuple[str, ...]
    pedro: tuple[int | None, ...]
    n: tuple[int, ...]
    ci: tuple[float, float]
    i2: float | None = None
    flagged_numbers: tuple[str, ...] = ()  # why a contributing number is doubtful
    indirectness: tuple[str, ...] = ()  # why a contributing study answers a different question
    small_study_p: float | None = None

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.designs)


@dataclass(frozen=True)
class Grade:
    """The certainty, where it started, and how many levels each domain took off, with reasons."""

    certainty: str
    start: str
    downgrades: dict[str, int] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


def _risk_of_bias(x: GradeInputs, rules: GradeRules) -> tuple[int, list[str]]:
    steps, why = 0, []
    unknown = sum(p is None for p in x.pedro)
    if unknown:
        steps = 1
        why.append(f"risk of bias: {unknown} of {x.k} studies have no published PEDro score (not assessed)")
    else:
        mean = sum(p for p in x.pedro if p is not None) / x.k
        if mean < rules.pedro_adequate:
            steps = 1
            why.append(f"risk of bias: mean PEDro {mean:.1f} < {rules.pedro_adequate:g}")
    if x.flagged_numbers:
        steps += 1
        why.append("risk of bias: doubtful printed numbers (" + "; ".join(x.flagged_numbers) + ")")
    return min(steps, 2), why


def _inconsistency(x: GradeInputs, rules: GradeRules) -> tuple[int, list[str]]:
    if x.k < 2 or x.i2 is None:
        return 0, ["inconsistency: not assessable with one study"] if x.k < 2 else []
    if x.i2 > rules.i2_very_serious:
        return 2, [f"inconsistency: I² {x.i2:.0f}% > {rules.i2_very_serious:g}%"]
    if x.i2 > rules.i2_serious:
        return 1, [f"inconsistency: I² {x.i2:.0f}% > {rules.i2_serious:g}%"]
    return 0, []


def _indirectness(x: GradeInputs) -> tuple[int, list[str]]:
    if x.indirectness:
        return 1, ["indirectness: " + "; ".join(x.indirectness)]
    return 0, []


def _imprecision(x: GradeInputs, rules: GradeRules) -> tuple[int, list[str]]:
    steps, why = 0, []
    total = sum(x.n)
    if x.k == 1 and total < rules.single_small_study_n:
        # one small trial: its estimate is fragile and nothing can corroborate it (configurable heuristic)
        steps += 2
        why.append(f"imprecision: a single study of {total} participants < {rules.single_small_study_n}")
    elif total < rules.optimal_information_size:
        steps += 1
        why.append(f"imprecision: {total} participants < {rules.optimal_information_size}")
    lo, hi = x.ci
    if lo <= 0 <= hi:
        steps += 1
        why.append("imprecision: the confidence interval includes no effect")
    return min(steps, 2), why


def _publication_bias(x: GradeInputs, rules: GradeRules) -> tuple[int, list[str]]:
    if x.k < rules.min_k_publication_bias or x.small_study_p is None:
        return 0, [
            f"publication bias: not assessable with {x.k} studies (fewer than {rules.min_k_publication_bias})"
        ]
    if x.small_study_p < rules.small_study_p:
        return 1, [f"publication bias: small-study test p={x.small_study_p:.3f} < {rules.small_study_p:g}"]
    return 0, []


def rate(inputs: GradeInputs, rules: GradeRules | None = None) -> Grade:
    """Rate the certainty of one outcome's evidence with Strigil's explicit GRADE rules."""
    rules = rules or GradeRules()
    if inputs.k == 0:
        raise ValueError("GRADE needs at least one study")
    if len(inputs.pedro) != inputs.k or len(inputs.n) != inputs.k:
        raise ValueError("designs, pedro and n must have one entry per study")
    start = "high" if all(d in RANDOMIZED_DESIGNS for d in inputs.designs) else "low"
    domains = {
        "risk_of_bias": _risk_of_bias(inputs, rules),
        "inconsistency": _inconsistency(inputs, rules),
        "indirectness": _indirectness(inputs),
        "imprecision": _imprecision(inputs, rules),
        "publication_bias": _publication_bias(inputs, rules),
    }
    total = sum(steps for steps, _ in domains.values())
    level = max(0, LEVELS.index(start) - total)
    reasons = tuple(reason for _, why in domains.values() for reason in why)
    return Grade(LEVELS[level], start, {name: steps for name, (steps, _) in domains.items()}, reasons)
