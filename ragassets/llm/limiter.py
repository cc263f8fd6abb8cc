"""Adaptive concurrency (AIMD) for remote providers (retry backoff: ragassets.retrying).

The limiter keeps as many requests in flight as the server takes and no more: it starts at
``max_concurrency``, halves on a sign of overload (HTTP 429 or a timeout) and grows by one per
success, always between 1 and ``max_concurrency``. A burst of 429s that all belong to one overload
episode halves the limit once, not once per rejected request: a request only halves the limit if it
was admitted after the previous decrease (the same rule TCP uses per round trip).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from dataclasses import dataclass, field


@dataclass
class LimiterStats:
    min_limit: int
    max_in_flight: int = 0
    decreases: int = 0
    increases: int = 0
    history: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, limit) on change


class AdaptiveLimiter:
    """An asyncio semaphore whose size adapts between 1 and ``max_concurrency``.

    Waiters queue in FIFO order and a release wakes exactly as many as there are free slots
    (a Condition's notify_all would wake every waiter on every release: quadratic at high
    concurrency).
    """

    def __init__(self, max_concurrency: int, initial: int | None = None) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.max_concurrency = max_concurrency
        self.limit = max(1, min(max_concurrency, initial or max_concurrency))
        self.in_flight = 0
        self._epoch = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.stats = LimiterStats(min_limit=self.limit)
        self.stats.history.append((time.monotonic(), self.limit))

    def _admit(self) -> None:
        self.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.in_flight)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self._admit()
                fut.set_result(None)

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch the request was admitted in (pass it to release)."""
        if self.in_flight < self.limit and not self._waiters:
            self._admit()
            return self._epoch
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # a slot was handed over just now: pass it on
                self.in_flight -= 1
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)
            raise
        return self._epoch

    async def release(self, epoch: int, outcome: str) -> None:
        """Free a slot. ``outcome``: ``success`` (grow by one), ``overload`` (halve, once per
        episode) or ``neutral`` (other errors: no change)."""
        self.in_flight -= 1
        if outcome == "success" and self.limit < self.max_concurrency:
            self._set(self.limit + 1)
            self.stats.increases += 1
        elif outcome == "overload" and epoch == self._epoch:
            self._epoch += 1
            new = max(1, self.limit // 2)
            if new != self.limit:
                self._set(new)
            self.stats.decreases += 1
        self._wake()

    def _set(self, value: int) -> None:
        self.limit = value
        self.stats.min_limit = min(self.stats.min_limit, value)
        self.stats.history.append((time.monotonic(), value))
