"""End to end on the sample corpus with the tiny model: base_model, lora_adapter, ollama_model (GGUF gate)
and model_eval (tuned_not_worse), materialized by Dagster over real chunks and a real chunk_index."""

import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from ragassets.storage import read_table
from ragassets_tests.conftest import REPO, SAMPLE, check_results, materialize
from ragassets_tests.llm.tiny_model import build_tiny_llama

pytestmark = pytest.mark.slow

MINE = "base_model,lora_adapter,ollama_model,model_eval"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    data = tmp_path_factory.mktemp("training") / "data"
    (data / "corpora").mkdir(parents=True)
    (data / "dagster_home").mkdir()
    shutil.copyfile(REPO / "dagster.yaml", data / "dagster_home" / "dagster.yaml")
    tiny = build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGASSETS_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        # base_model is shared by every corpus: it reads the environment and run config, not corpus.yaml
        mp.setenv("RAGASSETS_TRAINING_BASE_MODEL", str(tiny))
        mp.setenv("PATH", "/usr/bin:/bin")  # no ollama here: the command goes to metadata
        shutil.copytree(SAMPLE, data / "corpora" / "sample")
        (data / "corpora" / "sample" / "corpus.yaml").write_text(
            yaml.safe_dump(
                {
                    "training": {"max_steps": 2, "batch_size": 2, "save_steps": 1},
                    "model_eval": {"max_new_tokens": 6, "top_k": 2},
                }
            )
        )
        materialize("sample", "+key:chunk_index")
        _write_sft_exports(data)
        yield data


def _write_sft_exports(root: Path) -> None:
    """SFT lines in the datasets stage's format, one per chunk: a question about the chunk's heading."""
    chunks = read_table("chunks", "sample", root).head(8)
    sft = root / "exports" / "sample" / "sft"
    sft.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (cid, text) in enumerate(chunks.select("chunk_id", "text").iter_rows()):
        words = text.split()
        lines.append(
            {
                "messages": [
                    {"role": "user", "content": f"Which words open passage {i}?"},
                    {"role": "assistant", "content": " ".join(words[:4])},
                ],
                "source_chunk_ids": [cid],
                "source": "qa",
                "example_id": f"ex{i}",
            }
        )
    (sft / "messages.train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[:6]))
    (sft / "messages.eval.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines[6:]))


def _metadata(result, asset: str) -> dict:
    (mat,) = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", getattr(v, "data", v)) for k, v in mat.metadata.items()}


def test_training_stages_end_to_end(root: Path) -> None:
    result = materialize("sample", MINE)
    base = _metadata(result, "base_model")
    assert base["parameters"] > 0 and len(base["sha256"]) == 64 and base["source"].startswith("local folder")

    adapter = _metadata(result, "lora_adapter")
    assert adapter["steps"] == 2 and adapter["tokens"] > 0 and adapter["sft/tokens_per_s"] > 0
    assert adapter["trainable_parameters"] > 0 and len(adapter["adapter_sha256"]) == 64
    assert "data:image/png;base64," in adapter["sft/loss_curve"]
    assert (
        root / "artifacts" / "lora_adapter" / "sample" / "adapter" / "adapter_model.safetensors"
    ).is_file()
    # the progress line is in the run's log
    logs = [r.user_message for r in dg.DagsterInstance.get().all_logs(result.run_id)]
    assert any("sft: step 2/2 (100 %), loss" in m and "ETA" in m for m in logs)

    export = _metadata(result, "ollama_model")
    out = root / "artifacts" / "ollama_model" / "sample"
    assert (out / "model-f16.gguf").is_file() and (out / "merged" / "model.safetensors").is_file()
    modelfile = (out / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model-f16.gguf\nTEMPLATE") and "SYSTEM" in modelfile
    assert export["ollama_create"] == f"ollama create ragassets-sample -f {out / 'Modelfile'}"
    assert export["ollama_created"] is False

    checks = check_results(result)
    assert checks["gguf_matches_merged_model"].passed
    assert checks["gguf_matches_merged_model"].metadata["tokenizer_agreement"].value == 1.0
    assert "tuned_not_worse" in checks

    table = read_table("model_eval", "sample", root)
    assert table.height == 2 * 2 * 2  # 2 eval questions x 2 modes x base/tuned
    assert set(table["mode"]) == {"closed_book", "retrieval"}
    assert table.filter(pl.col("mode") == "retrieval")["context_chunk_ids"].list.len().to_list() == [2] * 4
    summary = (root / "exports" / "sample" / "model_eval.md").read_text()
    assert "| retrieval | tuned | 2 |" in summary


def test_a_missing_base_model_fails_naming_the_setting(root: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAGASSETS_TRAINING_BASE_MODEL", str(root / "no-such-model"))
    result = materialize("sample", "base_model", expect_success=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_failure)
    assert "training.base_model" in str(failure.event_specific_data)


def test_an_empty_eval_split_gives_an_empty_table_and_a_warning(root: Path) -> None:
    eval_file = root / "exports" / "sample" / "sft" / "messages.eval.jsonl"
    kept = eval_file.read_text()
    eval_file.write_text("")
    try:
        result = materialize("sample", "model_eval")
    finally:
        eval_file.write_text(kept)
    assert read_table("model_eval", "sample", root).is_empty()
    check = check_results(result)["tuned_not_worse"]
    assert not check.passed and "eval split is empty" in check.description
    assert "has no questions" in (root / "exports" / "sample" / "model_eval.md").read_text()


def test_sft_then_grpo_through_dagster_with_the_corpus_rewards(root: Path) -> None:
    """method sft+grpo from the launchpad's typed config: GRPO reads grpo.jsonl (qa and retrieval rows, as
    grpo_dataset writes them) with the reward functions, the retrieval one over the corpus's real chunk_index."""
    chunks = read_table("chunks", "sample", root).head(2)
    rows = []
    for i, (cid, text) in enumerate(chunks.select("chunk_id", "text").iter_rows()):
        rows.append(
            {
                "task": "qa",
                "prompt": [{"role": "user", "content": f"Which words open passage {i}?"}],
                "answer": " ".join(text.split()[:2]),
                "chunk_id": cid,
                "paraphrase": None,
                "example_id": f"qa{i}",
            }
        )
        rows.append(
            {
                "task": "retrieval",
                "prompt": [{"role": "user", "content": "Write a search query for: " + text[:80]}],
                "answer": None,
                "chunk_id": cid,
                "paraphrase": text[:80],
                "example_id": f"re{i}",
            }
        )
    grpo = root / "exports" / "sample" / "grpo.jsonl"
    grpo.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {
        "training": {
            "method": "sft+grpo",
            "max_steps": 1,
            "grpo_max_steps": 1,
            "grpo_num_generations": 2,
            "grpo_batch_size": 2,
            "grpo_max_completion_length": 8,
        }
    }
    try:
        result = materialize("sample", "lora_adapter", run_config={"lora_adapter": config})
    finally:
        grpo.unlink()
    adapter = _metadata(result, "lora_adapter")
    assert adapter["method"] == "sft+grpo"
    phases = [p["phase"] for p in adapter["report"]["phases"]]
    assert phases == ["sft", "grpo"], phases
    assert adapter["grpo/train_seconds"] > 0
