"""The OpenAI-compatible test server itself: answers, usage, embeddings, capacity, faults, auth."""

from __future__ import annotations

import json

import httpx
import pytest

from ragassets_tests.llm_server import FAULTS, LLMTestServer, embed_text


def chat(srv: LLMTestServer, content: str = "hello", **extra) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{srv.base_url}/chat/completions", json=body, timeout=10)


def test_chat_answers_deterministically_with_usage(server: LLMTestServer) -> None:
    a, b = chat(server, "same question"), chat(server, "same question")
    assert a.status_code == 200
    data = a.json()
    assert data["choices"][0]["message"]["content"] == b.json()["choices"][0]["message"]["content"]
    assert data["usage"]["prompt_tokens"] == 2 and data["usage"]["completion_tokens"] > 0
    assert server.stats()["chat_ok"] == 2


def test_chat_follows_a_json_schema(server: LLMTestServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["n", "tags"],
    }
    resp = chat(
        server, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )
    value = json.loads(resp.json()["choices"][0]["message"]["content"])
    assert 1 <= value["n"] <= 5 and isinstance(value["tags"], list)


def test_embeddings_are_deterministic_unit_vectors(server: LLMTestServer) -> None:
    resp = httpx.post(f"{server.base_url}/embeddings", json={"model": "e", "input": ["a b", "c"]}, timeout=10)
    data = resp.json()
    assert [d["index"] for d in data["data"]] == [0, 1]
    vec = data["data"][0]["embedding"]
    assert len(vec) == 384 and abs(sum(v * v for v in vec) - 1.0) < 1e-9
    assert vec == embed_text("a b", 384)
    assert data["usage"]["prompt_tokens"] == 3


def test_capacity_gives_429_with_retry_after(server_factory) -> None:
    srv = server_factory(latency_s=0.3, capacity=1, retry_after_s=0.25)

    async def two():
        import asyncio

        async with httpx.AsyncClient(timeout=10) as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            return await asyncio.gather(
                *(client.post(f"{srv.base_url}/chat/completions", json=body) for _ in range(2))
            )

    import asyncio

    statuses = sorted(r.status_code for r in asyncio.run(two()))
    assert statuses == [200, 429]
    assert srv.stats()["counters"]["capacity_429"] == 1


@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "timeout"])
def test_each_fault_is_injected(server_factory, fault: str) -> None:
    srv = server_factory(faults={fault: 1.0})
    try:
        resp = chat(srv)
    except httpx.RemoteProtocolError:
        assert fault == "truncated"
        return
    if fault == "500":
        assert resp.status_code == 500
    elif fault == "429":
        assert resp.status_code == 429 and float(resp.headers["Retry-After"]) > 0
    elif fault == "malformed":
        with pytest.raises(ValueError):
            resp.json()
    elif fault == "bad_json":
        with pytest.raises(ValueError):
            json.loads(resp.json()["choices"][0]["message"]["content"])
    assert srv.stats()["counters"][f"fault_{fault}"] == 1


def test_timeout_fault_outlasts_the_client(server_factory) -> None:
    srv = server_factory(faults={"timeout": 1.0}, timeout_sleep_s=2.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{srv.base_url}/chat/completions", json={"messages": []}, timeout=0.2)


def test_api_key_is_enforced(server_factory) -> None:
    srv = server_factory(api_key="k-123456")
    assert chat(srv).status_code == 401
    ok = httpx.post(
        f"{srv.base_url}/chat/completions",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers={"Authorization": "Bearer k-123456"},
        timeout=10,
    )
    assert ok.status_code == 200


def test_control_and_reset(server: LLMTestServer) -> None:
    server.control(capacity=0)
    assert chat(server).status_code == 429
    server.control(capacity=None)
    assert chat(server).status_code == 200
    server.reset()
    assert server.stats()["chat_requests"] == 0
    with pytest.raises(ValueError):
        server.control(faults={"nonsense": 1.0})


def test_runs_as_a_subprocess() -> None:
    with LLMTestServer.subprocess(latency_s=0.0, capacity=4) as srv:
        resp = httpx.post(
            f"{srv.base_url}/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
            timeout=10,
        )
        assert resp.status_code == 200
        assert srv.stats()["chat_ok"] == 1
        assert srv.stats()["config"]["capacity"] == 4
        assert len(srv.bodies()) == 1
