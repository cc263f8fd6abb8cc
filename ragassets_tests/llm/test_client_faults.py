"""The openai provider under faults: every request ends answered or failed with its reason."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from ragassets.llm import LLMRequest, ResponseCache
from ragassets.llm.types import FailureReason, ServerUnavailable
from ragassets_tests.llm.conftest import openai_client

KNOWN_REASONS = set(FailureReason.__args__)  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_thirty_percent_faults_every_request_completes_or_fails_with_a_reason(
    server_factory, tmp_path
) -> None:
    faults = {"500": 0.06, "429": 0.06, "timeout": 0.06, "malformed": 0.06, "truncated": 0.06}
    srv = server_factory(latency_s=0.005, faults=faults, timeout_sleep_s=1.0, retry_after_s=0.01, seed=7)
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = openai_client(srv.base_url, cache=cache, timeout_s=0.25, max_concurrency=16, max_retries=2)
    reqs = [LLMRequest.chat(f"question {i}") for i in range(300)]
    t0 = time.monotonic()
    results = client.run(reqs)
    assert time.monotonic() - t0 < 30
    assert len(results) == 300 and [r.request for r in results] == reqs
    failed = [r for r in results if not r.ok]
    for r in failed:
        assert r.error in KNOWN_REASONS and r.error_detail
        assert r.attempts == 3  # all transient: retried max_retries times
    ok = [r for r in results if r.ok]
    assert len(ok) > 250  # 30 % per attempt, three attempts: about 2.7 % fail in the end
    stats = client.last_stats
    assert stats.requests == 300 and stats.failed == len(failed)
    assert sum(stats.failures.values()) == len(failed)
    assert stats.attempts > 300  # retries happened
    # failures recorded for diagnosis, never cached as answers
    assert cache.count() == len(ok)
    assert {e["reason"] for e in cache.errors()} <= KNOWN_REASONS
    counters = srv.stats()["counters"]
    assert sum(v for k, v in counters.items() if k.startswith("fault_")) > 50


def test_failure_reasons_map_each_fault(server_factory) -> None:
    cases = {
        "500": "server_error",
        "429": "rate_limited",
        "malformed": "malformed_response",
        "truncated": "malformed_response",
        "timeout": "timeout",
    }
    for fault, reason in cases.items():
        srv = server_factory(faults={fault: 1.0}, timeout_sleep_s=1.0, retry_after_s=0.01)
        client = openai_client(srv.base_url, timeout_s=0.2, max_retries=1)
        (res,) = client.run([LLMRequest.chat("x")])
        assert res.error == reason, (fault, res.error, res.error_detail)
        assert "gave up after 2 attempts" in (res.error_detail or "")
        assert srv.stats()["chat_requests"] == 2


def test_client_errors_are_not_retried(server_factory) -> None:
    srv = server_factory(api_key="right-key")
    client = openai_client(srv.base_url, api_key="wrong-key", max_retries=3)
    (res,) = client.run([LLMRequest.chat("x")])
    assert res.error == "client_error" and "401" in res.error_detail and "api_key_env" in res.error_detail
    assert srv.stats()["chat_requests"] == 1


def test_unreachable_server_fails_at_once_before_sending_and_is_counted() -> None:
    client = openai_client("http://127.0.0.1:9/v1", timeout_s=1.0, max_retries=3, backoff_base_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(ServerUnavailable, match=r"down or unreachable.*llm.base_url") as err:
        client.run([LLMRequest.chat("x"), LLMRequest.chat("y")])
    assert time.monotonic() - t0 < 1.0  # no retries with backoff for each request
    assert err.value.reason == "connection" and "127.0.0.1:9" in str(err.value)
    stats = client.stats  # the usage row of the stage says what happened
    assert (stats.requests, stats.sent, dict(stats.failures)) == (2, 0, {"connection": 2})


def test_retry_after_is_honoured(server_factory) -> None:
    srv = server_factory(faults={"429": 1.0}, retry_after_s=0.3)
    client = openai_client(srv.base_url, max_retries=2, backoff_base_s=0.001, backoff_cap_s=0.001)
    t0 = time.monotonic()
    (res,) = client.run([LLMRequest.chat("x")])
    # two waits of Retry-After (0.3 s each), although the computed backoff would be 1 ms
    assert time.monotonic() - t0 >= 0.55
    assert res.error == "rate_limited"


def test_transient_faults_are_retried_to_success(server_factory) -> None:
    srv = server_factory(faults={"500": 0.5}, seed=3)
    client = openai_client(srv.base_url, max_retries=10)
    results = client.run([LLMRequest.chat(f"q{i}") for i in range(40)])
    assert all(r.ok for r in results)
    assert Counter(r.attempts > 1 for r in results)[True] > 5


def test_duplicate_requests_in_a_batch_are_sent_once(server) -> None:
    client = openai_client(server.base_url)
    reqs = [LLMRequest.chat("same")] * 5 + [LLMRequest.chat("other")]
    results = client.run(reqs)
    assert all(r.ok for r in results) and len({r.text for r in results[:5]}) == 1
    assert server.stats()["chat_requests"] == 2
    assert client.last_stats.sent == 2 and client.last_stats.cache_hits == 4


def test_duplicate_failures_count_once_as_sent(server_factory) -> None:
    srv = server_factory(faults={"500": 1.0})
    client = openai_client(srv.base_url, max_retries=0)
    results = client.run([LLMRequest.chat("same")] * 3)
    assert [r.error for r in results] == ["server_error"] * 3
    stats = client.last_stats
    assert (stats.requests, stats.sent, stats.attempts, stats.failures["server_error"]) == (3, 1, 1, 3)
    assert srv.stats()["chat_requests"] == 1


def test_empty_answers_are_failures_not_cached(server_factory, tmp_path) -> None:
    srv = server_factory(responder=lambda body: "")
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = openai_client(srv.base_url, cache=cache)
    (res,) = client.run([LLMRequest.chat("x")])
    assert res.error == "empty_output" and cache.count() == 0


def test_run_works_inside_a_running_event_loop(server) -> None:
    import asyncio

    client = openai_client(server.base_url)

    async def inside() -> list:
        return client.run([LLMRequest.chat("x")])

    (res,) = asyncio.run(inside())
    assert res.ok


def test_tls_context_only_for_https() -> None:
    from ragassets.llm.providers.openai import OpenAIProvider

    secure = OpenAIProvider("m", "https://api.example.com/v1")._ssl_context()
    assert secure.check_hostname and secure.verify_mode.name == "CERT_REQUIRED"
    assert OpenAIProvider("m", "http://127.0.0.1:8000/v1")._ssl_context() is False
