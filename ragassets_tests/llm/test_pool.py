"""Several LLM servers for one role: spread by requests in flight, a limit per server, a failing
server set aside and tried again later, one server killed mid-run."""

import os
import signal
import threading
import time

import pytest

from ragassets.llm import LLMClient, LLMRequest
from ragassets.llm.providers import make_provider
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets.llm.providers.pool import OpenAIPool, split_base_urls
from ragassets.llm.types import ServerUnavailable
from ragassets.settings import LlmSettings
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.services import free_port


def reqs(n: int, tag: str) -> list[LLMRequest]:
    return [LLMRequest.chat(f"{tag} {i}: tell me about item {i}.", task="pool") for i in range(n)]


def pool(*urls: str, max_concurrency: int = 8, **kw) -> OpenAIPool:
    return OpenAIPool([OpenAIProvider("m", u, timeout_s=10) for u in urls], max_concurrency=max_concurrency, **kw)


def client(provider, max_concurrency: int = 8, **kw) -> LLMClient:
    return LLMClient(provider, cache=None, max_concurrency=max_concurrency, backoff_base_s=0.05,
                     backoff_cap_s=0.5, progress_interval_s=3600, **kw)


def test_base_url_list_in_settings_makes_a_pool_and_one_url_a_plain_provider():
    s = LlmSettings(provider="openai", model="m", base_url=["http://a:1/v1", " http://b:2/v1"])
    assert s.base_url == "http://a:1/v1,http://b:2/v1"
    assert split_base_urls(s.base_url) == ["http://a:1/v1", "http://b:2/v1"]
    provider = make_provider(s)
    assert isinstance(provider, OpenAIPool)
    assert [x["base_url"] for x in provider.server_stats()] == ["http://a:1/v1", "http://b:2/v1"]
    assert type(make_provider(LlmSettings(provider="openai", model="m", base_url="http://a:1/v1"))) is OpenAIProvider
    with pytest.raises(ValueError, match="one model"):
        OpenAIPool([OpenAIProvider("m", "http://a/v1"), OpenAIProvider("other", "http://b/v1")])


def test_requests_spread_over_two_servers_each_within_its_own_capacity(server_factory):
    a = server_factory(latency_s=0.05, capacity=4)
    b = server_factory(latency_s=0.05, capacity=4)
    p = pool(a.base_url, b.base_url, max_concurrency=4)
    c = client(p, max_concurrency=4)
    results = c.run(reqs(160, "spread"))
    assert all(r.ok for r in results)
    sa, sb = a.stats(), b.stats()
    assert sa["chat_ok"] + sb["chat_ok"] == 160
    assert min(sa["chat_ok"], sb["chat_ok"]) >= 60  # least in flight first: both share the work
    assert sa.get("capacity_429", 0) == sb.get("capacity_429", 0) == 0  # never past a server's capacity
    assert c.last_stats.max_in_flight == 8  # 4 per server, both servers full


def test_a_failing_server_is_set_aside_and_taken_back_once_it_answers(server_factory):
    sick = server_factory(latency_s=0.01, faults={"500": 1.0})
    good = server_factory(latency_s=0.01)
    p = pool(sick.base_url, good.base_url, max_concurrency=4, fail_after=3, cooldown_s=0.3)
    c = client(p, max_concurrency=4)
    assert all(r.ok for r in c.run(reqs(80, "first")))
    first = {s["base_url"]: s for s in p.server_stats()}
    assert first[sick.base_url]["set_aside"] >= 1 and first[sick.base_url]["answered"] == 0
    assert first[sick.base_url]["sent"] < 20  # set aside after a few failures, not sent half the batch
    assert first[good.base_url]["answered"] == 80

    sick.control(faults={})
    time.sleep(0.4)  # its cooldown ends: the next request probes it, an answer puts it back
    assert all(r.ok for r in c.run(reqs(80, "second")))
    back = {s["base_url"]: s for s in p.server_stats()}[sick.base_url]
    assert back["in_service"] and back["answered"] >= 20


def test_a_server_down_at_the_start_is_set_aside_and_all_down_says_so(server_factory):
    good = server_factory(latency_s=0.01, models=["m"])
    dead = f"http://127.0.0.1:{free_port()}/v1"
    p = pool(dead, good.base_url, max_concurrency=4, cooldown_s=60)
    c = client(p)
    assert all(r.ok for r in c.run(reqs(20, "start")))
    stats = {s["base_url"]: s for s in p.server_stats()}
    assert stats[dead]["sent"] == 0 and stats[dead]["set_aside"] == 1 and stats[good.base_url]["answered"] == 20

    both_dead = client(pool(dead, f"http://127.0.0.1:{free_port()}/v1"))
    with pytest.raises(ServerUnavailable, match="down or unreachable"):
        both_dead.run(reqs(3, "nothing"))


@pytest.mark.slow
def test_one_server_killed_mid_run_the_other_answers_everything():
    with LLMTestServer.subprocess(latency_s=0.05, capacity=8) as a, LLMTestServer.subprocess(
        latency_s=0.05, capacity=8
    ) as b:
        p = pool(a.base_url, b.base_url, max_concurrency=8, cooldown_s=0.5)
        c = client(p, max_concurrency=8, max_retries=6)
        killed = threading.Event()

        def kill_a_when_busy() -> None:
            while a.stats()["chat_ok"] < 60:
                time.sleep(0.02)
            os.kill(a.pid, signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_a_when_busy, daemon=True)
        killer.start()
        results = c.run(reqs(600, "kill"))
        killer.join(5)
        assert killed.is_set()
        assert [r.error for r in results if not r.ok] == []
        stats = {s["base_url"]: s for s in p.server_stats()}
        assert stats[a.base_url]["set_aside"] >= 1 and not stats[a.base_url]["in_service"]
        assert stats[a.base_url]["answered"] >= 60
        assert stats[b.base_url]["answered"] == 600 - stats[a.base_url]["answered"]
        assert b.stats()["chat_ok"] == stats[b.base_url]["answered"]
