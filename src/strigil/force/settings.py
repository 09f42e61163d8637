"""Every setting of the force analysis, with its unit, its meaning and its default.

No published study fixes these values: each default is a configurable heuristic chosen for force-plate and
instrumented-tool recordings of IASTM strokes (strokes last tenths of a second to seconds and come at
0.25–1 Hz), and each is reported with the results so that an analysis can be repeated exactly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["HEURISTIC", "ForceSettings", "SettingsError", "describe_settings", "settings_from_pairs"]

HEURISTIC = "configurable heuristic"


def _field(default: Any, unit: str, meaning: str, **limits: Any) -> Any:
    return Field(default=default, description=meaning, json_schema_extra={"unit": unit}, **limits)


class ForceSettings(BaseModel):
    """The settings of cleaning, stroke segmentation and set grouping (defaults: configurable heuristics)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # ---- cleaning -------------------------------------------------------------------------------
    baseline: Literal["rest", "start", "none"] = _field(
        "rest",
        "",
        "How the zero of the force is found: 'rest' follows the force between strokes (tare and drift), "
        "'start' subtracts the median of the first tare_s seconds (tare only), 'none' trusts the file's zero",
    )
    tare_s: float = _field(1.0, "s", "Length of the quiet start used by baseline='start'", gt=0, le=60)
    drift_window_s: float = _field(
        10.0,
        "s",
        "Length of the windows in which baseline='rest' measures the resting force; the baseline is "
        "interpolated between window centres, so drift slower than this is removed",
        ge=1,
        le=600,
    )
    mains_hz: tuple[float, ...] = _field(
        (50.0, 60.0),
        "Hz",
        "Mains frequencies removed by notch filters (both 50 and 60 Hz by default, so that the country "
        "need not be known); empty for none",
    )
    notch_q: float = _field(30.0, "", "Quality factor of each notch (width = frequency / Q)", gt=1, le=200)
    lowpass_hz: float | None = _field(
        10.0,
        "Hz",
        "Cut-off of the zero-phase Butterworth low-pass that removes noise; None for no low-pass",
        gt=0,
    )
    lowpass_order: int = _field(4, "", "Order of the low-pass (applied forwards and backwards)", ge=1, le=8)

    # ---- segmentation ---------------------------------------------------------------------------
    onset_n: float = _field(1.0, "N", "A stroke is found when the normal force rises above this", gt=0)
    offset_n: float = _field(
        0.5,
        "N",
        "Contact level: a stroke runs from the moment the force rose above this to the moment it fell below "
        "it again (hysteresis: below onset_n); duration, mean force and impulse cover that time",
        gt=0,
    )
    min_duration_s: float = _field(0.15, "s", "Shorter bursts are not strokes", ge=0, le=10)
    merge_gap_s: float = _field(
        0.1,
        "s",
        "A dip below offset_n shorter than this is a brief loss of contact inside one stroke",
        ge=0,
        le=5,
    )
    split_valley_ratio: float = _field(
        0.6,
        "",
        "Strokes that follow without a return to rest are split at a force minimum no higher than this "
        "fraction of the lower of the peaks on either side; 0 never splits",
        ge=0,
        lt=1,
    )
    set_gap_s: float = _field(5.0, "s", "A rest longer than this between strokes starts a new set", gt=0)

    @model_validator(mode="after")
    def _hysteresis(self) -> ForceSettings:
        if self.offset_n >= self.onset_n:
            raise ValueError(
                f"offset_n ({self.offset_n:g} N) must be below onset_n ({self.onset_n:g} N) for hysteresis"
            )
        if any(not 0 < f <= 1000 for f in self.mains_hz):
            raise ValueError(f"mains_hz {self.mains_hz}: each frequency must be in (0, 1000] Hz")
        return self


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the setting and what is allowed."""


def describe_settings(settings: ForceSettings | None = None) -> list[dict[str, Any]]:
    """Every setting as {name, value, default, unit, meaning, basis} (basis: configurable heuristic)."""
    chosen = settings or ForceSettings()
    out: list[dict[str, Any]] = []
    for name, info in ForceSettings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(chosen, name)
        default = info.default
        out.append(
            {
                "name": name,
                "value": list(value) if isinstance(value, tuple) else value,
                "default": list(default) if isinstance(default, tuple) else default,
                "unit": extra.get("unit", ""),
                "meaning": info.description,
                "basis": HEURISTIC,
            }
        )
    return out


def _parse(name: str, text: str) -> Any:
    if name == "mains_hz":
        parts = [p for p in text.replace(";", ",").split(",") if p.strip() and p.strip().lower() != "none"]
        return tuple(float(p) for p in parts)
    if text.strip().lower() == "none":
        return None
    return text.strip()


def settings_from_pairs(
    pairs: list[str] | dict[str, Any], base: ForceSettings | None = None
) -> ForceSettings:
    """Settings from NAME=VALUE texts (CLI, web form) or a dict, on top of `base` (or the defaults)."""
    values: dict[str, Any] = dict((base or ForceSettings()).model_dump())
    if isinstance(pairs, dict):
        items = list(pairs.items())
    else:
        items = []
        for pair in pairs:
            if "=" not in pair:
                raise SettingsError(f"setting {pair!r}: write NAME=VALUE, e.g. onset_n=1.5")
            name, text = pair.split("=", 1)
            items.append((name.strip(), text))
    for name, raw in items:
        if name not in ForceSettings.model_fields:
            known = ", ".join(ForceSettings.model_fields)
            raise SettingsError(f"setting {name!r} is not known; known settings: {known}")
        try:
            values[name] = _parse(name, raw) if isinstance(raw, str) else raw
        except ValueError:
            raise SettingsError(f"setting {name}={raw!r}: expected numbers separated by commas") from None
    try:
        return ForceSettings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SettingsError(problems) from None
