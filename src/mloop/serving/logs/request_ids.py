"""Request ids for answers whose caller sent none: unique across workers, cheap to make, and
signed, so ``/feedback`` can tell an id this service answered with from one it never issued.

``uuid.uuid4()`` reads the OS random source for every request, a system call that showed up
as about a tenth of a batched service's CPU. An id here is a random 64-bit prefix drawn once per
generator (one per worker process), a 32-bit counter and a 32-bit keyed BLAKE2b tag over both:
32 hex characters, the length of a uuid4's hex form. The key is shared by every worker and
every restart of a service through a file in its log folder, so any worker verifies any id.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

__all__ = ["KEY_FILE", "RequestIds", "load_key"]

KEY_FILE = "request-ids.key"
_COUNTER_MAX = 0xFFFFFFFF


def load_key(log_dir: Path | None) -> bytes:
    """The signing key kept in ``log_dir`` (made on first use, 0600); a random key of this
    process alone without a log folder."""
    if log_dir is None:
        return os.urandom(32)
    path = Path(log_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(100):  # another worker is writing it: at most a few ms
            key = path.read_bytes()
            if len(key) == 32:
                return key
        raise
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(32))
    return path.read_bytes()


class RequestIds:
    """``next()`` gives a new 32-character hex id; ``issued(id)`` tells whether a generator
    with the same key and ``purpose`` made it (ids of failed requests use another purpose, so
    they never pass for answered ones)."""

    def __init__(self, key: bytes | None = None, *, purpose: bytes = b"answered") -> None:
        self._key = key if key is not None else os.urandom(32)
        self._purpose = purpose[:16]
        self._new_prefix()

    def _new_prefix(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def _tag(self, body: str) -> str:
        mac = hashlib.blake2b(body.encode(), key=self._key, person=self._purpose, digest_size=4)
        return mac.hexdigest()

    def next(self) -> str:
        n = next(self._counter)
        if n > _COUNTER_MAX:  # 4 billion ids from one prefix: draw a new one
            self._new_prefix()
            n = next(self._counter)
        body = f"{self._prefix}{n:08x}"
        return body + self._tag(body)

    def issued(self, request_id: str) -> bool:
        if len(request_id) != 32:
            return False
        return self._tag(request_id[:24]) == request_id[24:]
