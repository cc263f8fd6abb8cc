"""Fixtures of the LLM tests: a test server per test and a client factory pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ragassets.llm import LLMClient, ResponseCache
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets_tests.llm_server import LLMTestServer


@pytest.fixture
def server_factory() -> Iterator[Callable[..., LLMTestServer]]:
    """Start test servers with the given options; all stopped at the end of the test."""
    started: list[LLMTestServer] = []

    def make(**options: Any) -> LLMTestServer:
        srv = LLMTestServer(**options).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory: Callable[..., LLMTestServer]) -> LLMTestServer:
    return server_factory()


def openai_client(
    base_url: str,
    *,
    cache: ResponseCache | None = None,
    timeout_s: float = 5.0,
    max_concurrency: int = 8,
    max_retries: int = 3,
    api_key: str | None = None,
    structured_output: str = "auto",
    model: str = "test-model",
    **kwargs: Any,
) -> LLMClient:
    """A client with short backoffs, so fault tests finish in seconds."""
    provider = OpenAIProvider(
        model, base_url, api_key=api_key, timeout_s=timeout_s, structured_output=structured_output
    )
    kwargs.setdefault("backoff_base_s", 0.01)
    kwargs.setdefault("backoff_cap_s", 0.05)
    return LLMClient(
        provider,
        cache=cache if cache is not None else ResponseCache(":memory:"),
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        progress_interval_s=kwargs.pop("progress_interval_s", 3600),
        **kwargs,
    )
