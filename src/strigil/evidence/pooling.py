"""Summaries by condition × outcome: one study's estimate, or a random-effects pool of two or more.

Comparable = same condition code, same outcome, a between-group comparison, and not a second comparison
that reuses an arm already counted (`primary = false`). Pools use strigil.meta.rma with REML and the
Knapp–Hartung adjustment (`test="knha"`), which keeps the interval honest when k is small (IntHout et al.,
BMC Med Res Methodol 2014). The mean difference is pooled when every study used the same measure and unit;
otherwise the standardized mean difference (Hedges' g).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from strigil.evidence.effect_sizes import StudyEffect, study_effects
from strigil.evidence.grade import Grade, GradeInputs, GradeRules, rate
from strigil.evidence.library import Library
from strigil.evidence.records import Study

__all__ = ["OutcomeSummary", "pool_effects", "summarise_condition"]


@dataclass(frozen=True)
class OutcomeSummary:
    """The best estimate for one outcome of one condition, with its GRADE certainty."""

    outcome: str
    label: str
    k: int
    n: int
    measure: str
    effect: float
    ci: tuple[float, float]
    unit: str
    measure_code: str | None
    higher_is_better: bool
    studies: tuple[str, ...]
    grade: Grade
    smd: float | None = None
    i2: float | None = None
    tau2: float | None = None
    model: str = "single study"

    @property
    def certainty(self) -> str:
        """The GRADE level: high, moderate, low or very low."""
        return self.grade.certainty

    @property
    def favours(self) -> str:
        """'iastm' or 'comparison' when the interval excludes no effect, else 'unclear'."""
        lo, hi = self.ci
        if lo <= 0 <= hi:
            return "unclear"
        better = (self.effect > 0) == self.higher_is_better
        return "iastm" if better else "comparison"


def _indirect_reasons(study: Study) -> list[str]:
    why = []
    if study.related_technique:
        why.append(f"{study.id} used a related technique ({study.related_technique})")
    if "nearest" in study.condition_note:
        why.append(f"{study.id}'s population is mapped to the nearest condition code")
    return why


def _grade_inputs(
    effects: list[StudyEffect],
    studies: Mapping[str, Study],
    ci: tuple[float, float],
    i2: float | None,
    small_study_p: float | None = None,
) -> GradeInputs:
    chosen = [studies[e.study] for e in effects]
    flagged = [
        f"{s.id} row {e.row}: {f.field}"
        for e, s in zip(effects, chosen, strict=True)
        for f in s.flags
        if f.doubtful and e.row in f.rows
    ]
    return GradeInputs(
        designs=tuple(s.design for s in chosen),
        pedro=tuple(s.pedro for s in chosen),
        n=tuple(e.n or 0 for e in effects),
        ci=ci,
        i2=i2,
        flagged_numbers=tuple(flagged),
        indirectness=tuple(r for s in chosen for r in _indirect_reasons(s)),
        small_study_p=small_study_p,
    )


def pool_effects(
    effects: list[StudyEffect], studies: Mapping[str, Study], rules: GradeRules | None = None
) -> OutcomeSummary:
    """Combine comparable study effects on one outcome (k = 1: the study itself) and rate the certainty."""
    from strigil.meta import rma

    if not effects:
        raise ValueError("no effects to pool")
    if not _poolable(effects):
        raise ValueError(
            "these effects share neither a scale nor standardized effects; they cannot be pooled"
        )
    same_scale = len({(e.measure_code, e.unit) for e in effects}) == 1 and all(
        e.md is not None for e in effects
    )
    if same_scale:
        measure, ys, vs = "MD", [e.md for e in effects], [e.md_vi for e in effects]
    else:
        measure, ys, vs = "SMD", [e.smd for e in effects], [e.smd_vi for e in effects]
    smds = [e.smd for e in effects]
    first = effects[0]
    common: dict[str, Any] = dict(
        outcome=first.outcome,
        label=first.label if len(effects) == 1 else first.outcome.replace("_", " "),
        k=len(effects),
        n=sum(e.n or 0 for e in effects),
        measure=measure,
        unit=first.unit if measure == "MD" else "SD units",
        measure_code=first.measure_code if measure == "MD" else None,
        higher_is_better=first.higher_is_better,
        studies=tuple(e.study for e in effects),
    )
    if len(effects) == 1:
        ci = first.md_ci if measure == "MD" else first.smd_ci
        assert ci is not None and ys[0] is not None
        grade = rate(_grade_inputs(effects, studies, ci, None), rules)
        return OutcomeSummary(effect=ys[0], ci=ci, grade=grade, smd=smds[0], **common)
    fit = rma(ys, vs, method="REML", test="knha")
    coef = fit.beta[0]
    ci = (float(coef.ci_lb), float(coef.ci_ub))
    pooled_smd = None
    if all(s is not None for s in smds):
        pooled_smd = float(
            rma(smds, [e.smd_vi for e in effects], method="REML", test="knha").beta[0].estimate
        )
    rules = rules or GradeRules()
    small_study_p = None
    if len(effects) >= rules.min_k_publication_bias:
        # Egger's regression test (Egger et al., BMJ 1997), as metafor's regtest(model="rma", predictor="sei")
        small_study_p = float(fit.regtest().pval)
    grade = rate(_grade_inputs(effects, studies, ci, float(fit.I2), small_study_p), rules)
    return OutcomeSummary(
        effect=float(coef.estimate),
        ci=ci,
        grade=grade,
        smd=pooled_smd,
        i2=float(fit.I2),
        tau2=float(fit.tau2),
        model="random effects (REML, Knapp-Hartung)",
        **common,
    )


def summarise_condition(
    library: Library,
    condition: str,
    effects: Iterable[StudyEffect] | None = None,
    rules: GradeRules | None = None,
) -> list[OutcomeSummary]:
    """One summary per outcome for which the condition's studies give usable between-group numbers."""
    pool = study_effects(library) if effects is None else list(effects)
    groups: dict[str, list[StudyEffect]] = {}
    for e in pool:
        if e.usable and e.primary and library.studies[e.study].condition == condition:
            groups.setdefault(e.outcome, []).append(e)
    out = []
    for group in groups.values():
        if _poolable(group):
            out.append(pool_effects(group, library.studies, rules))
            continue
        # no common scale and no SMD for every study (e.g. a printed MD without SDs): one summary per scale
        scales: dict[tuple[str | None, str], list[StudyEffect]] = {}
        for e in group:
            scales.setdefault((e.measure_code, e.unit), []).append(e)
        out += [pool_effects(part, library.studies, rules) for part in scales.values()]
    return out


def _poolable(effects: list[StudyEffect]) -> bool:
    same_scale = len({(e.measure_code, e.unit) for e in effects}) == 1 and all(
        e.md is not None for e in effects
    )
    return same_scale or all(e.smd is not None for e in effects)
