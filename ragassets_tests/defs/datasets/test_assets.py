"""End to end: scored_qa, training_datasets and grpo_dataset with their checks, materialized by Dagster on
the sample corpus; the judge through the LLM test server (a new threshold asks it nothing) and the offline
stand-in."""

import json
import shutil

import polars as pl
import pytest
import yaml

from ragassets import paths
from ragassets.judging import VERDICTS
from ragassets.storage import read_table, write_table
from ragassets_tests.conftest import REPO, SAMPLE, check_results, materialize
from ragassets_tests.llm_server import LLMTestServer

pytestmark = pytest.mark.slow

datasets = pytest.importorskip("datasets")

UPSTREAM = "+key:scored_qa or +key:paraphrased_chunks"
MINE = "key:scored_qa or key:training_datasets or key:grpo_dataset"
GATES = {"no_train_eval_leakage", "exports_valid", "answers_reveal_no_reasoning"}
TABLES = ("scored_qa", "training_datasets", "grpo_dataset")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    data = tmp_path_factory.mktemp("datasets") / "data"
    (data / "corpora").mkdir(parents=True)
    (data / "dagster_home").mkdir()
    shutil.copyfile(REPO / "dagster.yaml", data / "dagster_home" / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGASSETS_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        yield data


def _corpus(root, name: str, settings: dict) -> None:
    shutil.copytree(SAMPLE, root / "corpora" / name)
    (root / "corpora" / name / "corpus.yaml").write_text(yaml.safe_dump(settings))


def _metadata(result, asset: str) -> dict:
    (mat,) = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}


def _by_question(body: dict) -> str:
    """A judge whose overall score is a fixed function of the question (0..10), so thresholds keep known shares."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    question = user.split("\nQuestion: ", 1)[1].split("\n", 1)[0]
    overall = sum(map(ord, question)) % 11
    return json.dumps({"accuracy_reason": "r", "accuracy": min(3, overall // 3), "relevance_reason": "r",
                       "relevance": 2, "clarity_reason": "r", "clarity": 2, "usefulness_reason": "r",
                       "usefulness": 1, "overall": overall})


@pytest.fixture(scope="module")
def served(root):
    with LLMTestServer(responder=_by_question) as srv:
        _corpus(root, "served", {
            "small_llm": {"provider": "openai", "base_url": srv.base_url, "model": "test-model"},
            "datasets": {"include": ["qa"], "format_threshold": 5},
        })
        first = materialize("served", f"{UPSTREAM} or {MINE}")
        judged = srv.stats()["chat_requests"]
        again = materialize("served", "training_datasets",
                            run_config={"training_datasets": {"datasets": {"format_threshold": 9}}})
        after_threshold = srv.stats()["chat_requests"]
        rejudged = materialize("served", "scored_qa")
        after_rejudge = srv.stats()["chat_requests"]
    include = {"training_datasets": {"datasets": {"include": ["qa", "conversations"], "format_threshold": 0}}}
    missing = materialize("served", "training_datasets", expect_success=False, run_config=include)
    _write_conversations(root, "served")
    merged = materialize("served", "training_datasets", run_config=include)
    return {"first": first, "again": again, "rejudged": rejudged, "judged": judged, "missing": missing,
            "merged": merged, "after_threshold": after_threshold, "after_rejudge": after_rejudge}


def _write_conversations(root, corpus: str) -> None:
    """A conversations table as the conversations stage writes it (see /work/notes/conversations-schema.md)."""
    chunk_ids = read_table("chunks", corpus, root)["chunk_id"].to_list()
    turns = [{"role": "user", "content": "What happened?"}, {"role": "assistant", "content": "It says so."}]
    table = pl.DataFrame({
        "corpus": [corpus] * 2, "conversation_id": ["conv-a", "conv-b"], "messages": [json.dumps(turns)] * 2,
        "source_chunk_ids": [chunk_ids[:2], chunk_ids[1:3]], "n_turns": [1, 1], "provider": ["test"] * 2,
        "model": ["test"] * 2,
    })
    write_table(table, paths.table_path("conversations", corpus, root))


def test_judge_through_the_server_and_a_new_threshold_never_asks_it(root, served):
    scored = read_table("scored_qa", "served", root)
    questions = read_table("questions", "served", root)
    assert scored.height == questions.height > 0 and served["judged"] == questions.height
    assert set(scored["judge_provider"]) == {"openai"} and set(scored["judge_model"]) == {"test-model"}
    assert set(scored["verdict"]) <= set(VERDICTS) and scored["overall"].null_count() == 0
    first = _metadata(served["first"], "training_datasets")
    assert first["kept_pairs"] == (scored["overall"] >= 5).sum()
    # a new threshold: only training_datasets ran, and the judge got no request
    steps = {e.step_key for e in served["again"].all_events if e.step_key}
    assert "training_datasets" in steps and all(s.startswith("training_datasets") for s in steps)  # and its checks
    assert served["after_threshold"] == served["judged"]
    again = _metadata(served["again"], "training_datasets")
    assert again["format_threshold"] == 9.0 and again["kept_pairs"] == (scored["overall"] >= 9).sum()
    assert again["kept_pairs"] < first["kept_pairs"]
    assert again["train_examples"] + again["eval_examples"] == again["kept_pairs"]
    # re-materializing the judge itself answers from the cache: still no request
    assert served["after_rejudge"] == served["judged"]
    rejudged = _metadata(served["rejudged"], "scored_qa")
    assert rejudged["small_llm/cache_hits"] == questions.height and rejudged["small_llm/sent"] == 0


def test_included_sources_are_merged_and_a_missing_one_says_what_to_do(root, served):
    failure = next(e for e in served["missing"].all_events if e.is_failure)
    assert "datasets.include names 'conversations' but conversations is not materialized" in str(
        failure.event_specific_data)
    merged = _metadata(served["merged"], "training_datasets")
    table = read_table("training_datasets", "served", root)
    assert merged["train/conversations"] + merged.get("eval/conversations", 0) == 2
    assert table.height == read_table("scored_qa", "served", root).height + 2  # threshold 0 keeps every pair
    sft = root / "exports" / "served" / "sft"
    assert sum(len((sft / f"messages.{s}.jsonl").read_text().splitlines()) for s in ("train", "eval")) == table.height
    # conv-a and conv-b share a chunk: one side of the split, with every qa pair on those chunks
    conv = table.filter(pl.col("source") == "conversations")
    assert conv["split"].n_unique() == 1
    shared = set(conv["source_chunk_ids"].explode())
    assert set(table.filter(pl.col("chunk_id").is_in(shared))["split"]) == set(conv["split"])


@pytest.fixture(scope="module")
def offline(root):
    _corpus(root, "sample", {"datasets": {"include": ["qa"]}})
    return materialize("sample", f"{UPSTREAM} or {MINE} or key:chunk_index")


def test_offline_scored_qa_metadata(root, offline):
    scored = read_table("scored_qa", "sample", root)
    meta = _metadata(offline, "scored_qa")
    assert meta["pairs"] == scored.height > 0
    assert sum(meta[f"verdict/{v}"] for v in VERDICTS) == scored.height
    assert 0.0 <= meta["pass_rate"] <= 1.0 and isinstance(meta["mean_score"], float)
    rows = [r for r in meta["score_distribution"].splitlines() if r[:3].strip("| ").isdigit()]
    assert len(rows) == 11 and sum(int(r.split("|")[2]) for r in rows) == scored.height
    assert meta["score_histogram"].startswith("![Judge overall scores")
    assert "stand-in" in meta["note"] and meta["judge"].startswith("offline:")
    assert set(json.loads(scored["reasons"][0])) == {"accuracy", "relevance", "clarity", "usefulness"}


def test_offline_exports_load_and_gates_pass(root, offline):
    checks = check_results(offline)
    for name in GATES:
        assert checks[name].passed, (name, checks[name].metadata)
    pii = {e.event_specific_data.asset_key.to_user_string(): e.event_specific_data.passed
           for e in offline.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
           and e.event_specific_data.check_name == "no_residual_pii"}
    assert {a: pii.get(a) for a in TABLES} == dict.fromkeys(TABLES, True)
    out = root / "exports" / "sample"
    sft = out / "sft"
    ds = datasets.load_dataset("json", data_files={s: str(sft / f"messages.{s}.jsonl") for s in ("train", "eval")})
    table = read_table("training_datasets", "sample", root)
    assert ds["train"].num_rows + ds["eval"].num_rows == table.height > 0
    assert "# SFT dataset of corpus `sample`" in (sft / "README.md").read_text()
    grpo = datasets.load_dataset("json", data_files=str(out / "grpo.jsonl"), split="train")
    g = read_table("grpo_dataset", "sample", root)
    assert grpo.num_rows == g.height and set(grpo["task"]) == {"qa", "retrieval"}
    assert (out / "grpo.parquet").exists()


def test_retrieval_reward_over_the_corpus_chunk_index(root, offline):
    from ragassets.rewards import load_retrieval_reward

    rows = read_table("grpo_dataset", "sample", root).filter(pl.col("task") == "retrieval")
    reward = load_retrieval_reward("sample", root, k=5)
    # a policy that copies the paraphrase as its query finds most originals; an off-topic query finds none
    copied = reward([None] * rows.height, [f"<query>{p}</query>" for p in rows["paraphrase"]],
                    chunk_id=rows["chunk_id"].to_list(), task=rows["task"].to_list())
    off_topic = reward([None] * rows.height, ["<query>zebra migration patterns</query>"] * rows.height,
                       chunk_id=rows["chunk_id"].to_list(), task=rows["task"].to_list())
    assert sum(copied) / len(copied) > 0.5 and sum(copied) > sum(off_topic)
    assert all(0.0 <= r <= 1.0 for r in copied + off_topic)


def _run_checks(corpus: str, *checks: tuple[str, str]) -> dict[str, bool]:
    """Only these checks (asset, name) for ``corpus``, on what is stored: check name -> passed."""
    import dagster as dg

    from ragassets.definitions import defs

    keys = {dg.AssetCheckKey(dg.AssetKey(asset), name) for asset, name in checks}
    job = defs.resolve_job_def("corpus_job").get_subset(asset_selection=set(), asset_check_selection=keys)
    result = job.execute_in_process(instance=dg.DagsterInstance.get(), partition_key=corpus, raise_on_error=False)
    return {e.event_specific_data.check_name: e.event_specific_data.passed for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_gates_fail_on_crafted_bad_data(root, offline):
    """Runs last: it spoils the sample corpus's exports and GRPO table on purpose."""
    gates = (("training_datasets", "no_train_eval_leakage"), ("training_datasets", "exports_valid"),
             ("grpo_dataset", "answers_reveal_no_reasoning"))
    assert _run_checks("sample", *gates) == dict.fromkeys((name for _, name in gates), True)
    sft = root / "exports" / "sample" / "sft"
    train_line = (sft / "messages.train.jsonl").read_text().splitlines()[0]
    with (sft / "messages.eval.jsonl").open("a") as fh:  # a train example's chunk now also in eval
        fh.write(train_line + "\n")
    with (sft / "alpaca.train.jsonl").open("a") as fh:
        fh.write('{"instruction": "q", "source_chunk_ids": []}\n')
    grpo = read_table("grpo_dataset", "sample", root)
    reasoning = "First, the council met. Therefore the grant was renewed."
    spoiled = grpo.with_columns(
        pl.when(pl.col("task") == "qa").then(pl.lit(reasoning)).otherwise(pl.col("answer")).alias("answer"))
    write_table(spoiled, paths.table_path("grpo_dataset", "sample", root))
    assert _run_checks("sample", *gates) == dict.fromkeys((name for _, name in gates), False)
