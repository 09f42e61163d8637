"""How much one document may hold: the longest text and the longest list each kind of field accepts.

Input limits (engineering, not clinical numbers): they keep one request or file from filling the database
or making a page megabytes long, and are far above what a clinician writes. Every text and list field of
the documents clinicians and programs send uses one of them (tests/hardening/test_hardening_limits.py).
"""

from __future__ import annotations

__all__ = [
    "CODE_CHARS",
    "HISTORY_ITEMS",
    "LABEL_CHARS",
    "LIST_ITEMS",
    "MEASUREMENTS_PER_SESSION",
    "NOTE_CHARS",
    "REASON_CHARS",
    "SEARCH_CHARS",
]

CODE_CHARS = 64  # a code: catalogue entries, patients, clinicians, roles, scopes
SEARCH_CHARS = 64  # a search or filter term
LABEL_CHARS = 200  # a name or short description
REASON_CHARS = 1000  # a reason or a short note
NOTE_CHARS = 2000  # free notes
LIST_ITEMS = 50  # items of a list in one document (steps, findings, goals, adverse responses, ...)
MEASUREMENTS_PER_SESSION = 100  # measurements recorded in one session document
HISTORY_ITEMS = 2000  # entries of a whole episode's history in one document (`strigil respond`)
