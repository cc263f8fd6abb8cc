"""Bounded, adaptive concurrency: never more than max_concurrency in flight; AIMD under 429s."""

from __future__ import annotations

import asyncio
import time

import pytest

from ragassets.llm import LLMRequest
from ragassets.llm.limiter import AdaptiveLimiter
from ragassets.retrying import backoff_delay, parse_retry_after
from ragassets_tests.llm.conftest import openai_client


def test_server_never_sees_more_than_max_concurrency(server_factory) -> None:
    srv = server_factory(latency_s=0.02)
    client = openai_client(srv.base_url, max_concurrency=6)
    results = client.run([LLMRequest.chat(f"q{i}") for i in range(120)])
    assert all(r.ok for r in results)
    stats = srv.stats()
    assert stats["max_in_flight"] == 6  # reached, never exceeded
    assert client.last_limiter is not None and client.last_limiter.stats.max_in_flight <= 6


@pytest.mark.timeout(60)
def test_concurrency_drops_under_429_and_recovers(server_factory) -> None:
    srv = server_factory(latency_s=0.03, capacity=3, retry_after_s=0.02)
    client = openai_client(srv.base_url, max_concurrency=16, max_retries=20, progress_interval_s=0.05)
    lifted = []

    def on_progress(event) -> None:
        if event.done >= 150 and not lifted:
            srv.control(capacity=None)  # the server scales up: the client should grow back
            lifted.append(event.done)

    results = client.run([LLMRequest.chat(f"q{i}") for i in range(400)], on_progress=on_progress)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert lifted, "capacity was never lifted"
    limiter = client.last_limiter
    assert limiter is not None
    assert srv.stats()["counters"]["capacity_429"] > 0
    limits = [v for _, v in limiter.stats.history]
    low = limiter.stats.min_limit
    assert low <= 4, limits  # halved down towards the server's capacity
    assert limiter.stats.decreases >= 2
    after_low = limits[limits.index(low) :]
    assert max(after_low) == 16, limits  # and grew back to max_concurrency once capacity returned


def test_limiter_halves_once_per_episode_and_grows_by_one() -> None:
    async def scenario() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(16)
        epochs = [await lim.acquire() for _ in range(8)]
        for e in epochs:  # eight 429s from one overload episode
            await lim.release(e, "overload")
        assert lim.limit == 8  # halved once, not eight times
        e = await lim.acquire()
        await lim.release(e, "overload")  # a new episode: admitted after the decrease
        assert lim.limit == 4
        for _ in range(3):
            e = await lim.acquire()
            await lim.release(e, "success")
        assert lim.limit == 7
        e = await lim.acquire()
        await lim.release(e, "neutral")
        assert lim.limit == 7
        return lim

    lim = asyncio.run(scenario())
    assert lim.stats.min_limit == 4 and lim.in_flight == 0


def test_limiter_stays_within_bounds() -> None:
    async def scenario() -> None:
        lim = AdaptiveLimiter(3)
        for _ in range(10):
            e = await lim.acquire()
            await lim.release(e, "overload")
        assert lim.limit == 1
        for _ in range(10):
            e = await lim.acquire()
            await lim.release(e, "success")
        assert lim.limit == 3

    asyncio.run(scenario())


def test_limiter_blocks_beyond_its_limit_and_wakes_in_order() -> None:
    async def scenario() -> list[int]:
        lim = AdaptiveLimiter(2)
        order: list[int] = []
        e1, e2 = await lim.acquire(), await lim.acquire()

        async def waiter(i: int) -> None:
            e = await lim.acquire()
            order.append(i)
            await lim.release(e, "neutral")

        tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0.01)
        assert order == [] and lim.in_flight == 2
        await lim.release(e1, "neutral")
        await lim.release(e2, "neutral")
        await asyncio.gather(*tasks)
        assert lim.in_flight == 0
        return order

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def scenario() -> None:
        lim = AdaptiveLimiter(1)
        e = await lim.acquire()
        t = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0)
        t.cancel()
        await asyncio.gather(t, return_exceptions=True)
        await lim.release(e, "neutral")
        assert lim.in_flight == 0
        e2 = await asyncio.wait_for(lim.acquire(), 1)
        await lim.release(e2, "neutral")

    asyncio.run(scenario())


def test_backoff_grows_with_jitter_and_respects_retry_after() -> None:
    import random

    rng = random.Random(0)
    delays = [backoff_delay(a, base_s=1.0, cap_s=8.0, rng=rng) for a in range(1, 7)]
    for attempt, d in enumerate(delays, start=1):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= d <= ceiling
    assert backoff_delay(3, retry_after=2.5) == 2.5
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_concurrent_answers_share_commits_and_all_land(server_factory, tmp_path, monkeypatch) -> None:
    """Group commit: a concurrent run commits answers that arrive together in one transaction,
    and every answer is in the cache when ``run`` returns."""
    from ragassets.llm import LLMRequest, ResponseCache

    batches: list[int] = []
    real = ResponseCache.put_many

    def spy(self, rows):
        rows = list(rows)
        batches.append(len(rows))
        return real(self, rows)

    monkeypatch.setattr(ResponseCache, "put_many", spy)
    srv = server_factory(latency_s=0.05)
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = openai_client(srv.base_url, cache=cache, max_concurrency=32)
    results = client.run([LLMRequest.chat(f"q{i}", task="t") for i in range(128)])
    assert all(r.ok for r in results)
    assert sum(batches) == 128 and cache.count() == 128
    assert len(batches) < 128 and max(batches) > 1


def test_a_generator_of_requests_is_sent_while_it_is_still_building(server_factory, tmp_path) -> None:
    """Sending starts after the first step of a lazy feed: requests go to the provider before the
    generator has made its last one. Order, repeats and cache hits come out as for a list."""
    from ragassets.llm import ResponseCache

    srv = server_factory(latency_s=0.01)
    cache = ResponseCache(tmp_path / "c.sqlite")
    openai_client(srv.base_url, cache=cache).run([LLMRequest.chat("q7"), LLMRequest.chat("q150")])  # cached
    srv.reset()
    client = openai_client(srv.base_url, cache=cache, max_concurrency=8)
    events: list[str] = []
    send = client.provider.acomplete

    async def recorded(request, params):
        events.append("sent")
        return await send(request, params)

    client.provider.acomplete = recorded

    def build():
        for i in range(200):
            if i >= 100:
                time.sleep(0.001)  # building a prompt takes a while
            events.append("built")
            yield LLMRequest.chat(f"q{i % 180}")  # 20 repeats of earlier requests at the end

    results = client.run(build(), total=200)
    assert [r.request.messages[-1]["content"] for r in results] == [f"q{i % 180}" for i in range(200)]
    assert all(r.ok for r in results)
    last_built = len(events) - 1 - events[::-1].index("built")
    assert events.index("sent") < last_built, "nothing was sent before the generator finished"
    assert events[:last_built].count("sent") >= 8  # the first round went out while the rest were built
    assert srv.stats()["chat_requests"] == 178  # 180 distinct, 2 from the cache, repeats sent once
    stats = client.last_stats
    assert (stats.requests, stats.sent, stats.cache_hits) == (200, 178, 22)
