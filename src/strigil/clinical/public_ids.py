"""A record's public identifier: the random 128-bit name it has outside the server.

Database ids are integers shared by every clinic on one server, so a clinic that saw its own ids would see
other clinics' activity in the gaps between them. Every record reachable by URL, API or export therefore
carries a public id of 128 random bits written as 32 lowercase hex digits, and only that leaves the server
(FHIR resource ids, bulk exports, API answers). Which tables carry one and how the database makes one per row
is the store's part (`strigil.store.public_ids`).
"""

from __future__ import annotations

import re
import secrets

__all__ = ["PUBLIC_ID_LENGTH", "is_public_id", "new_public_id"]

PUBLIC_ID_LENGTH = 32  # hex digits: 128 bits

_PATTERN = re.compile(r"[0-9a-f]{32}")


def new_public_id() -> str:
    """A fresh public id: 128 bits from the operating system's cryptographic random source, as hex."""
    return secrets.token_hex(PUBLIC_ID_LENGTH // 2)


def is_public_id(text: object) -> bool:
    """True if `text` has the form of a public id (32 lowercase hex digits)."""
    return isinstance(text, str) and _PATTERN.fullmatch(text) is not None
