"""The GRPO table: qa rows with bare answers, retrieval rows from paraphrases, and the reasoning detector."""

import json

import polars as pl
import pytest

from ragassets.formats.grpo import (
    DEFAULT_REASONING_MARKERS,
    QA_SYSTEM,
    RETRIEVAL_SYSTEM,
    build_grpo_table,
    reasoning_problems,
    write_grpo_exports,
)


def _problems(answer: str, max_words: int = 24) -> list[str]:
    return reasoning_problems(answer, max_words=max_words, markers=DEFAULT_REASONING_MARKERS)


def test_bare_answers_pass_and_reasoning_is_caught():
    for bare in ("April 11, 1970", "An oxygen tank", "The crew moved into the lunar module.", "Houston"):
        assert _problems(bare) == [], bare
    assert _problems("Step 1: find the date. Step 2: it is 1970.")[0].startswith("reasoning_markers (step 1")
    assert _problems("It failed because the wiring was damaged.") == ["reasoning_markers (because)"]
    assert _problems("The tank was heated; therefore it burst, thus the abort.") == [
        "reasoning_markers (therefore, thus)"
    ]
    assert _problems("1. Read the report\n2. Find the date") == ["step_list"]
    assert _problems(" ".join(["word"] * 30)) == ["too_long (30 words > 24)"]
    assert reasoning_problems("since 1970", max_words=5, markers=[]) == []  # markers are configurable
    assert _problems("Sincerely yours") == []  # whole words only


def test_build_table_rows_and_drops(scored):
    scored = scored.with_columns(
        pl.when(pl.col("question_id") == "q1").then(pl.lit("It burst because of heat.")).otherwise(pl.col("answer"))
        .alias("answer")
    )
    paraphrases = pl.DataFrame({"paraphrase_id": ["p0", "p1"], "chunk_id": ["k0", "k3"],
                                "text": ["a reworded chunk", "  "]})
    build = build_grpo_table(scored, paraphrases, "c", min_overall=8, max_answer_words=10)
    t = build.table
    assert build.counts() == {"qa": 2, "retrieval": 1}
    assert dict(build.dropped) == {"below_min_overall": 5, "reasoning_markers": 1, "empty_paraphrase": 1}
    assert build.examples_dropped[0]["question_id"] == "q1"
    qa = t.filter(pl.col("task") == "qa").row(0, named=True)
    assert qa["prompt"] == [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": "Question number 0?"}]
    assert qa["answer"] == "answer 0" and qa["chunk_id"] == "k0" and qa["paraphrase"] is None
    rr = t.filter(pl.col("task") == "retrieval").row(0, named=True)
    assert rr["prompt"][0]["content"] == RETRIEVAL_SYSTEM and "a reworded chunk" in rr["prompt"][1]["content"]
    assert rr["answer"] is None and rr["chunk_id"] == "k0" and rr["paraphrase"] == "a reworded chunk"
    only_qa = build_grpo_table(scored, paraphrases, "c", min_overall=0, max_answer_words=10, tasks=["qa"])
    assert only_qa.counts()["retrieval"] == 0
    with pytest.raises(ValueError, match="unknown GRPO task"):
        build_grpo_table(scored, None, "c", min_overall=0, max_answer_words=10, tasks=["math"])


def test_exports_hold_the_same_rows(tmp_path, scored):
    build = build_grpo_table(scored, None, "c", min_overall=0, max_answer_words=10)
    write_grpo_exports(build.table, tmp_path / "grpo.jsonl", tmp_path / "grpo.parquet")
    lines = [json.loads(x) for x in (tmp_path / "grpo.jsonl").read_text().splitlines()]
    assert len(lines) == build.table.height == 7  # the unscored pair has no overall
    assert set(lines[0]) == {"example_id", "task", "prompt", "answer", "chunk_id", "paraphrase"}
    assert pl.read_parquet(tmp_path / "grpo.parquet").to_dicts() == lines
