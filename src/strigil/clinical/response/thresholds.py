"""The one threshold rule: how large a change must be to count as meaningful, for one measure and episode.

The bar is the larger of
  (a) the measure's minimal detectable change for the episode's population — the MDC, or another
      measurement-error figure the catalogue lists (SDC, SEM, limits of agreement) — else the largest the
      catalogue lists for the measure, and
  (b) the MCID for the episode's condition (or the clinic's population setting), where an MCID given as
      "value or percent of baseline" means the smaller of the two: either suffices (Ostelo RW et al. Spine
      2008;33(1):90–94, https://doi.org/10.1097/BRS.0b013e31815e3a10 — "2 points or 30 %", the NPRS default).
A change inside the measurement error cannot be told from noise, so it is never meaningful, better or worse:
the authors of the NDI responsiveness study advise against their own MCID of 7.5 because it lies within error
(domain reference §4). MCIDs depend on population, baseline and method (Wright A et al. J Man Manip Ther
2012;20(3):160, https://pmc.ncbi.nlm.nih.gov/articles/PMC3419574), so the catalogue maps each entry to the
conditions whose population it studied. Range of motion is judged per joint and motion where the catalogue
gives one; without them the largest error listed for the measure applies, labelled as a fallback.

Every view — the decision aid, the episode page, the command line, the registry, the discharge summary —
asks `change_bar` and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from strigil.catalog import Catalog, Measure, Threshold, load_bibliography, load_catalog

__all__ = ["BAR_RULE_SOURCE", "ChangeBar", "ChosenThreshold", "change_bar"]

BAR_RULE_SOURCE = (
    "The larger of the MDC and the MCID: a change within measurement error is not meaningful (the NDI "
    "responsiveness study: the MCID of 7.5 lies within error, the authors advise 10); MCIDs depend on "
    "population; 'value or percent' = the smaller. Sources: "
    + load_bibliography().render_field("@ndi_responsiveness; @wright2012; @ostelo2008")
)


@dataclass(frozen=True, slots=True)
class ChosenThreshold:
    """One MCID or MDC the rule chose, with its population, source and why it applies here."""

    role: Literal["MCID", "MDC", "clinic setting"]
    kind: str  # the catalogue's name for it: MCID, MDC, MDC90, SDC, SEM, limits of agreement, …
    value: float | None  # in the measure's units
    percent: float | None  # % of the episode's baseline
    population: str
    source: str
    basis: str  # why this entry: the condition, the clinic's population, the default, the largest listed
    note: str = ""
    verified: bool = True

    def units(self, baseline: float) -> float | None:
        """This threshold in the measure's units: the value, or the percentage of baseline if smaller.

        "2 points or 30 %" (Ostelo 2008) means either suffices, so the smaller is the threshold; the
        percentage is of the episode's baseline (its first pre-test). A percentage of a zero baseline is none.
        """
        options = [] if self.value is None else [self.value]
        if self.percent is not None and baseline != 0:
            options.append(abs(baseline) * self.percent / 100.0)
        return min(options) if options else None

    def to_json(self, baseline: float) -> dict[str, Any]:
        """JSON-ready form, with the threshold in units at this baseline."""
        return {
            "kind": self.kind,
            "value": self.value,
            "percent": self.percent,
            "units": _r(self.units(baseline)),
            "population": self.population,
            "source": self.source,
            "basis": self.basis,
            "note": self.note,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class ChangeBar:
    """The bar a change of one measure must reach in one episode: max(applicable MDCs, the MCID)."""

    measure: str
    unit: str
    mcid: ChosenThreshold | None
    mdcs: tuple[ChosenThreshold, ...]  # every measurement-error figure that applies; the largest counts
    condition: str | None = None
    notes: tuple[str, ...] = ()

    def mdc(self, baseline: float) -> ChosenThreshold | None:
        """The largest applicable measurement-error figure at this baseline (None without one)."""
        sized = [(u, t) for t in self.mdcs if (u := t.units(baseline)) is not None]
        return max(sized, key=lambda x: x[0])[1] if sized else None

    def units(self, baseline: float) -> float | None:
        """The bar in the measure's units at this baseline; None when nothing can judge the measure."""
        both = (self.mcid, self.mdc(baseline))
        sizes = [u for t in both if t is not None and (u := t.units(baseline)) is not None]
        return max(sizes) if sizes else None

    def deciding(self, baseline: float) -> ChosenThreshold | None:
        """The threshold that sets the bar (the MCID when it equals the MDC)."""
        mdc = self.mdc(baseline)
        mcid_units = None if self.mcid is None else self.mcid.units(baseline)
        mdc_units = None if mdc is None else mdc.units(baseline)
        if mcid_units is not None and (mdc_units is None or mcid_units >= mdc_units):
            return self.mcid
        return mdc

    def meaningful(self, change: float | None, baseline: float) -> bool:
        """True when `change` (positive = better) reaches the bar; never inside the measurement error."""
        bar = self.units(baseline)
        # A relative tolerance keeps 0.3 - 0.1 ≥ 0.2 true despite binary floating point.
        return change is not None and bar is not None and change > 0 and change >= bar * (1 - 1e-9)

    def describe(self, baseline: float) -> str:
        """One line for people: the bar, what sets it, its population and source, and the other threshold."""
        bar, by = self.units(baseline), self.deciding(baseline)
        if bar is None or by is None:
            return f"{self.measure}: no MCID or MDC in the catalogue (not judged)"
        text = f"{_num(bar)} {self.unit} ({by.kind}, {by.population}; {by.source.split(' — ')[0]})"
        other = self.mdc(baseline) if by.role != "MDC" else self.mcid
        if other is not None and (units := other.units(baseline)) is not None:
            fallback = ", a fallback" if other.basis in self.notes else ""
            text += f"; {other.kind} {_num(units)} {self.unit} ({other.population}{fallback})"
        if by.basis in self.notes:  # a fallback says so wherever the bar is shown, as the JSON notes do
            text += f" — {by.basis if by.basis.startswith('fallback') else 'fallback: ' + by.basis}"
        return text

    def to_json(self, baseline: float) -> dict[str, Any]:
        """JSON-ready form: the bar, what decided it, and both thresholds with population and source."""
        by = self.deciding(baseline)
        mdc = self.mdc(baseline)
        return {
            "value": _r(self.units(baseline)),
            "decided_by": None if by is None else by.role,
            "mcid": None if self.mcid is None else self.mcid.to_json(baseline),
            "mdc": None if mdc is None else mdc.to_json(baseline),
            "condition": self.condition,
            "notes": list(self.notes),
            "rule": BAR_RULE_SOURCE,
        }


def change_bar(
    measure: Measure | str,
    *,
    condition: str | None = None,
    population: str | None = None,
    clinic_value: float | None = None,
    joint: str | None = None,
    motion: str | None = None,
    catalog: Catalog | None = None,
) -> ChangeBar | None:
    """The bar for a meaningful change of `measure` in an episode of `condition` (a condition code).

    `population` (the clinic's setting: words of a catalogue population, e.g. "neck") is matched before the
    condition; `clinic_value` (the clinic's own MCID, in the measure's units) replaces the catalogue's MCID
    but never the measurement error. `joint`/`motion` pick a range-of-motion error. None when the catalogue
    has neither an MCID nor an MDC and the clinic set none (e.g. grip strength). Unknown codes raise
    UnknownCode (a ValueError). Method: the module docstring (Ostelo 2008; Wright 2012; domain reference §4).
    """
    cat = catalog or load_catalog()
    m = measure if isinstance(measure, Measure) else cat.require("measures", measure)
    if condition is not None:
        cat.require("conditions", condition)
    notes: list[str] = []
    mcid = _mcid(m, condition, population, clinic_value, notes)
    mdcs = _mdcs(m, condition, population, joint, motion, notes)
    if mcid is None and not mdcs:
        return None
    return ChangeBar(m.code, m.unit, mcid, mdcs, condition, tuple(notes))


def _numbers(entries: Iterable[Threshold]) -> list[Threshold]:
    return [t for t in entries if t.value is not None or t.percent is not None]


def _size(t: Threshold) -> tuple[float, float]:
    return (t.value or 0.0, t.percent or 0.0)


def _pick(matches: Sequence[Threshold]) -> Threshold:
    """Of several entries for one population: a verified one, the largest (the safer bar)."""
    verified = [t for t in matches if t.verified]
    return max(verified or matches, key=_size)


def _chosen(t: Threshold, role: Literal["MCID", "MDC"], basis: str) -> ChosenThreshold:
    note = t.note
    if not t.verified:
        note = (note + "; " if note else "") + "value not confirmed (unverified)"
    return ChosenThreshold(role, t.kind, t.value, t.percent, t.population, t.source, basis, note, t.verified)


def _mcid(
    m: Measure, condition: str | None, population: str | None, clinic_value: float | None, notes: list[str]
) -> ChosenThreshold | None:
    if clinic_value is not None:
        return ChosenThreshold(
            "clinic setting", "clinic setting", clinic_value, None, "clinic", "clinic setting",
            "settings.thresholds (the clinic's own MCID; the measurement error still applies)",
        )
    entries = _numbers(m.mcids)
    if not entries:
        return None
    if population:
        matches = [t for t in entries if population.lower() in t.population.lower()]
        if matches:
            return _chosen(_pick(matches), "MCID", f"the clinic's population setting {population!r}")
        notes.append(f"no MCID for population {population!r}")
    if condition:
        matches = [t for t in entries if condition in t.conditions]
        if matches:
            return _chosen(_pick(matches), "MCID", f"the episode's condition ({condition})")
    default = next((t for t in entries if t.default), None) or next((t for t in entries if t.verified), None)
    chosen = default or entries[0]
    if condition:
        # an MCID of another condition: said wherever the bar is shown, as a range-of-motion fallback is
        basis = (
            f"fallback: no MCID for condition {condition} — the measure's default MCID, from another "
            f"condition ({chosen.population}), applies"
        )
        notes.append(basis)
        return _chosen(chosen, "MCID", basis)
    given = "no population matched" if population else "no condition or population given"
    return _chosen(chosen, "MCID", f"the measure's default MCID ({given})")


def _mdcs(
    m: Measure,
    condition: str | None,
    population: str | None,
    joint: str | None,
    motion: str | None,
    notes: list[str],
) -> tuple[ChosenThreshold, ...]:
    entries = _numbers(m.mdcs)
    if not entries:
        if m.mcids:
            notes.append(f"{m.code} has no MDC in the catalogue: the MCID alone is the bar")
        return ()
    matches: list[Threshold] = []
    basis = ""
    if any(t.joint for t in entries):  # range of motion: the error depends on the joint and motion
        if joint:
            matches = [
                t for t in entries if t.joint == joint and (motion is None or t.motion in (None, motion))
            ]
            basis = f"the error measured for {joint}{' ' + motion if motion else ''}"
        lacking = (
            f"no measurement error listed for {joint}{' ' + motion if motion else ''}"
            if joint
            else "no joint or motion recorded with the measurement"
        )
        fallback = f"fallback: {lacking} — the largest error the catalogue lists for {m.code} applies"
    else:
        if population:
            matches = [t for t in entries if population.lower() in t.population.lower()]
            basis = f"the clinic's population setting {population!r}"
        if not matches and condition:
            matches = [t for t in entries if condition in t.conditions]
            basis = f"the episode's condition ({condition})"
        lacking = "no MDC for this population" if population or condition else "no condition or population"
        fallback = f"{lacking}: the largest MDC the catalogue lists for {m.code} applies"
    if matches:
        return tuple(_chosen(t, "MDC", basis) for t in matches)
    notes.append(fallback)
    return tuple(_chosen(t, "MDC", fallback) for t in entries)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 9)


def _num(x: float) -> str:
    """A bar for people: at most three decimals, no trailing zeros (10.83, 1.77, 160)."""
    return f"{round(x, 3):g}"
