"""Identifiers: unique without coordination, and short prefixes of them unique in practice."""

from __future__ import annotations

import os

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
ID_LENGTH = 26  # characters; 130 random bits


def new_id() -> str:
    """A 26-character random id in Crockford base32 (130 bits).

    Every character is random, so the first 6-8 characters are enough to name a run on the
    command line (``mloop runs show 3f9a2c``), as with git hashes. Order by ``created_at`` or
    ``started_at``, never by id.
    """
    value = int.from_bytes(os.urandom(17), "big")
    return "".join(_ALPHABET[(value >> (5 * i)) & 31] for i in range(ID_LENGTH))


def new_ids(count: int) -> list[str]:
    """``count`` ids as :func:`new_id` makes them, from one read of the OS's random source
    (a read per id costs a system call, and in a busy threaded process a wait for the GIL)."""
    pool = os.urandom(17 * count)
    out = []
    for k in range(count):
        value = int.from_bytes(pool[17 * k : 17 * k + 17], "big")
        out.append("".join(_ALPHABET[(value >> (5 * i)) & 31] for i in range(ID_LENGTH)))
    return out
