"""Questions from the ORIGINAL chunks: plan, ask, filter, deduplicate, and account for every chunk.

The flow of the ``questions`` asset, without Dagster:

1. :func:`plan_questions`: one sliding window per chunk (see :mod:`.windows`) and the difficulty
   labels dealt to it (see :mod:`.difficulty`); chunks too short to ask about are skipped with a
   reason instead of being sent.
2. :func:`question_requests`: one structured ``questions`` request per planned chunk (the prompt
   carries the previous, current and next text).
3. :func:`collect_questions`: the parsed answers become candidate rows; answers that never parsed
   are recorded per chunk with the parse error; questions that fail the filters are recorded with
   the filter that caught them.
4. :func:`apply_dedup`: near-duplicates across the corpus are dropped (see :mod:`.dedup`).

Every chunk ends with an outcome (``question_outcomes``): how many questions were asked for,
returned, filtered, deduplicated and kept, and if none was kept, why. Questions are never generated
from paraphrases: the chunks passed here are the ``chunks`` table.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ragassets.generation.dedup import DedupResult, dedup_questions
from ragassets.generation.difficulty import assign_difficulties
from ragassets.generation.ids import question_id
from ragassets.generation.windows import ChunkWindow, build_windows
from ragassets.llm import GeneratedQuestions, task_request
from ragassets.text.words import normalize, words

QUESTIONS_SCHEMA = {
    "corpus": pl.String,
    "question_id": pl.String,
    "chunk_id": pl.String,
    "question": pl.String,
    "answer": pl.String,
    "difficulty": pl.String,
    "provider": pl.String,
    "model": pl.String,
}

OUTCOMES_SCHEMA = {
    "corpus": pl.String,
    "chunk_id": pl.String,
    "doc_id": pl.String,
    "status": pl.String,
    "requested": pl.Int64,
    "returned": pl.Int64,
    "filtered": pl.Int64,
    "duplicates": pl.Int64,
    "kept": pl.Int64,
    "error": pl.String,
    "detail": pl.String,
    "dropped": pl.String,  # JSON list of {question, reason, duplicate_of}
}

#: why a chunk has no question; "ok" when it has at least one
STATUSES = (
    "ok",
    "chunk_too_short",  # not sent: fewer than min_chunk_words words
    "request_failed",  # transport failure after retries (timeout, 5xx, ...)
    "parse_failure",  # answers never parsed into the schema, even after repairs
    "none_returned",  # the model parsed fine but returned no question
    "filtered",  # every question failed a filter
    "dedup",  # every question duplicated an earlier one
    "filtered_and_dedup",  # some filtered, the rest duplicates
)
PARSE_ERRORS = frozenset({"parse_error", "schema_mismatch", "truncated"})

EmbedFn = Callable[[list[str]], np.ndarray]


@dataclass
class QuestionPlan:
    """One chunk's window, the difficulties it is asked for, or why it is not asked."""

    window: ChunkWindow
    difficulties: list[str]
    skip: str | None = None


def plan_questions(chunks: pl.DataFrame, settings: Any) -> list[QuestionPlan]:
    """Windows and difficulty labels for every chunk (``settings``: a QuestionsSettings)."""
    windows = build_windows(chunks, settings.window)
    labels = assign_difficulties(len(windows), settings.questions_per_chunk, settings.difficulty_mix)
    plans = []
    for w, diffs in zip(windows, labels):
        short = len(w.current.split()) < settings.min_chunk_words
        plans.append(QuestionPlan(window=w, difficulties=diffs, skip="chunk_too_short" if short else None))
    return plans


def question_requests(plans: Sequence[QuestionPlan], prompts: Any, params: Any = None) -> list[Any]:
    """One ``questions`` request per plan that is not skipped, in plan order."""
    return [
        task_request(
            "questions",
            prompts,
            id=p.window.chunk_id,
            params=params,
            previous=p.window.previous,
            current=p.window.current,
            next=p.window.next,
            n=len(p.difficulties),
            difficulties=list(p.difficulties),
        )
        for p in plans
        if p.skip is None
    ]


def question_problems(question: str, answer: str, *, min_question_words: int, max_answer_words: int) -> list[str]:
    """The filters a generated question fails ([] when it passes)."""
    problems = []
    if len(words(question)) < min_question_words:
        problems.append("question_too_short")
    if not normalize(answer):
        problems.append("answer_empty")
    elif len(words(answer)) > max_answer_words:
        problems.append("answer_too_long")
    if normalize(answer) and normalize(answer) == normalize(question):
        problems.append("answer_repeats_question")
    return problems


@dataclass
class _Outcome:
    chunk_id: str
    doc_id: str
    status: str = "ok"
    requested: int = 0
    returned: int = 0
    filtered: int = 0
    duplicates: int = 0
    kept: int = 0
    error: str | None = None
    detail: str | None = None
    dropped: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class QuestionsBatch:
    """Candidates (before dedup) in corpus order, per-chunk outcomes, and counts for metadata."""

    rows: list[dict[str, Any]]
    outcomes: dict[str, _Outcome]
    filter_counts: Counter = field(default_factory=Counter)
    dedup_counts: dict[str, int] = field(default_factory=dict)
    surplus: int = 0


def collect_questions(
    plans: Sequence[QuestionPlan], results: Sequence[Any], settings: Any, corpus: str
) -> QuestionsBatch:
    """Candidate rows from the structured results (one per non-skipped plan, in order)."""
    asked = [p for p in plans if p.skip is None]
    if len(asked) != len(results):
        raise ValueError(f"{len(asked)} questions requests but {len(results)} results")
    by_chunk = {id(p): r for p, r in zip(asked, results)}
    batch = QuestionsBatch(rows=[], outcomes={})
    for p in plans:
        w = p.window
        out = _Outcome(w.chunk_id, w.doc_id, requested=len(p.difficulties))
        batch.outcomes[w.chunk_id] = out
        if p.skip is not None:
            out.status, out.requested = p.skip, 0
            continue
        res = by_chunk[id(p)]
        if not res.ok:
            out.error = res.error
            out.detail = (res.error_detail or "")[:300] or None
            out.status = "parse_failure" if res.error in PARSE_ERRORS else "request_failed"
            continue
        generated = list(res.value.questions)
        out.returned = len(generated)
        if len(generated) > out.requested:  # more than asked for: keep the first n
            batch.surplus += len(generated) - out.requested
            generated = generated[: out.requested]
        for q in generated:
            question, answer = " ".join(q.question.split()), " ".join(q.answer.split())
            problems = question_problems(
                question, answer, min_question_words=settings.min_question_words,
                max_answer_words=settings.max_answer_words,
            )
            if problems:
                out.filtered += 1
                batch.filter_counts.update(problems)
                out.dropped.append({"question": question, "reason": ",".join(problems), "duplicate_of": None})
                continue
            batch.rows.append(
                {
                    "corpus": corpus,
                    "question_id": question_id(w.chunk_id, question),
                    "chunk_id": w.chunk_id,
                    "question": question,
                    "answer": answer,
                    "difficulty": q.difficulty,
                    "provider": res.provider,
                    "model": res.model,
                }
            )
    return batch


def apply_dedup(batch: QuestionsBatch, threshold: float, embed: EmbedFn | None) -> DedupResult:
    """Drop near-duplicate candidates across the corpus (first one kept); updates outcomes."""
    texts = [r["question"] for r in batch.rows]
    vectors = embed(texts) if embed is not None and texts else None
    result = dedup_questions(texts, vectors, threshold=threshold)
    kept_rows = []
    for i, row in enumerate(batch.rows):
        if result.keep[i]:
            kept_rows.append(row)
            continue
        j = result.duplicate_of[i]
        out = batch.outcomes[row["chunk_id"]]
        out.duplicates += 1
        out.dropped.append(
            {
                "question": row["question"],
                "reason": result.reason[i],
                "duplicate_of": batch.rows[j]["question_id"] if j is not None else None,
                "similarity": round(result.similarity[i], 4) if result.similarity[i] is not None else None,
            }
        )
    batch.rows = kept_rows
    batch.dedup_counts = result.counts()
    for row in kept_rows:
        batch.outcomes[row["chunk_id"]].kept += 1
    for out in batch.outcomes.values():
        out.status = _status(out)
    return result


def _status(out: _Outcome) -> str:
    if out.kept:
        return "ok"
    if out.status in ("chunk_too_short", "parse_failure", "request_failed"):
        return out.status
    if out.returned == 0:
        return "none_returned"
    if out.filtered and out.duplicates:
        return "filtered_and_dedup"
    return "dedup" if out.duplicates else "filtered"


def questions_frame(batch: QuestionsBatch) -> pl.DataFrame:
    return pl.DataFrame(batch.rows, schema=QUESTIONS_SCHEMA)


def outcomes_frame(batch: QuestionsBatch, corpus: str) -> pl.DataFrame:
    rows = [
        {
            "corpus": corpus,
            "chunk_id": o.chunk_id,
            "doc_id": o.doc_id,
            "status": o.status,
            "requested": o.requested,
            "returned": o.returned,
            "filtered": o.filtered,
            "duplicates": o.duplicates,
            "kept": o.kept,
            "error": o.error,
            "detail": o.detail,
            "dropped": json.dumps(o.dropped, ensure_ascii=False),
        }
        for o in batch.outcomes.values()
    ]
    return pl.DataFrame(rows, schema=OUTCOMES_SCHEMA)


def coverage_breakdown(outcomes: pl.DataFrame) -> dict[str, Any]:
    """Share of chunks with at least one question, and the chunks without one by reason."""
    n = outcomes.height
    statuses = Counter(outcomes["status"].to_list()) if n else Counter()
    covered = statuses.pop("ok", 0)
    return {
        "chunks": n,
        "covered": covered,
        "coverage": covered / n if n else 0.0,
        "without_questions": {s: statuses.get(s, 0) for s in STATUSES if s != "ok"},
    }


@dataclass
class QuestionsRun:
    """What :func:`generate_questions` produced."""

    questions: pl.DataFrame
    outcomes: pl.DataFrame
    batch: QuestionsBatch
    dedup: DedupResult
    requests: int

    @property
    def nothing_answered(self) -> bool:
        """Every request failed in transport (server down, wrong URL or model): a setup problem, not data."""
        statuses = self.outcomes["status"].to_list()
        return self.requests > 0 and statuses.count("request_failed") == self.requests

    def failure_summary(self, limit: int = 3) -> str:
        """Failures by reason with a few details, for a log line or an error message."""
        failed = self.outcomes.filter(pl.col("error").is_not_null())
        if failed.height == 0:
            return "no failures"
        by_reason = Counter(failed["error"].to_list())
        details = sorted({d for d in failed["detail"].to_list() if d})[:limit]
        return ", ".join(f"{r}: {n}" for r, n in by_reason.most_common()) + (
            f" (e.g. {'; '.join(details)})" if details else ""
        )

    def counts(self) -> dict[str, Any]:
        cov = coverage_breakdown(self.outcomes)
        return {
            "questions": self.questions.height,
            "chunks": cov["chunks"],
            "chunks_with_questions": cov["covered"],
            "coverage": cov["coverage"],
            "requests": self.requests,
            "candidates": self.questions.height + self.dedup.dropped,
            "filtered": sum(int(o.filtered) for o in self.batch.outcomes.values()),
            "duplicates_dropped": self.dedup.dropped,
            "surplus_dropped": self.batch.surplus,
        }


def generate_questions(
    chunks: pl.DataFrame,
    settings: Any,
    client: Any,
    prompts: Any,
    corpus: str,
    *,
    embed: EmbedFn | None = None,
    params: Any = None,
    max_repairs: int | None = None,
) -> QuestionsRun:
    """The whole flow (see the module docstring) with an ``LLMClient``; ``embed`` (texts -> unit
    vectors) enables embedding dedup, else only normalised-text dedup runs."""
    plans = plan_questions(chunks, settings)
    requests = question_requests(plans, prompts, params)
    results = client.generate_structured(requests, GeneratedQuestions, max_repairs=max_repairs) if requests else []
    batch = collect_questions(plans, results, settings, corpus)
    dedup = apply_dedup(batch, settings.dedup_cosine, embed)
    return QuestionsRun(
        questions=questions_frame(batch),
        outcomes=outcomes_frame(batch, corpus),
        batch=batch,
        dedup=dedup,
        requests=len(requests),
    )
