"""The four SFT formats: what a line holds, that every file round-trips through datasets.load_dataset,
that the dataset card loads as a datasets folder, and that the validator catches broken lines."""

import json

import pytest

from ragassets.formats.card import CardFacts, dataset_card
from ragassets.formats.examples import merge_examples, select_qa
from ragassets.formats.sft import (
    FORMATS,
    iter_export_files,
    line_problems,
    read_chunk_ids,
    to_alpaca,
    to_chatml,
    to_sharegpt,
    validate_jsonl,
    write_sft_exports,
)
from ragassets.formats.split import split_examples

datasets = pytest.importorskip("datasets")


@pytest.fixture
def exported(tmp_path, scored, conversations, rag_conversations):
    examples, _ = merge_examples(["qa", "conversations", "rag_conversations"], qa=select_qa(scored, 0),
                                 conversations=conversations, rag_conversations=rag_conversations)
    split = split_examples(examples, eval_share=0.3, seed=0)
    out = tmp_path / "sft"
    write_sft_exports(out, {"train": split.train, "eval": split.eval})
    return out, split


def test_line_shapes(scored, conversations, rag_conversations):
    examples, _ = merge_examples(["qa", "conversations", "rag_conversations"], qa=scored,
                                 conversations=conversations, rag_conversations=rag_conversations)
    qa, conv, rag = examples[0], examples[8], examples[-1]
    assert to_alpaca(qa) == {"instruction": "Question number 0?", "input": "", "output": "answer 0",
                             "source_chunk_ids": ["k0"], "source": "qa", "example_id": "q0"}
    multi = to_alpaca(conv)
    assert multi["instruction"] == "And then?" and multi["output"] == "Then that."
    assert multi["input"] == "user: Tell me about k1.\n\nassistant: k1 says this."
    assert to_alpaca(rag)["input"].startswith("Context:\n[k6] passage six")
    assert to_chatml(qa)["text"] == (
        "<|im_start|>user\nQuestion number 0?<|im_end|>\n<|im_start|>assistant\nanswer 0<|im_end|>\n"
    )
    assert [t["from"] for t in to_sharegpt(rag)["conversations"]] == ["system", "human", "gpt"]


def test_every_format_round_trips_through_load_dataset(exported):
    out, split = exported
    for fmt, name, path in iter_export_files(out):
        n, problems = validate_jsonl(path, fmt)
        assert problems == [], problems
        expected = split.train if name == "train" else split.eval
        assert n == len(expected) > 0
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        assert ds.num_rows == n
        assert ds["example_id"] == [e.example_id for e in expected]
        assert ds["source_chunk_ids"] == [list(e.source_chunk_ids) for e in expected] == read_chunk_ids(path)
    messages = datasets.load_dataset("json", data_files=str(out / "messages.train.jsonl"), split="train")
    assert messages[0]["messages"] == list(split.train[0].messages)


def test_dataset_card_and_the_loading_it_shows(exported):
    out, split = exported
    facts = CardFacts(corpus="c", threshold=7, include=["qa", "conversations", "rag_conversations"],
                      counts={"train": {"qa": 5, "conversations": 2, "rag_conversations": 1}, "eval": {"qa": 3}},
                      split_by="chunk", eval_share=0.3, seed=0, groups=9, eval_groups=3, judge="offline:x",
                      judge_is_stand_in=True, scored_pairs=8, kept_pairs=8)
    card = dataset_card(facts)
    assert card.startswith("---\ntags:\n") and "configs:" not in card  # no folder configs: see card.py
    assert "| **total** | **8** | **3** |" in card and "overall >= 7 of 10" in card
    assert "the offline stand-in, a heuristic, not a model" in card and "Split by **chunk** with seed 0" in card
    for fmt in FORMATS:
        assert f"`{fmt}.train.jsonl`" in card
    # the loading the card shows, from the folder
    shown = 'load_dataset("json", data_files={"train": "messages.train.jsonl", "eval": "messages.eval.jsonl"})'
    assert shown in card
    ds = datasets.load_dataset("json", data_files={s: str(out / f"messages.{s}.jsonl") for s in ("train", "eval")})
    assert ds["train"].num_rows == len(split.train) and ds["eval"].num_rows == len(split.eval)


def test_validator_catches_broken_lines(tmp_path):
    path = tmp_path / "messages.train.jsonl"
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "source_chunk_ids": ["k"]}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "source_chunk_ids": []}),
        json.dumps({**good, "messages": [{"role": "user", "content": "q"}]}),
    ]
    path.write_text("\n".join(lines) + "\n")
    n, problems = validate_jsonl(path, "messages")
    assert n == 4 and len(problems) == 3
    assert problems[0].startswith("messages.train.jsonl:2: not JSON")
    assert "source_chunk_ids must be a non-empty list" in problems[1] and ":4: turns must alternate" in problems[2]
    assert line_problems("alpaca", {"instruction": "", "input": "", "output": "o", "source_chunk_ids": ["k"]}) == [
        "instruction is empty"
    ]
    assert line_problems("chatml", {"text": "<|im_start|>user\nq<|im_end|>\n", "source_chunk_ids": ["k"]})
    assert line_problems("sharegpt", {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
                                      "source_chunk_ids": ["k"]}) == []
