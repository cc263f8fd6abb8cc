"""Structured output: tolerant parsing, repair with the error appended, typed failures counted."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from ragassets.llm import GeneratedQuestions, LLMRequest, StructuredParseError, extract_json, parse_structured
from ragassets_tests.llm.conftest import openai_client


class Verdict(BaseModel):
    keep: bool
    score: float


@pytest.mark.parametrize(
    "text",
    [
        '{"keep": true, "score": 0.5}',
        'Sure! Here it is:\n```json\n{"keep": true, "score": 0.5}\n```\nAnything else?',
        'The verdict is {"keep": true, "score": 0.5} as requested.',
        '{"keep": true, "score": 0.5,}',
        "{\u201ckeep\u201d: true, \u201cscore\u201d: 0.5}",
        '{"keep": True, "score": 0.5}',
    ],
)
def test_tolerant_parser_accepts_common_small_model_habits(text: str) -> None:
    assert parse_structured(text, Verdict) == Verdict(keep=True, score=0.5)


def test_bare_list_is_accepted_for_a_single_list_model() -> None:
    text = '[{"question": "Q?", "answer": "A", "difficulty": "easy", "evidence": "A."}]'
    assert parse_structured(text, GeneratedQuestions).questions[0].answer == "A"


def test_parse_errors_are_typed() -> None:
    with pytest.raises(StructuredParseError) as exc:
        extract_json("no json here at all")
    assert exc.value.reason == "parse_error"
    with pytest.raises(StructuredParseError) as exc:
        parse_structured('{"keep": "maybe"}', Verdict)
    assert exc.value.reason == "schema_mismatch" and "score" in exc.value.message
    with pytest.raises(StructuredParseError) as exc:
        extract_json("")
    assert exc.value.reason == "parse_error"


def test_json_inside_strings_does_not_confuse_the_scanner() -> None:
    assert extract_json('x {"a": "a } brace", "b": [1, 2]} y') == {"a": "a } brace", "b": [1, 2]}


REPAIR_MARK = "could not be used"


def repairing_responder(body: dict) -> str:
    """Broken JSON first; valid JSON once the request carries the repair message."""
    last = body["messages"][-1]["content"]
    if REPAIR_MARK in last:
        return json.dumps({"keep": True, "score": 0.9})
    return "Here you go: {keep: yes"


def test_bad_json_is_repaired_with_the_error_appended(server_factory) -> None:
    srv = server_factory(responder=repairing_responder)
    client = openai_client(srv.base_url)
    (res,) = client.generate_structured([LLMRequest.chat("judge this")], Verdict)
    assert res.ok and res.value == Verdict(keep=True, score=0.9) and res.repairs == 1
    bodies = srv.bodies()
    assert len(bodies) == 2
    repair = bodies[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": "Here you go: {keep: yes"}
    assert REPAIR_MARK in repair[-1]["content"] and "invalid JSON" in repair[-1]["content"]
    assert client.stats.repairs == 1 and client.stats.failed == 0


def test_what_still_fails_is_a_typed_failure_with_raw_text(server_factory) -> None:
    srv = server_factory(responder=lambda body: "never JSON")
    client = openai_client(srv.base_url)
    results = client.generate_structured([LLMRequest.chat(f"q{i}") for i in range(3)], Verdict, max_repairs=2)
    assert srv.stats()["chat_requests"] == 9  # 1 + 2 repairs each, bounded
    for res in results:
        assert not res.ok and res.error == "parse_error" and res.raw == "never JSON" and res.repairs == 2
    assert client.stats.failures["parse_error"] == 3
    assert client.last_stats.failures["parse_error"] == 3 and client.last_stats.requests == 9


def test_schema_is_sent_as_response_format(server) -> None:
    client = openai_client(server.base_url, structured_output="json_schema")
    (res,) = client.generate_structured([LLMRequest.chat("judge")], Verdict)
    assert res.ok  # the test server answers response_format requests with matching JSON
    (body,) = server.bodies()
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Verdict.model_json_schema()
    assert "JSON schema" not in body["messages"][-1]["content"]


def test_without_native_schema_the_prompt_carries_it(server_factory) -> None:
    srv = server_factory(responder=lambda body: '{"keep": false, "score": 0.1}')
    client = openai_client(srv.base_url, structured_output="prompt")
    (res,) = client.generate_structured([LLMRequest.chat("judge")], Verdict)
    assert res.ok and res.value.keep is False
    (body,) = srv.bodies()
    assert "response_format" not in body
    assert "JSON schema" in body["messages"][-1]["content"] and '"score"' in body["messages"][-1]["content"]


def test_transport_failures_pass_through_structured(server_factory) -> None:
    srv = server_factory(faults={"500": 1.0})
    client = openai_client(srv.base_url, max_retries=0)
    (res,) = client.generate_structured([LLMRequest.chat("x")], Verdict)
    assert res.error == "server_error" and res.raw is None


def test_other_client_errors_are_not_taken_for_a_schema_refusal() -> None:
    from ragassets.llm.providers.openai import OpenAIProvider
    from ragassets.llm.types import ProviderError

    provider = OpenAIProvider("m", "http://127.0.0.1:9/v1")
    req = LLMRequest.chat("x", json_schema=Verdict.model_json_schema())
    with pytest.raises(ProviderError) as refused:
        provider._parse(req, 422, {}, b'{"error": "response_format: unknown variant `json_schema`"}')
    assert refused.value.schema_unsupported
    with pytest.raises(ProviderError) as other:
        provider._parse(req, 404, {}, b'{"error": "model m not found"}')
    assert not other.value.schema_unsupported and other.value.reason == "client_error"
    with pytest.raises(ProviderError) as bad:
        provider._parse(req, 400, {}, b'{"error": "max_tokens is too large"}')
    assert not bad.value.schema_unsupported
    # a 5xx is a refusal only when its body names response_format and the request carried one
    llama_cpp_python = (
        b'{"error": {"message": "response_format.type: Input should be \'text\' or \'json_object\'"}}'
    )
    with pytest.raises(ProviderError) as refused_500:
        provider._parse(req, 500, {}, llama_cpp_python)
    assert refused_500.value.schema_unsupported and not refused_500.value.retryable
    assert refused_500.value.refused_format == "json_schema"
    with pytest.raises(ProviderError) as crash:
        provider._parse(req, 500, {}, b'{"error": "CUDA out of memory while decoding json_schema"}')
    assert (
        not crash.value.schema_unsupported and crash.value.retryable and crash.value.reason == "server_error"
    )
    with pytest.raises(ProviderError) as plain:
        provider._parse(req, 500, {}, llama_cpp_python, schema_sent=False)
    assert not plain.value.schema_unsupported and plain.value.retryable


def test_an_answer_cut_at_max_tokens_is_reported_as_truncated_not_repaired(server_factory) -> None:
    from ragassets.llm import SamplingParams

    long_json = '{"keep": true, "score": 0.5, "note": "' + "word " * 50 + '"}'
    srv = server_factory(responder=lambda body: long_json)
    client = openai_client(srv.base_url, defaults=SamplingParams(max_tokens=20))
    (res,) = client.generate_structured([LLMRequest.chat("judge")], Verdict)
    assert (
        res.error == "truncated"
        and "max_tokens (20)" in res.error_detail
        and "llm.max_tokens" in res.error_detail
    )
    assert res.raw and len(res.raw.split()) == 20 and res.repairs == 0
    assert srv.stats()["chat_requests"] == 1  # no repair round: the same limit would cut it again
    assert client.last_stats.failures == {"truncated": 1}
    # with room for the answer it parses
    roomy = openai_client(srv.base_url, defaults=SamplingParams(max_tokens=200))
    (ok,) = roomy.generate_structured([LLMRequest.chat("judge")], Verdict)
    assert ok.ok and ok.value.keep
