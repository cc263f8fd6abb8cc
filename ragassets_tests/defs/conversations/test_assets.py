"""End to end: conversations, chunk_suitability, rag_prepared, rag_conversations, their exports and
checks, materialized by Dagster on the sample corpus through the LLM test server and with the
offline provider."""

import json
import shutil

import polars as pl
import pytest
import yaml

from ragassets.rag.chat_format import default_chat_format
from ragassets.storage import read_table
from ragassets_tests.conftest import REPO, SAMPLE, check_results, materialize
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.rag.responders import SERVER_MARK, rag_like, says_not_suitable_in_prose

pytestmark = pytest.mark.slow

EVERYTHING = "+key:conversations or +key:rag_conversations"
CONVERSATION_COLUMNS = ["corpus", "conversation_id", "messages", "source_chunk_ids", "n_turns", "provider", "model"]
EXPORTS = ("conversations.jsonl", "rag_prepared_data.jsonl", "axolotl_rag_conversations.jsonl",
           "rag_conversations.messages.jsonl")
MY_CHECKS = ("conversations_grounded", "segments_valid", "answers_without_scaffolding", "rag_failure_share")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data root shared by this module's tests (materializing is the slow part)."""
    data = tmp_path_factory.mktemp("conv") / "data"
    (data / "corpora").mkdir(parents=True)
    (data / "dagster_home").mkdir()
    shutil.copyfile(REPO / "dagster.yaml", data / "dagster_home" / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGASSETS_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        yield data


def _corpus(root, name: str, settings: dict) -> None:
    """A copy of the sample corpus with ``settings`` as its corpus.yaml."""
    shutil.copytree(SAMPLE, root / "corpora" / name)
    (root / "corpora" / name / "corpus.yaml").write_text(yaml.safe_dump(settings))


def _pii_gates(result) -> dict[str, bool]:
    return {e.event_specific_data.asset_key.to_user_string(): e.event_specific_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.event_specific_data.check_name == "no_residual_pii"}


@pytest.fixture(scope="module")
def served(root):
    """The sample corpus through the test server: one server, both roles (small_llm takes llm's keys)."""
    seen: list[dict] = []
    with LLMTestServer(responder=lambda b: seen.append(b) or rag_like(b)) as srv:
        _corpus(root, "served", {
            "llm": {"provider": "openai", "base_url": srv.base_url, "model": "test-model"},
            "small_llm": {"model": "small-test-model"},
            "rag": {"rag_failure_percentage": 0.5, "num_items_per_group": 3, "seed": 3},
        })
        result = materialize("served", EVERYTHING)
        first = srv.stats()["chat_requests"]
        again = materialize("served", "key:rag_conversations or key:conversations")
        second = srv.stats()["chat_requests"]
    return {"result": result, "again": again, "seen": seen, "first": first, "second": second}


def test_tables_and_checks_through_the_server(root, served):
    chunks = read_table("chunks", "served", root)
    conv = read_table("conversations", "served", root)
    assert conv.columns == CONVERSATION_COLUMNS
    assert conv.height > 0 and set(conv["provider"]) == {"openai"} and set(conv["model"]) == {"test-model"}
    for row in conv.iter_rows(named=True):
        msgs = json.loads(row["messages"])
        assert 2 <= row["n_turns"] == len(msgs) // 2 <= 4 and msgs[0]["content"].startswith(SERVER_MARK)
        assert 1 <= len(row["source_chunk_ids"]) <= 3 and set(row["source_chunk_ids"]) <= set(chunks["chunk_id"])

    suit = read_table("chunk_suitability", "served", root)
    assert sorted(suit["chunk_id"]) == sorted(chunks["chunk_id"]) and set(suit["model"]) == {"small-test-model"}
    kept = set(suit.filter(pl.col("suitable"))["chunk_id"])
    prepared = read_table("rag_prepared", "served", root)
    assert set(prepared["chunk_id"]) == kept and set(prepared["distractors"]) == {"hard_negative"}
    rag = read_table("rag_conversations", "served", root)
    assert set(rag["item_id"]) == set(prepared["item_id"]) and rag.height == prepared.height
    assert set(rag["model"]) == {"test-model"}

    checks = check_results(served["result"])
    for name in MY_CHECKS:
        assert checks[name].passed, (name, checks[name].description)
    gates = _pii_gates(served["result"])
    assert gates["conversations"] and gates["chunk_suitability"] and gates["rag_conversations"]


def test_segments_follow_the_default_base_model(root, served):
    rag = read_table("rag_conversations", "served", root)
    fmt = default_chat_format()
    line = json.loads(rag["segments"][0])["segments"]
    assert line[0]["text"].startswith("<|im_start|>system\n") and not line[0]["label"]
    assert sum(s["label"] for s in line) == 2
    msgs = json.loads(rag["messages"][0])
    assert line[0]["text"] == fmt.system(msgs[0]["content"])


def test_exports_load_with_datasets(root, served, tmp_path):
    import datasets

    out = root / "exports" / "served"
    loaded = {name: datasets.load_dataset("json", data_files=str(out / name), split="train",
                                          cache_dir=str(tmp_path / "hf")) for name in EXPORTS}
    assert len(loaded["conversations.jsonl"]) == read_table("conversations", "served", root).height
    assert len(loaded["rag_prepared_data.jsonl"]) == read_table("rag_prepared", "served", root).height
    assert loaded["axolotl_rag_conversations.jsonl"].column_names == ["segments"]
    assert "source_chunk_ids" in loaded["rag_conversations.messages.jsonl"].column_names


def test_usage_per_role_and_reruns_reuse_the_simulation(root, served):
    usage = read_table("llm_usage", "served", root)
    roles = dict(usage.group_by("asset").agg(pl.col("role").first()).iter_rows())
    assert roles["chunk_suitability"] == "small_llm" and roles["rag_conversations"] == "llm"
    assert roles["conversations"] == "llm"
    # the re-run asked nothing again (cache) and drew no new simulation (rag_prepared was not re-run)
    assert served["second"] == served["first"] and served["again"].success
    prompts = [b["messages"][-1]["content"] for b in served["seen"]]
    assert any("retrieval failed" in p for p in prompts) and any("contains the source passage" in p for p in prompts)


def test_offline_provider(root, served):
    """The same corpus with the offline stand-in (its upstream tables are reused)."""
    (root / "corpora" / "served" / "corpus.yaml").write_text(yaml.safe_dump({}))
    result = materialize("served", "key:conversations or key:chunk_suitability or key:rag_prepared "
                                   "or key:rag_conversations")
    conv = read_table("conversations", "served", root)
    rag = read_table("rag_conversations", "served", root)
    assert conv.height > 0 and set(conv["provider"]) == {"offline"}
    assert rag.height > 0 and set(rag["provider"]) == {"offline"}
    checks = check_results(result)
    for name in MY_CHECKS:
        assert checks[name].passed, (name, checks[name].description)
    assert all(_pii_gates(result).values())
    suit = read_table("chunk_suitability", "served", root)
    assert suit["suitable"].any() and suit["reason"].str.len_chars().min() > 0


def test_a_filter_that_keeps_nothing_fails_with_its_reasons(root, served):
    with LLMTestServer(responder=says_not_suitable_in_prose) as srv:
        (root / "corpora" / "served" / "corpus.yaml").write_text(yaml.safe_dump(
            {"small_llm": {"provider": "openai", "base_url": srv.base_url, "model": "m", "max_repairs": 0}}))
        result = materialize("served", "key:chunk_suitability or key:rag_prepared", expect_success=False)
    assert not result.success
    failure = next(str(e.event_specific_data.error) for e in result.all_events
                   if e.is_failure and e.step_key == "rag_prepared")
    assert "kept none of the" in failure and "no verdict (parse_error)" in failure
    assert "skip_filter_chunks: true" in failure
    # skipping the filter keeps every chunk and asks no model
    ok = materialize("served", "key:chunk_suitability or key:rag_prepared",
                     run_config={"chunk_suitability": {"rag": {"skip_filter_chunks": True}},
                                 "rag_prepared": {"rag": {"skip_filter_chunks": True}}})
    assert ok.success
    assert read_table("chunk_suitability", "served", root)["suitable"].all()
