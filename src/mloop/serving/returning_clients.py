"""Keep-alive clients that were just answered and are likely to send their next request soon.

Most callers of a prediction service are closed loops: a connection sends its next request
moments after it gets an answer. Under load the answers of one batch go out together, so the
next requests come back together a little later; a batcher that fired on whatever happened to
be parsed would split them into many small batches. Counting the connections answered in the
last ``window_s`` seconds that have not come back yet tells the batcher how much company is on
its way, so it can wait for it (never longer than its ``max_wait``). A lone client is never
waited for: its own next request is what removes it from the count.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["ReturningClients"]


class ReturningClients:
    """Connections answered in the last ``window_s`` seconds without a new request since.

    Keys are whatever identifies a connection (ASGI's ``scope["client"]``: host and port);
    times are monotonic seconds. All operations are O(1) amortised.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._answered: OrderedDict[Hashable, float] = OrderedDict()  # oldest answer first

    def arrived(self, client: Hashable) -> None:
        """``client`` sent a request: it is no longer on its way."""
        self._answered.pop(client, None)

    def answered(self, client: Hashable, now: float) -> None:
        """``client`` got its answer at ``now``: it may come back within the window. (Old
        entries are dropped here too, so that the map stays small even when nobody asks.)"""
        self._answered[client] = now
        self._answered.move_to_end(client)
        self.expected(now)

    def expected(self, now: float) -> int:
        """How many answered clients may still come back (answered within the window)."""
        answered = self._answered
        horizon = now - self.window_s
        while answered:
            client, when = next(iter(answered.items()))
            if when >= horizon:
                break
            del answered[client]
        return len(answered)
