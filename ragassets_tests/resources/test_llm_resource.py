"""The llm / small_llm resources: one line from an asset, accounting metadata, llm_usage rows."""

# no `from __future__ import annotations`: Dagster reads the asset's resource annotations at runtime

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ragassets import paths
from ragassets.llm import GeneratedQuestions, LLMRequest, PromptLibrary, summarize_failures, task_request
from ragassets.resources.llm import LLMResource
from ragassets.settings import load_settings
from ragassets_tests.llm_server import LLMTestServer

TEXT = "The launch took place on April 11, 1970. The crew of 3 astronauts was led by Jim Lovell."
parts = dg.StaticPartitionsDefinition(["sample"])


@dg.asset(partitions_def=parts)
def tiny_questions(context: dg.AssetExecutionContext, llm: LLMResource) -> dg.MaterializeResult:
    settings = load_settings(paths.corpus_dir(context.partition_key), environ={})
    client = llm.client(context, settings)
    req = task_request(
        "questions",
        PromptLibrary(),
        id="c1",
        previous="",
        current=TEXT,
        next="",
        n=2,
        difficulties=["easy", "hard"],
    )
    (answer,) = client.generate_structured([req], GeneratedQuestions)
    return dg.MaterializeResult(
        metadata={
            "questions": len(answer.value.questions) if answer.ok else 0,
            **llm.record_usage(context, client),
        }
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    (mat,) = result.asset_materializations_for_node("tiny_questions")
    return {k: v.value for k, v in mat.metadata.items()}


def test_asset_uses_the_resource_and_records_usage(data_root: Path) -> None:
    resources = {"llm": LLMResource()}
    first = dg.materialize([tiny_questions], resources=resources, partition_key="sample")
    md = _metadata(first)
    assert md["questions"] == 2
    assert md["llm/provider"] == "offline" and md["llm/requests"] == 1 and md["llm/sent"] == 1
    assert md["llm/cache_hits"] == 0 and md["llm/failures"] == 0 and md["llm/cost_usd"] == 0.0
    assert md["llm/input_tokens"] > 0 and "llm/wall_s" in md and "llm/tokens_per_s" in md
    second = dg.materialize([tiny_questions], resources=resources, partition_key="sample")
    assert _metadata(second)["llm/cache_hits"] == 1 and _metadata(second)["llm/sent"] == 0
    assert (data_root / "llm_cache.sqlite").exists()
    usage = pl.read_parquet(paths.table_path("llm_usage", "sample", data_root))
    assert usage.height == 2 and usage["asset"].to_list() == ["tiny_questions"] * 2
    assert usage["run_id"].to_list() == [first.run_id, second.run_id]
    assert usage["sent"].to_list() == [1, 0]


def test_openai_resource_with_env_var_key(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-resource-test-987654321"
    monkeypatch.setenv("TEST_LLM_KEY", key)
    with LLMTestServer(api_key=key, models=["served"]) as srv:
        llm = LLMResource(
            provider="openai",
            base_url=srv.base_url,
            model="served",
            api_key=dg.EnvVar("TEST_LLM_KEY"),
            price_input_per_mtok=1.0,
        )
        result = dg.materialize([tiny_questions], resources={"llm": llm}, partition_key="sample")
        assert srv.stats()["chat_ok"] == 1
    md = _metadata(result)
    assert md["llm/provider"] == "openai" and md["llm/model"] == "served" and md["llm/cost_usd"] > 0
    assert md["llm/structured_output"] == "json_schema"
    events = "\n".join(str(e) for e in result.all_events)
    assert key not in events and key not in str(md)
    assert key.encode() not in (data_root / "llm_cache.sqlite").read_bytes()


def test_build_asset_context_and_failure_counts(data_root: Path) -> None:
    with LLMTestServer(faults={"500": 1.0}) as srv:
        llm = LLMResource(provider="openai", base_url=srv.base_url, model="m", max_retries=0)
        context = dg.build_asset_context(partition_key="sample")
        client = llm.client(context)
        results = client.run([LLMRequest.chat("a"), LLMRequest.chat("b")])
    assert [r.error for r in results] == ["server_error", "server_error"]
    md = llm.record_usage(context, client, asset="probe")
    assert md["llm/failures"].value == 2 and md["llm/failures_by_reason/server_error"].value == 2
    usage = pl.read_parquet(paths.table_path("llm_usage", "sample", data_root))
    assert usage["asset"].to_list() == ["probe"] and usage["failures"].to_list() == [2]


def test_corpus_blocks_override_the_resource_and_small_llm_inherits(tmp_path: Path) -> None:
    corpus = tmp_path / "corpora" / "c"
    corpus.mkdir(parents=True)
    (corpus / "corpus.yaml").write_text(
        "llm: {provider: openai, base_url: 'http://127.0.0.1:8000/v1', model: big, max_concurrency: 32}\n"
        "small_llm: {model: small}\n"
    )
    settings = load_settings(corpus, environ={})
    base = {"provider": "offline", "temperature": 0.3, "timeout_s": 10.0}
    large = LLMResource(role="llm", **base).effective_settings(settings)
    small = LLMResource(role="small_llm", **base).effective_settings(settings)
    assert (large.provider, large.model, large.max_concurrency, large.temperature) == (
        "openai",
        "big",
        32,
        0.3,
    )
    assert (small.provider, small.model, small.base_url) == ("openai", "small", "http://127.0.0.1:8000/v1")
    assert small.timeout_s == 10.0  # from the resource: neither block set it
    untouched = LLMResource(role="llm", **base).effective_settings(load_settings(environ={}))
    assert untouched.provider == "offline" and untouched.temperature == 0.3


def test_misconfigured_role_fails_with_a_message(data_root: Path) -> None:
    llm = LLMResource(provider="openai", model="m")  # no base_url
    with pytest.raises(dg.Failure, match="cannot start LLM role 'llm'.*base_url"):
        llm.client(dg.build_asset_context(partition_key="sample"))
    with pytest.raises(dg.Failure, match="misconfigured"):
        LLMResource(provider="gpt").effective_settings()


def test_definitions_bind_both_roles() -> None:
    from ragassets.definitions import defs

    assert isinstance(defs.resources["llm"], LLMResource) and defs.resources["small_llm"].role == "small_llm"


@dg.asset(partitions_def=parts)
def failing_questions(context: dg.AssetExecutionContext, llm: LLMResource) -> None:
    """Asks, gets nothing, fails before it records anything, as a stage does when its server fails."""
    client = llm.client(context)
    results = client.run([LLMRequest.chat("a"), LLMRequest.chat("b")])
    raise dg.Failure(f"no request got an answer: {summarize_failures(results)['failures_by_reason']}")


def _failure_messages(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(str(e.event_specific_data) for e in result.all_events if e.is_failure)


def test_a_stage_that_fails_on_its_server_still_records_its_usage(data_root: Path) -> None:
    with LLMTestServer(faults={"500": 1.0}) as srv:
        llm = LLMResource(provider="openai", base_url=srv.base_url, model="m", max_retries=1)
        result = dg.materialize(
            [failing_questions], resources={"llm": llm}, partition_key="sample", raise_on_error=False
        )
    assert not result.success and "no request got an answer" in _failure_messages(result)
    usage = pl.read_parquet(paths.table_path("llm_usage", "sample", data_root))
    assert usage["asset"].to_list() == ["failing_questions"] and usage["run_id"].to_list() == [result.run_id]
    row = usage.row(0, named=True)
    assert (row["requests"], row["sent"], row["failures"]) == (2, 2, 2)
    assert json.loads(row["failures_by_reason"]) == {"server_error": 2}


def test_a_model_the_server_does_not_serve_fails_the_step_and_is_recorded(data_root: Path) -> None:
    with LLMTestServer(models=["Qwen/Qwen2.5-7B-Instruct"]) as srv:
        llm = LLMResource(provider="openai", base_url=srv.base_url, model="qwen2.5")
        result = dg.materialize(
            [failing_questions], resources={"llm": llm}, partition_key="sample", raise_on_error=False
        )
        assert srv.stats()["chat_requests"] == 0
    messages = _failure_messages(result)
    assert "does not serve model 'qwen2.5'; it serves: Qwen/Qwen2.5-7B-Instruct" in messages
    usage = pl.read_parquet(paths.table_path("llm_usage", "sample", data_root))
    row = usage.row(0, named=True)
    assert (row["requests"], row["sent"]) == (2, 0)
    assert json.loads(row["failures_by_reason"]) == {"model_not_served": 2}


def test_the_old_json_schema_field_of_the_resource_still_works() -> None:
    assert LLMResource(json_schema=False).effective_settings().structured_output == "prompt"
    assert (
        LLMResource(structured_output="json_object").effective_settings().structured_output == "json_object"
    )
    with pytest.raises(dg.Failure, match="structured_output"):
        LLMResource(structured_output="grammar").effective_settings()
