"""The one retry/backoff policy (ragassets.retrying) used by the LLM client, the embeddings client and
the alert webhook: what is retried, how long it waits, when it stops."""

from __future__ import annotations

import asyncio
import random

import pytest

from ragassets.retrying import RetryPolicy, TransientError, backoff_delay, is_transient_status


class Flaky:
    """Fails with the given exceptions in turn, then answers; remembers the attempt numbers it got."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts: list[int] = []

    @property
    def calls(self) -> int:
        return len(self.attempts)

    def __call__(self, attempt: int) -> str:
        self.attempts.append(attempt)
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def run(policy: RetryPolicy, fn: Flaky, sleeps: list[float]) -> tuple[str, int]:
    value = policy.call(fn, sleep=sleeps.append)
    return value, fn.calls


def test_transient_failures_are_retried_with_doubling_waits() -> None:
    sleeps: list[float] = []
    fn = Flaky(TransientError("HTTP 503"), TransientError("HTTP 502"), TransientError("reset"))
    value, attempts = run(RetryPolicy(max_retries=4, base_s=0.5, jitter=False), fn, sleeps)
    assert (value, attempts, fn.attempts) == ("answer", 4, [1, 2, 3, 4])
    assert sleeps == [0.5, 1.0, 2.0]


def test_a_first_try_that_succeeds_never_waits() -> None:
    sleeps: list[float] = []
    assert run(RetryPolicy(), Flaky(), sleeps) == ("answer", 1) and sleeps == []


def test_other_errors_end_the_call_at_once() -> None:
    sleeps: list[float] = []
    fn = Flaky(ValueError("HTTP 401: bad key"))
    with pytest.raises(ValueError, match="bad key"):
        run(RetryPolicy(max_retries=4), fn, sleeps)
    assert fn.calls == 1 and sleeps == []


def test_attempts_are_bounded_and_the_last_error_comes_back() -> None:
    sleeps: list[float] = []
    fn = Flaky(*[TransientError(f"HTTP 500 #{i}") for i in range(10)])
    with pytest.raises(TransientError, match="#2"):
        run(RetryPolicy(max_retries=2, base_s=1.0, cap_s=1.5, jitter=False), fn, sleeps)
    assert fn.calls == 3 and sleeps == [1.0, 1.5]  # capped


def test_retry_after_wins_over_the_backoff_and_is_capped() -> None:
    sleeps: list[float] = []
    fn = Flaky(TransientError("429", retry_after=7.0), TransientError("429", retry_after=900.0))
    run(RetryPolicy(max_retries=3, base_s=0.01, retry_after_cap_s=60.0), fn, sleeps)
    assert sleeps == [7.0, 60.0]


def test_jitter_stays_between_half_and_the_whole_wait() -> None:
    rng = random.Random(0)
    for attempt in range(1, 7):
        ceiling = min(8.0, 2 ** (attempt - 1))
        d = backoff_delay(attempt, base_s=1.0, cap_s=8.0, rng=rng)
        assert ceiling / 2 <= d <= ceiling


def test_the_async_form_retries_the_same_way() -> None:
    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def scenario() -> tuple[str, list[int]]:
        fn = Flaky(TransientError("timeout"), TransientError("429", retry_after=0.25))

        async def attempt(n: int) -> str:
            return fn(n)

        value = await RetryPolicy(max_retries=3, base_s=0.1, jitter=False).acall(attempt, sleep=record)
        return value, fn.attempts

    assert asyncio.run(scenario()) == ("answer", [1, 2, 3])
    assert sleeps == [0.1, 0.25]

    async def hopeless() -> None:
        async def attempt(n: int) -> str:
            raise TransientError(f"HTTP 503 on attempt {n}")

        await RetryPolicy(max_retries=2, base_s=0.1, jitter=False).acall(attempt, sleep=record)

    sleeps.clear()
    with pytest.raises(TransientError, match="attempt 3"):
        asyncio.run(hopeless())
    assert sleeps == [0.1, 0.2]


def test_no_retries_means_one_try() -> None:
    sleeps: list[float] = []
    fn = Flaky(TransientError("HTTP 503"))
    with pytest.raises(TransientError):
        run(RetryPolicy(max_retries=0), fn, sleeps)
    assert fn.calls == 1 and sleeps == []


def test_which_statuses_are_transient() -> None:
    assert [s for s in (200, 400, 401, 404, 408, 422, 429, 500, 503) if is_transient_status(s)] == [
        408,
        429,
        500,
        503,
    ]
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
