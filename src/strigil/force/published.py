"""Published IASTM force measurements, read from the package's data file, with their sources and warning.

Each study cites its source from the one bibliography (`strigil.catalog.load_bibliography`).

They are context for a clinician's own strokes: what trained clinicians applied in laboratory simulations
(domain reference §1.2). Strigil never presents them as a correct dose.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from strigil.catalog import Bibliography, load_bibliography

__all__ = ["PublishedFigure", "PublishedStudy", "published_studies", "simulant_warning"]


@dataclass(frozen=True)
class PublishedFigure:
    """One published figure: a force (N) or a coefficient of variation (%) range, with its words."""

    metric: str  # "peak", "mean", "peak_cv", "mean_cv" or "estimate"
    low: float
    high: float
    unit: str  # "N" or "%"
    text: str


@dataclass(frozen=True)
class PublishedStudy:
    """A study of IASTM force: what, where and how it was measured, and its citation (and address)."""

    id: str
    label: str
    setting: str
    sample: str
    citation: str
    url: str
    finding: str
    figures: tuple[PublishedFigure, ...]

    def figures_for(self, metric: str) -> tuple[PublishedFigure, ...]:
        """The figures about `metric` ('peak', 'mean', 'peak_cv', 'mean_cv', 'estimate')."""
        return tuple(f for f in self.figures if f.metric == metric)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON dict."""
        return {
            "id": self.id,
            "label": self.label,
            "setting": self.setting,
            "sample": self.sample,
            "citation": self.citation,
            "url": self.url or None,
            "finding": self.finding,
            "figures": [
                {"metric": f.metric, "low": f.low, "high": f.high, "unit": f.unit, "text": f.text}
                for f in self.figures
            ],
        }


@cache
def _data() -> dict[str, Any]:
    text = resources.files("strigil.force").joinpath("data/published_forces.toml").read_text("utf-8")
    return tomllib.loads(text)


def _figure(raw: dict[str, Any]) -> PublishedFigure:
    if "low_n" in raw:
        return PublishedFigure(raw["metric"], float(raw["low_n"]), float(raw["high_n"]), "N", raw["text"])
    return PublishedFigure(raw["metric"], float(raw["low_pct"]), float(raw["high_pct"]), "%", raw["text"])


def published_studies() -> tuple[PublishedStudy, ...]:
    """The published force studies, in the data file's order, each cited from the bibliography."""
    bibliography = load_bibliography()
    return tuple(_study(s, bibliography) for s in _data()["study"])


def _study(raw: dict[str, Any], bibliography: Bibliography) -> PublishedStudy:
    (cited,) = bibliography.cite_field(raw["source"])
    return PublishedStudy(
        id=raw["id"],
        label=raw["label"],
        setting=raw["setting"],
        sample=raw["sample"],
        citation=cited.text,
        url=cited.address or "",
        finding=raw["finding"],
        figures=tuple(_figure(f) for f in raw.get("figure", [])),
    )


def simulant_warning() -> str:
    """The warning shown with every published figure: laboratory simulations, not a correct dose."""
    return str(_data()["warning"])
