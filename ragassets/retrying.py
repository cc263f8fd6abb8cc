"""Retries with backoff for everything that talks to a server: the LLM client, the embeddings client
and the alert webhook. One policy, on tenacity.

What is retried is the caller's decision, made by the exception it raises: a :class:`TransientError`
(or any exception with ``retryable = True``, such as the LLM layer's ``ProviderError``) gets another
try; anything else ends the call at once. Callers raise transient errors for HTTP 408, 429 and 5xx,
timeouts and broken connections (:func:`is_transient_status`); a 4xx is a request or key problem that
another try cannot fix. The wait before retry ``n`` (1-based) is exponential, ``base_s * 2**(n-1)``
capped at ``cap_s``, with jitter when asked (half fixed, half random, so clients that failed together
do not come back together); a server's ``Retry-After`` (the exception's ``retry_after``, seconds) wins
over the computed wait, capped at ``retry_after_cap_s`` so a hostile header cannot park a run. At most
``max_retries + 1`` attempts; after the last, the last error is raised again.

Use (``await policy.acall(...)`` is the coroutine form)::

    def send(attempt: int) -> dict:         # attempt: 1, 2, ...
        ...                                  # raise TransientError(..., retry_after=...) to retry

    try:
        value = RetryPolicy(max_retries=3, base_s=0.5).call(send)
    except TransientError as exc:            # the last error, after max_retries + 1 attempts
        raise MyError(f"failed after 4 attempts: {exc}") from None
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


class TransientError(Exception):
    """A failure another try may fix. ``retry_after``: the server's ``Retry-After``, in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def is_transient_status(status: int) -> bool:
    """HTTP statuses worth another try: 408 (request timeout), 429 (rate limited), every 5xx."""
    return status in (408, 429) or status >= 500


def is_retryable(exc: BaseException) -> bool:
    """True for exceptions that say they are worth another try (``retryable = True``)."""
    return bool(getattr(exc, "retryable", False))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (None if absent
    or unreadable)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def backoff_delay(
    attempt: int,
    *,
    base_s: float = 0.5,
    cap_s: float = 30.0,
    retry_after: float | None = None,
    retry_after_cap_s: float = 300.0,
    jitter: bool = True,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number ``attempt`` (1-based), see the module docstring."""
    if retry_after is not None:
        return min(retry_after_cap_s, max(0.0, retry_after))
    ceiling = min(cap_s, base_s * (2 ** (attempt - 1)))
    if not jitter:
        return ceiling
    r = rng or random
    return ceiling / 2 + r.random() * ceiling / 2


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry (see the module docstring)."""

    max_retries: int = 4
    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: bool = True
    retry_after_cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """The wait before retry number ``attempt`` (1-based)."""
        return backoff_delay(
            attempt,
            base_s=self.base_s,
            cap_s=self.cap_s,
            retry_after=retry_after,
            retry_after_cap_s=self.retry_after_cap_s,
            jitter=self.jitter,
            rng=rng,
        )

    def _tenacity(self, retry_if: Callable[[BaseException], bool]) -> dict[str, Any]:
        """tenacity's options for the retries after a failed first try (attempt 2 onwards)."""

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            return self.delay(state.attempt_number + 1, getattr(exc, "retry_after", None))

        return {
            "stop": tenacity.stop_after_attempt(self.max_retries),
            "wait": wait,
            "retry": tenacity.retry_if_exception(retry_if),
            "reraise": True,
        }

    def call(
        self,
        fn: Callable[[int], T],
        *,
        retry_if: Callable[[BaseException], bool] = is_retryable,
        sleep: Callable[[float], None] | None = None,
    ) -> T:
        """``fn(attempt)`` (attempt numbers from 1) until it returns, an error that is not worth
        another try comes, or the attempts run out (the last error is raised). ``sleep`` (default
        ``time.sleep``, looked up per call) is for tests that record the waits instead of waiting."""
        try:
            return fn(1)
        except Exception as exc:
            if self.max_retries == 0 or not retry_if(exc):
                raise
            first = exc
        nap = sleep or time.sleep
        nap(self.delay(1, getattr(first, "retry_after", None)))
        for attempt in tenacity.Retrying(sleep=nap, **self._tenacity(retry_if)):
            with attempt:
                return fn(attempt.retry_state.attempt_number + 1)
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def acall(
        self,
        fn: Callable[[int], Awaitable[T]],
        *,
        retry_if: Callable[[BaseException], bool] = is_retryable,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> T:
        """The coroutine form of :meth:`call` (waits with ``asyncio.sleep``).

        The first try runs outside tenacity: on the LLM client's hot path (thousands of requests,
        nearly all answered at once) tenacity's bookkeeping cost about 150 µs of CPU per request,
        half again the client's own; it takes over only after a failure worth retrying."""
        try:
            return await fn(1)
        except Exception as exc:
            if self.max_retries == 0 or not retry_if(exc):
                raise
            first = exc
        nap = sleep or asyncio.sleep
        await nap(self.delay(1, getattr(first, "retry_after", None)))
        async for attempt in tenacity.AsyncRetrying(sleep=nap, **self._tenacity(retry_if)):
            with attempt:
                return await fn(attempt.retry_state.attempt_number + 1)
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover
