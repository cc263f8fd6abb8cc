"""No API key ever appears in logs, metadata, progress lines, errors or the cache."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ragassets.llm import LLMClient, LLMRequest, ResponseCache, make_provider
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets.settings import LlmSettings

KEY = "sk-test-SECRET-0123456789abcdef"


def test_key_reaches_the_server_and_nowhere_else(server_factory, tmp_path: Path, caplog, monkeypatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", KEY)
    srv = server_factory(api_key=KEY, faults={"500": 0.2, "429": 0.1}, retry_after_s=0.01, seed=1)
    settings = LlmSettings(
        provider="openai", base_url=srv.base_url, model="m", api_key_env="MY_LLM_KEY", max_retries=1
    )
    cache_path = tmp_path / "llm_cache.sqlite"
    lines: list[str] = []
    caplog.set_level(logging.DEBUG)
    client = LLMClient.from_settings(
        settings,
        cache=ResponseCache(cache_path),
        progress_interval_s=0.0,
        backoff_base_s=0.001,
        backoff_cap_s=0.01,
    )
    results = client.run(
        [LLMRequest.chat(f"q{i}") for i in range(40)], on_progress=lambda e: lines.append(e.line())
    )
    assert any(r.ok for r in results)
    assert srv.stats()["auth_headers"] == [f"Bearer {KEY}"]  # it was sent
    failures = [r.error_detail for r in results if not r.ok]
    haystack = "\n".join(
        [
            caplog.text,
            *lines,
            repr(client),
            repr(client.provider),
            repr(settings),
            settings.model_dump_json(),
            str(client.stats.metadata()),
            *[str(f) for f in failures],
        ]
    )
    assert KEY not in haystack
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("llm_cache.sqlite"))
    assert KEY.encode() not in raw


def test_server_bodies_echoing_the_key_are_redacted() -> None:
    provider = OpenAIProvider("m", "http://127.0.0.1:1/v1", api_key=KEY)
    body = f'{{"error": "bad key {KEY}"}}'.encode()
    with pytest.raises(Exception) as exc:
        provider._parse(LLMRequest.chat("x"), 401, {}, body)
    assert KEY not in str(exc.value) and "***" in str(exc.value)


def test_missing_key_variable_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    with pytest.raises(Exception, match="NOT_SET_KEY.*not set"):
        make_provider(
            LlmSettings(provider="openai", base_url="http://x/v1", model="m", api_key_env="NOT_SET_KEY")
        )


def test_a_key_pasted_into_api_key_env_is_refused() -> None:
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        LlmSettings(api_key_env="sk-live-123/abc")
