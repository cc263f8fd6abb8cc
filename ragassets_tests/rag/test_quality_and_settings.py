"""The RAG settings (validated when they load) and the figures the RAG checks judge by."""

from __future__ import annotations

import json

import polars as pl
import pytest
import yaml

from ragassets.rag.answers import RAG_CONVERSATIONS_SCHEMA
from ragassets.rag.quality import failure_share_verdict, segments_report
from ragassets.settings import SettingsError, load_settings


def test_a_prompt_without_data_is_a_settings_error_naming_the_key(tmp_path) -> None:
    (tmp_path / "corpus.yaml").write_text(yaml.safe_dump(
        {"rag": {"final_assistant_prompts": ["Context: {data}", "Answer the question."]}}))
    with pytest.raises(SettingsError) as err:
        load_settings(tmp_path)
    msg = str(err.value)
    assert "rag.final_assistant_prompts" in msg and "{data}" in msg and "entry 1" in msg
    assert str(tmp_path / "corpus.yaml") in msg


def test_format_templates_are_checked_when_settings_load(tmp_path) -> None:
    (tmp_path / "corpus.yaml").write_text(yaml.safe_dump({"rag": {"user_format": "<u>{{ question }}</u>"}}))
    with pytest.raises(SettingsError, match=r"rag.user_format.*must contain \{\{ user \}\}"):
        load_settings(tmp_path)
    with pytest.raises(SettingsError, match="rag.distractors"):
        load_settings(None, run_config={"rag": {"distractors": "nearest"}})
    with pytest.raises(SettingsError, match="min_turns"):
        load_settings(None, run_config={"conversations": {"min_turns": 4, "max_turns": 2}})
    s = load_settings(None, run_config={"rag": {"final_assistant_prompts": ["only {data}"], "bos": "<s>"}})
    assert s.rag.final_assistant_prompts == ["only {data}"] and s.rag.bos == "<s>"


def test_failure_share_verdict() -> None:
    v = failure_share_verdict([True] * 40 + [False] * 60, expected=0.4, tolerance=0.05)
    assert v.passed and v.share == 0.4
    # a handful of items: binomial noise is allowed for, a large miss is not
    small = failure_share_verdict([True, False, False, False, False, False, False, False], 0.4, 0.1)
    assert small.allowed > 0.4 and small.passed
    assert not failure_share_verdict([False] * 200, 0.4, 0.1).passed
    assert not failure_share_verdict([], 0.4, 0.1).passed


def _row(item: str, group: str, segments, question="q", answer="a") -> dict:
    return {"corpus": "t", "item_id": item, "group_id": group, "position": 0, "chunk_id": "c", "rag_failed": False,
            "question": question, "answer": answer, "context_chunk_ids": ["c"], "source_chunk_ids": ["c"],
            "messages": "[]", "segments": segments if isinstance(segments, str) else json.dumps(segments),
            "provider": "p", "model": "m"}


def test_segments_report_names_the_bad_lines() -> None:
    good = {"segments": [{"label": False, "text": "sys {{ code }}"}, {"label": True, "text": "q"},
                         {"label": True, "text": "a"}]}
    bad = {"segments": [{"label": False, "text": "sys {data}"}, {"label": True, "text": "q"},
                        {"label": False, "text": "a"}]}
    table = pl.DataFrame([_row("i1", "g", good), _row("i2", "g", bad), _row("i3", "g", "{not json")],
                         schema=RAG_CONVERSATIONS_SCHEMA)
    n, examples = segments_report(table, bos="", chunk_texts=["{{ code }}"])
    assert n == 2 and set(examples) == {"i2", "i3"}
    assert any("placeholder" in p for p in examples["i2"]) and any("labelled" in p for p in examples["i2"])
    assert examples["i3"][0].startswith("not JSON")


def test_scaffolding_report_counts_answers_and_gives_examples() -> None:
    from ragassets.rag.answers import scaffolding_report

    rows = [_row("i1", "g", [], answer="According to Chunk 2, the tank failed."),
            _row("i1", "g", [], answer="According to Chunk 2, the tank failed."),  # the same item on another line
            _row("i2", "g", [], answer="The ferry crossing takes an hour; the passage is calm."),
            _row("i3", "g", [], answer="The tank failed at 55:54.")]
    rows[2]["chunk_id"] = "ferry"
    table = pl.DataFrame(rows, schema=RAG_CONVERSATIONS_SCHEMA)
    n, examples = scaffolding_report(table, {"c": "The tank failed.", "ferry": "The passage is calm in summer."})
    assert n == 1 and [e["item_id"] for e in examples] == ["i1"] and examples[0]["found"] == ["chunk 2"]


@pytest.mark.parametrize("stray", ["{context}", "{{ data }}", "{% if x %}"])
def test_a_prompt_with_a_placeholder_nothing_fills_is_a_settings_error(stray: str) -> None:
    with pytest.raises(SettingsError, match=r"rag.final_assistant_prompts.*entry 1.*nothing fills"):
        load_settings(None, run_config={"rag": {"final_assistant_prompts": ["a {data}", f"b {{data}} {stray}"]}})
