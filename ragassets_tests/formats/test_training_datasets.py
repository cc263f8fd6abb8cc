"""The whole SFT build without Dagster, and the gates' domain functions on crafted bad data."""

import json

import polars as pl

from ragassets.formats.datasets import build_training_datasets, write_training_datasets
from ragassets.formats.grpo import validate_grpo_jsonl
from ragassets.formats.sft import export_leaks, validate_exports
from ragassets.settings import DatasetsSettings


def _chunks(doc_of):
    return pl.DataFrame({"chunk_id": list(doc_of), "doc_id": list(doc_of.values())})


def _scored(scored):
    return scored.with_columns(judge_provider=pl.lit("offline"), judge_model=pl.lit("offline-rules-v1"))


def test_build_and_write(tmp_path, scored, conversations, rag_conversations, doc_of):
    settings = DatasetsSettings(format_threshold=7, eval_share=0.3, split_by="document", seed=4)
    ds = build_training_datasets(settings, _scored(scored), _chunks(doc_of), conversations=conversations,
                                 rag_conversations=rag_conversations)
    assert ds.kept_pairs == 5 and ds.scored_pairs == 8 and ds.judges == ["offline:offline-rules-v1"]
    counts = ds.counts()
    assert sum(sum(c.values()) for c in counts.values()) == 5 + 2 + 1
    table = ds.table("c")
    assert table.height == 8 and set(table["split"]) == {"train", "eval"}
    assert table.filter(pl.col("example_id") == "conv0")["source_chunk_ids"].to_list() == [["k1", "k2"]]
    assert json.loads(table.filter(pl.col("example_id") == "rag0")["messages"][0])[0]["role"] == "system"
    out = tmp_path / "sft"
    written = write_training_datasets(ds, out, "c", settings)
    assert len(written) == 9 and (out / "README.md").exists()
    card = (out / "README.md").read_text()
    assert "offline stand-in" in card and "Split by **document** with seed 4" in card
    lines, problems = validate_exports(out)
    assert problems == [] and sum(lines.values()) == 4 * 8
    assert export_leaks(out, "document", doc_of) == {} and export_leaks(out, "chunk") == {}
    higher = build_training_datasets(DatasetsSettings(format_threshold=9, include=["qa"]), _scored(scored),
                                     _chunks(doc_of))
    assert higher.kept_pairs == 2 and sum(higher.counts()["train"].values()) + sum(higher.counts()["eval"].values()) == 2


def test_leak_and_validity_gates_fail_on_crafted_files(tmp_path, scored, doc_of):
    settings = DatasetsSettings(include=["qa"], eval_share=0.5)
    ds = build_training_datasets(settings, _scored(scored), _chunks(doc_of))
    out = tmp_path / "sft"
    write_training_datasets(ds, out, "c", settings)
    # copy one train line into eval: its chunk is now on both sides
    train_line = (out / "messages.train.jsonl").read_text().splitlines()[0]
    with (out / "messages.eval.jsonl").open("a") as fh:
        fh.write(train_line + "\n")
    leaks = export_leaks(out, "chunk")
    assert list(leaks) == ["messages"] and leaks["messages"] == json.loads(train_line)["source_chunk_ids"]
    with (out / "alpaca.train.jsonl").open("a") as fh:
        fh.write('{"instruction": "q", "output": "a", "source_chunk_ids": ["k0"]}\n')
    (out / "chatml.eval.jsonl").unlink()
    _, problems = validate_exports(out)
    assert "chatml.eval.jsonl is missing" in problems
    assert any("alpaca.train.jsonl" in p and "input must be a string" in p for p in problems)


def test_grpo_jsonl_validator(tmp_path):
    path = tmp_path / "grpo.jsonl"
    ok = {"task": "qa", "prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
          "answer": "a", "chunk_id": "k", "paraphrase": None, "example_id": "e"}
    rows = [ok, {**ok, "answer": None}, {**ok, "task": "retrieval", "answer": None},
            {**ok, "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    n, problems = validate_grpo_jsonl(path)
    assert n == 5 and len(problems) == 4
    assert "a qa row needs its answer" in problems[0] and "needs its paraphrase" in problems[1]
    assert "last message must be the user's" in problems[2] and "not JSON" in problems[3]


def test_when_distractors_tie_every_chunk_the_card_says_chunks_were_held_out(tmp_path, scored, doc_of):
    msgs = json.dumps([{"role": "system", "content": "Context"}, {"role": "user", "content": "q"},
                       {"role": "assistant", "content": "a"}])
    rag = pl.DataFrame({"item_id": [f"r{i}" for i in range(4)], "messages": [msgs] * 4,
                        "source_chunk_ids": [[f"k{i}", f"k{(i + 1) % 4}"] for i in range(4)]})
    settings = DatasetsSettings(include=["qa", "rag_conversations"], eval_share=0.25, format_threshold=0)
    ds = build_training_datasets(settings, _scored(scored), _chunks(doc_of), rag_conversations=rag)
    assert ds.split.method == "held_out" and ds.split.eval and ds.split.left_out
    write_training_datasets(ds, tmp_path, "c", settings)
    card = (tmp_path / "README.md").read_text()
    assert "chunks were held out" in card and f"{len(ds.split.left_out)} example(s) resting on both" in card
    assert export_leaks(tmp_path, "chunk") == {}
