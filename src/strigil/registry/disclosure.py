"""Disclosure control: the smallest group of patients any number shared outside the clinic may describe.

Small-cell suppression at 5 is a common disclosure-control rule; here it is a configurable heuristic, not a
legal standard for any jurisdiction. The researcher's web view, the research exports and the federated
summaries all use this one value.
"""

from __future__ import annotations

__all__ = ["MIN_PATIENTS"]

MIN_PATIENTS = 5
