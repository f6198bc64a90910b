"""Identifiers: sortable by creation time, unique without coordination."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id() -> str:
    """A 26-character ULID-style id: 48 bits of milliseconds, then 80 random bits.

    Ids made later sort after earlier ones (to the millisecond), which keeps "newest first"
    listings cheap and makes ids readable in logs.
    """
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
