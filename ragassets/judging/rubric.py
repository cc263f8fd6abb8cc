"""The judge's rubric and verdicts: every question/answer pair scored against its chunk window.

The rubric (a structured answer, :class:`ragassets.llm.JudgeVerdict`, a short reason before each
score):

========== ===== ===========================================================
criterion  range what it asks
========== ===== ===========================================================
accuracy   0-3   is the answer correct and supported by the passage?
relevance  0-2   is the question about the passage?
clarity    0-2   is the question clear and self-contained?
usefulness 0-3   would the pair teach a model something worth knowing?
overall    0-10  the judge's grade (normally the sum of the four, which is at most 10)
========== ===== ===========================================================

A pair is ``PASS`` when ``overall >= pass_threshold`` (8), ``NEEDS_REVIEW`` when it is at least
``review_threshold`` (6), else ``FAIL``; a pair the judge could not score (the request failed or the
answer never parsed) is ``UNSCORED``, with the reason. Nothing is filtered here: the formatting step
chooses its own threshold, so a new threshold never asks the judge again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ragassets.generation.windows import build_windows
from ragassets.llm import JudgeVerdict, task_request

#: criterion -> highest score
CRITERIA: dict[str, int] = {"accuracy": 3, "relevance": 2, "clarity": 2, "usefulness": 3}
MAX_OVERALL = 10

PASS, NEEDS_REVIEW, FAIL, UNSCORED = "PASS", "NEEDS_REVIEW", "FAIL", "UNSCORED"
VERDICTS = (PASS, NEEDS_REVIEW, FAIL, UNSCORED)

QUESTION_COLUMNS = ("question_id", "chunk_id", "question", "answer")

SCORED_SCHEMA = {
    "corpus": pl.String,
    "question_id": pl.String,
    "chunk_id": pl.String,
    "doc_id": pl.String,
    "question": pl.String,
    "answer": pl.String,
    "difficulty": pl.String,
    **{name: pl.Int64 for name in CRITERIA},
    "overall": pl.Int64,
    "verdict": pl.String,
    "reasons": pl.String,  # JSON {criterion: reason}
    "judge_error": pl.String,
    "judge_provider": pl.String,
    "judge_model": pl.String,
}


def verdict_of(overall: int | None, pass_threshold: float, review_threshold: float) -> str:
    """PASS, NEEDS_REVIEW or FAIL for an overall score (UNSCORED for None)."""
    if review_threshold > pass_threshold:
        raise ValueError(
            f"review_threshold ({review_threshold}) must not be above pass_threshold ({pass_threshold})"
        )
    if overall is None:
        return UNSCORED
    if overall >= pass_threshold:
        return PASS
    if overall >= review_threshold:
        return NEEDS_REVIEW
    return FAIL


def judge_requests(
    questions: pl.DataFrame, chunks: pl.DataFrame, prompts: Any, *, window: int = 1, params: Any = None
) -> list[Any]:
    """One ``judge`` request per question, in table order, id = question_id.

    The judge reads the question's chunk with ``window`` neighbours on each side (the context the
    question was written from), so an answer that names something from the previous chunk is not
    marked unsupported.
    """
    return list(iter_judge_requests(questions, chunks, prompts, window=window, params=params))


def iter_judge_requests(
    questions: pl.DataFrame, chunks: pl.DataFrame, prompts: Any, *, window: int = 1, params: Any = None
) -> Iterator[Any]:
    """:func:`judge_requests` rendered one at a time (the LLM client sends the first while the rest
    render); the tables are checked at once, before the first is rendered."""
    missing = [c for c in QUESTION_COLUMNS if c not in questions.columns]
    if missing:
        raise ValueError(f"questions table lacks column(s) {missing}; rematerialize questions")
    context = {w.chunk_id: w.text for w in build_windows(chunks, window)}
    unknown = sorted(set(questions["chunk_id"].to_list()) - set(context))
    if unknown:
        raise ValueError(
            f"{len(unknown)} question chunk_id(s) are not in chunks (e.g. {unknown[0]}): the questions are older "
            "than the chunks; rematerialize questions"
        )
    return (
        task_request("judge", prompts, id=qid, params=params, question=q, answer=a, context=context[cid])
        for qid, cid, q, a in questions.select(*QUESTION_COLUMNS).iter_rows()
    )


@dataclass
class JudgeRun:
    """The scored table and what went wrong, for metadata."""

    scored: pl.DataFrame
    failures: Counter = field(default_factory=Counter)
    failure_examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def nothing_scored(self) -> bool:
        return self.scored.height > 0 and self.scored["overall"].null_count() == self.scored.height


def collect_verdicts(
    questions: pl.DataFrame,
    chunks: pl.DataFrame,
    results: Sequence[Any],
    corpus: str,
    *,
    pass_threshold: float,
    review_threshold: float,
) -> JudgeRun:
    """The ``scored_qa`` table: every question with its rubric scores, reasons and verdict.

    ``results`` are the structured results of :func:`judge_requests` (same order). A failed judgment
    keeps its row as UNSCORED with the error, never silently dropped.
    """
    if len(results) != questions.height:
        raise ValueError(f"{questions.height} questions but {len(results)} judge results")
    doc_of = dict(chunks.select("chunk_id", "doc_id").iter_rows())
    has_difficulty = "difficulty" in questions.columns
    run = JudgeRun(scored=pl.DataFrame(schema=SCORED_SCHEMA))
    rows = []
    for q, res in zip(questions.iter_rows(named=True), results):
        row = {
            "corpus": corpus,
            "question_id": q["question_id"],
            "chunk_id": q["chunk_id"],
            "doc_id": doc_of.get(q["chunk_id"]),
            "question": q["question"],
            "answer": q["answer"],
            "difficulty": q["difficulty"] if has_difficulty else None,
            **dict.fromkeys(CRITERIA),
            "overall": None,
            "reasons": None,
            "judge_error": None,
            "judge_provider": res.provider,
            "judge_model": res.model,
        }
        if res.ok:
            v = res.value
            row.update({name: int(getattr(v, name)) for name in CRITERIA})
            row["overall"] = int(v.overall)
            row["reasons"] = json.dumps(
                {name: " ".join(getattr(v, f"{name}_reason").split()) for name in CRITERIA},
                ensure_ascii=False,
            )
        else:
            run.failures[res.error] += 1
            row["judge_error"] = res.error
            if len(run.failure_examples) < 5:
                run.failure_examples.append(
                    {
                        "question_id": q["question_id"],
                        "error": res.error,
                        "detail": (res.error_detail or "")[:200],
                    }
                )
        row["verdict"] = verdict_of(row["overall"], pass_threshold, review_threshold)
        rows.append(row)
    run.scored = pl.DataFrame(rows, schema=SCORED_SCHEMA)
    return run


def judge_questions(
    questions: pl.DataFrame,
    chunks: pl.DataFrame,
    client: Any,
    prompts: Any,
    corpus: str,
    *,
    pass_threshold: float,
    review_threshold: float,
    window: int = 1,
    params: Any = None,
    max_repairs: int | None = None,
) -> JudgeRun:
    """Judge every question through ``client`` (an LLMClient): requests, answers, verdicts."""
    requests = iter_judge_requests(questions, chunks, prompts, window=window, params=params)
    results = (
        client.generate_structured(requests, JudgeVerdict, max_repairs=max_repairs)
        if questions.height
        else []
    )
    return collect_verdicts(
        questions, chunks, results, corpus, pass_threshold=pass_threshold, review_threshold=review_threshold
    )
