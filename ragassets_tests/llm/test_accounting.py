"""Tokens, cost, per-asset figures, progress lines and the llm_usage table."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ragassets.llm import LLMClient, LLMRequest, ResponseCache, estimate_tokens, usage_row
from ragassets.llm.accounting import ProgressReporter, UsageStats, cost_usd
from ragassets.llm.providers import OfflineProvider
from ragassets.llm.types import Result
from ragassets.llm.usage_table import append_usage
from ragassets.paths import table_path
from ragassets_tests.llm.conftest import openai_client


def test_cost_and_estimate() -> None:
    assert cost_usd(2_000_000, 500_000, 0.5, 1.5) == 1.75
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2


def test_server_usage_is_counted_and_priced(server) -> None:
    client = openai_client(server.base_url, price_input_per_mtok=1000.0, price_output_per_mtok=2000.0)
    results = client.run([LLMRequest.chat("one two three"), LLMRequest.chat("four five")])
    stats = client.last_stats
    assert stats.input_tokens == 5  # the test server counts words
    assert stats.output_tokens == sum(len(r.text.split()) for r in results)
    assert stats.token_source() == "server"
    assert abs(stats.cost_usd - (5 * 1000 + stats.output_tokens * 2000) / 1e6) < 1e-12
    again = client.run([LLMRequest.chat("one two three")])
    assert again[0].cached and client.last_stats.cost_usd == 0.0  # a cached answer costs nothing
    assert client.stats.cache_hits == 1 and client.stats.sent == 2  # cumulative


def test_estimate_when_the_server_reports_no_usage(server_factory) -> None:
    srv = server_factory()
    client = openai_client(srv.base_url)

    # strip usage from the server's answers
    import json as _json

    from ragassets.llm.providers import openai as openai_mod

    original = openai_mod.OpenAIProvider._parse

    def no_usage(self, request, status, headers, raw, **kwargs):
        data = _json.loads(raw)
        data.pop("usage", None)
        return original(self, request, status, headers, _json.dumps(data).encode(), **kwargs)

    openai_mod.OpenAIProvider._parse = no_usage
    try:
        (res,) = client.run([LLMRequest.chat("x" * 40)])
    finally:
        openai_mod.OpenAIProvider._parse = original
    assert res.usage.source == "estimate" and res.usage.input_tokens == 10 + 4
    assert client.last_stats.token_source() == "estimate"


def test_metadata_figures() -> None:
    client = LLMClient(OfflineProvider(), cache=ResponseCache(":memory:"))
    client.run([LLMRequest.chat("A sentence here.", task="paraphrase")] * 2)
    md = client.stats.metadata(prefix="llm/")
    for key in (
        "requests",
        "cache_hits",
        "sent",
        "failures",
        "failures_by_reason",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "wall_s",
        "requests_per_s",
        "tokens_per_s",
        "provider",
        "model",
    ):
        assert f"llm/{key}" in md
    assert md["llm/requests"] == 2 and md["llm/cache_hits"] == 1 and md["llm/provider"] == "offline"


def test_stats_merge() -> None:
    a = UsageStats(provider="p", model="m", requests=2, sent=2, input_tokens=10, wall_s=1.0, cost_usd=0.5)
    a.failures["timeout"] = 1
    b = UsageStats(requests=3, cache_hits=3, wall_s=0.5)
    b.failures["timeout"] = 2
    a.merge(b)
    assert (a.requests, a.sent, a.cache_hits, a.failures["timeout"], a.wall_s) == (5, 2, 3, 3, 1.5)


def test_progress_reports_every_interval_with_rate_and_eta() -> None:
    now = [0.0]
    events = []
    rep = ProgressReporter(100, events.append, label="llm[questions]", interval_s=5.0, clock=lambda: now[0])
    rep.add_cached(10)
    ok = Result(request=LLMRequest.chat("x"), key="k", provider="p", model="m", text="t")
    bad = Result(request=LLMRequest.chat("x"), key="k", provider="p", model="m", error="timeout")
    for i in range(40):
        now[0] += 0.1
        rep.add(ok if i % 10 else bad)
    assert events == []  # 4 s elapsed: nothing yet
    now[0] += 1.0
    rep.add(ok)
    (event,) = events
    assert event.done == 51 and event.total == 100 and event.failed == 4
    assert abs(event.rate - 41 / 5.0) < 1e-9 and abs(event.eta_s - 49 / (41 / 5.0)) < 1e-9
    line = event.line()
    assert line.startswith("llm[questions]: 51/100 done (51.0%)") and "ETA 6s" in line
    assert "4 failed (timeout: 4)" in line and "10 cached" in line


def test_client_logs_progress_to_the_given_logger(server) -> None:
    class Log:
        def __init__(self) -> None:
            self.lines: list[str] = []

        def info(self, msg: str) -> None:
            self.lines.append(msg)

    log = Log()
    client = openai_client(server.base_url, logger=log, progress_interval_s=0.0)
    client.run([LLMRequest.chat(f"q{i}", task="questions") for i in range(5)])
    assert log.lines and log.lines[-1].startswith("llm[questions]: 5/5 done (100.0%)")


def test_llm_usage_table_accumulates_across_runs(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "llm_cache.sqlite")
    client = LLMClient(OfflineProvider(), cache=cache)
    client.run([LLMRequest.chat("First sentence.", task="paraphrase")])
    path = append_usage(
        cache, usage_row(client.stats, asset="paraphrased_chunks", corpus="sample", run_id="r1"), tmp_path
    )
    client.reset_stats()
    client.run(
        [LLMRequest.chat("First sentence.", task="paraphrase"), LLMRequest.chat("Second.", task="paraphrase")]
    )
    append_usage(
        cache, usage_row(client.stats, asset="paraphrased_chunks", corpus="sample", run_id="r2"), tmp_path
    )
    assert path == table_path("llm_usage", "sample", tmp_path)
    df = pl.read_parquet(path)
    assert df["run_id"].to_list() == ["r1", "r2"]
    assert df["sent"].to_list() == [1, 1] and df["cache_hits"].to_list() == [0, 1]
    assert set(df.columns) >= {"corpus", "asset", "model", "requests", "cost_usd", "failures_by_reason"}


def test_summarize_failures_for_stage_metadata() -> None:
    from ragassets.llm import summarize_failures

    req = LLMRequest.chat("x")
    results = [
        Result(request=req, key="a", provider="p", model="m", text="ok"),
        Result(
            request=req, key="b", provider="p", model="m", error="timeout", error_detail="no answer within 5s"
        ),
        Result(
            request=req, key="c", provider="p", model="m", error="timeout", error_detail="no answer within 5s"
        ),
        Result(
            request=req, key="d", provider="p", model="m", error="parse_error", error_detail="invalid JSON"
        ),
    ]
    summary = summarize_failures(results, limit=1)
    assert summary["failures_by_reason"] == {"timeout": 2, "parse_error": 1}
    assert summary["failure_examples"] == {
        "timeout": ["no answer within 5s"],
        "parse_error": ["invalid JSON"],
    }
