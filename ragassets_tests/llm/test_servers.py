"""The OpenAI-compatible servers people run, as the test server plays them: which structured-output
mode each takes, how ``auto`` finds it, and the check of the server before a stage's first request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from ragassets.llm import LLMRequest, ResponseCache
from ragassets.llm.types import ServerUnavailable
from ragassets_tests.llm.conftest import openai_client

N = 12


class Verdict(BaseModel):
    keep: bool
    score: float


class Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def info(self, msg: str) -> None:
        self.infos.append(msg)

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)


def requests(n: int = N) -> list[LLMRequest]:
    return [LLMRequest.chat(f"judge passage {i}") for i in range(n)]


def prompt_follower(body: dict) -> str:
    """A model that follows a schema spelled out in the prompt (and says nothing useful otherwise)."""
    if "JSON schema" in body["messages"][-1]["content"]:
        return json.dumps({"keep": True, "score": 0.75})
    return "I think this passage is fine."


@pytest.mark.parametrize("flavor", ["vllm", "openai", "ollama", "llama-server"])
def test_servers_taking_json_schema_get_it_first_and_nothing_else(server_factory, flavor: str) -> None:
    srv = server_factory(flavor=flavor, models=["test-model"])
    log = Log()
    client = openai_client(srv.base_url, logger=log)
    results = client.generate_structured(requests(), Verdict)
    assert all(r.ok for r in results), [r.error_detail for r in results if not r.ok]
    bodies = srv.bodies()
    assert len(bodies) == N and all(b["response_format"]["type"] == "json_schema" for b in bodies)
    assert all("JSON schema" not in b["messages"][-1]["content"] for b in bodies)  # the server enforces it
    assert client.structured_mode == "json_schema" and not log.warnings
    assert srv.stats()["counters"]["models_requests"] == 1  # checked once, before the first request


def test_ollama_needs_no_key_and_serves_a_name_as_name_latest(server_factory) -> None:
    srv = server_factory(flavor="ollama", models=["llama3.2"])
    client = openai_client(srv.base_url, model="llama3.2")
    (res,) = client.generate_structured(requests(1), Verdict)
    assert res.ok
    assert srv.stats()["auth_headers"] == []  # no Authorization header without api_key_env
    assert client.served_models == ["llama3.2:latest"]


def test_llama_server_json_object_mode_sends_the_schema_field(server_factory) -> None:
    srv = server_factory(flavor="llama-server", models=["/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"])
    client = openai_client(srv.base_url, model="qwen", structured_output="json_object")
    results = client.generate_structured(requests(3), Verdict)
    assert all(r.ok for r in results)
    for body in srv.bodies():
        assert body["response_format"] == {"type": "json_object", "schema": Verdict.model_json_schema()}
        assert "JSON schema" in body["messages"][-1]["content"]  # for servers that ignore the field
    # a single-model llama-server answers any model name: the check lets "qwen" through
    assert client.served_models == ["/models/qwen2.5-1.5b-instruct-q4_k_m.gguf"]


def test_llama_cpp_python_refuses_json_schema_with_500_and_auto_moves_to_json_object(server_factory) -> None:
    srv = server_factory(flavor="llama-cpp-python", models=["qwen"])
    log = Log()
    client = openai_client(srv.base_url, model="qwen", max_concurrency=4, max_retries=3, logger=log)
    results = client.generate_structured(requests(), Verdict)
    assert all(r.ok for r in results), [r.error_detail for r in results if not r.ok]
    refused = srv.stats()["counters"]["response_format_refused"]
    assert 1 <= refused <= 4  # only what was in flight when the first refusal came back
    assert srv.stats()["chat_requests"] == refused + N  # the 500 was not retried with backoff
    answered = [b for b in srv.bodies() if b["response_format"]["type"] == "json_object"]
    assert len(answered) == N and all(b["response_format"]["schema"] for b in answered)
    assert client.structured_mode == "json_object"
    assert len(log.warnings) == 1 and "refused response_format of type json_schema" in log.warnings[0]
    assert "structured_output: json_object" in log.warnings[0]
    assert not client.last_stats.failures and all(r.results[-1].attempts == 1 for r in results)


def test_tgi_refuses_every_response_format_and_auto_ends_with_the_schema_in_the_prompt(
    server_factory,
) -> None:
    srv = server_factory(flavor="tgi", responder=prompt_follower)
    log = Log()
    client = openai_client(srv.base_url, max_concurrency=4, logger=log)
    results = client.generate_structured(requests(), Verdict)
    assert all(r.ok and r.value.score == 0.75 for r in results), [r.error_detail for r in results if not r.ok]
    assert client.structured_mode == "prompt"
    answered = [b for b in srv.bodies() if "response_format" not in b]
    assert len(answered) == N and all("JSON schema" in b["messages"][-1]["content"] for b in answered)
    # one warning per change of mode: json_schema -> json_object -> prompt
    assert len(log.warnings) == 2 and "structured_output: prompt" in log.warnings[1]
    assert not client.last_stats.failures


def test_a_fixed_mode_is_not_changed_behind_the_users_back(server_factory) -> None:
    srv = server_factory(flavor="llama-cpp-python")
    client = openai_client(srv.base_url, structured_output="json_schema", max_retries=3)
    results = client.generate_structured(requests(3), Verdict)
    assert [r.error for r in results] == ["client_error"] * 3
    assert "structured_output: auto" in results[0].error_detail and "HTTP 500" in results[0].error_detail
    assert srv.stats()["chat_requests"] == 3  # a refusal is not retried
    assert client.structured_mode == "json_schema"


def test_the_mode_change_does_not_poison_the_cache(server_factory, tmp_path: Path) -> None:
    srv = server_factory(flavor="llama-cpp-python")
    cache = ResponseCache(tmp_path / "llm_cache.sqlite")
    # a fixed json_schema run fails every request: failures are recorded, never stored as answers
    strict = openai_client(srv.base_url, cache=cache, structured_output="json_schema")
    assert not any(r.ok for r in strict.generate_structured(requests(4), Verdict))
    assert cache.count() == 0
    first = openai_client(srv.base_url, cache=cache, max_concurrency=2)
    answers = first.generate_structured(requests(4), Verdict)
    assert all(r.ok for r in answers) and cache.count() == 4
    assert {e["reason"] for e in cache.errors()} == {"client_error"}  # only the strict run's failures
    # a new run starts at json_schema again, yet finds every answer under the same keys: nothing is sent
    srv.reset()
    again = openai_client(srv.base_url, cache=cache)
    replay = again.generate_structured(requests(4), Verdict)
    assert [r.value for r in replay] == [r.value for r in answers]
    assert srv.stats()["chat_requests"] == 0 and again.last_stats.cache_hits == 4


def test_a_model_the_server_does_not_serve_fails_at_once_listing_what_it_serves(server_factory) -> None:
    srv = server_factory(models=["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct"])
    client = openai_client(srv.base_url, model="llama3")
    with pytest.raises(ServerUnavailable, match="does not serve model 'llama3'") as err:
        client.generate_structured(requests(3), Verdict)
    assert "meta-llama/Llama-3.1-8B-Instruct, Qwen/Qwen2.5-1.5B-Instruct" in str(err.value)
    assert "llm.model" in str(err.value) and err.value.reason == "model_not_served"
    assert srv.stats()["chat_requests"] == 0
    assert dict(client.stats.failures) == {"model_not_served": 3} and client.stats.sent == 0


def test_a_server_that_refuses_the_key_is_told_apart_from_one_that_is_down(server_factory) -> None:
    srv = server_factory(models=["test-model"], api_key="the-right-key")
    refusing = openai_client(srv.base_url, api_key="a-wrong-key")
    with pytest.raises(ServerUnavailable, match=r"is up but refuses us.*HTTP 401.*api_key_env") as refused:
        refusing.run(requests(1))
    assert refused.value.reason == "client_error" and "a-wrong-key" not in str(refused.value)
    down = openai_client("http://127.0.0.1:9/v1")
    with pytest.raises(ServerUnavailable, match="is down or unreachable") as unreachable:
        down.run(requests(1))
    assert unreachable.value.reason == "connection"
    assert srv.stats()["chat_requests"] == 0


def test_without_a_models_endpoint_the_check_is_skipped(server_factory) -> None:
    srv = server_factory(flavor="tgi", responder=prompt_follower)  # no models: /v1/models answers 404
    client = openai_client(srv.base_url, model="anything", structured_output="prompt")
    (res,) = client.generate_structured(requests(1), Verdict)
    assert res.ok and client.server_checked and client.served_models is None
    assert srv.stats()["counters"]["models_requests"] == 1
