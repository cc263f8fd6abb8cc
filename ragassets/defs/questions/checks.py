"""Checks on questions: every question points at a real chunk and has a known difficulty (gates),
answers are supported by their window and most chunks have questions (quality, with reasons)."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.generation.embedding import document_embed_fn
from ragassets.generation.evaluation import (
    DIFFICULTIES,
    evaluate_coverage,
    evaluate_grounding,
    invalid_difficulties,
    unknown_chunk_refs,
)
from ragassets.plots import histogram_markdown
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource

# questions and answers are training data: no PII in either (the same gate as chunks)
questions_no_residual_pii = no_residual_pii_check(asset="questions", text_columns=["question", "answer"])
# dropped questions are kept with their reason in question_outcomes: their text is gated too
question_outcomes_no_residual_pii = no_residual_pii_check(asset="question_outcomes", text_columns=["dropped"])


@dg.asset_check(
    asset="questions",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    blocking=True,
    description="Every question's chunk_id is a chunk of this corpus (datasets split and trace by chunk), and "
    "question_ids are unique.",
)
def questions_reference_chunks(questions: pl.DataFrame, chunks: pl.DataFrame) -> dg.AssetCheckResult:
    unknown = unknown_chunk_refs(questions, chunks)
    n_unknown = questions.filter(pl.col("chunk_id").is_in(unknown)).height if unknown else 0
    dup_ids = questions.height - questions["question_id"].n_unique() if questions.height else 0
    problems = []
    if n_unknown:
        problems.append(
            f"{n_unknown} question(s) name {len(unknown)} chunk_id(s) that are not in chunks: the questions are "
            "older than the chunks; rematerialize questions"
        )
    if dup_ids:
        problems.append(f"{dup_ids} duplicate question_id(s)")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or None,
        metadata={
            "questions": questions.height,
            "unknown_chunk_refs": n_unknown,
            "duplicate_question_ids": dup_ids,
            "unknown_chunk_ids": dg.MetadataValue.json(unknown[:20]),
        },
    )


@dg.asset_check(asset="questions", blocking=True, description="Every difficulty is easy, medium or hard.")
def difficulty_values(questions: pl.DataFrame) -> dg.AssetCheckResult:
    bad = invalid_difficulties(questions)
    counts = dict(questions.group_by("difficulty").len().iter_rows()) if questions.height else {}
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not bad else (
            f"{sum(bad.values())} question(s) with a difficulty outside easy/medium/hard: {bad}"
        ),
        metadata={
            **{f"difficulty/{d}": int(counts.get(d, 0)) for d in DIFFICULTIES},
            "invalid": int(sum(bad.values())),
            "invalid_values": dg.MetadataValue.json(bad),
        },
    )


@dg.asset_check(
    asset="questions",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    description="Each answer is supported by its window (previous, current, next chunk): its words occur there, or "
    "its embedding is close to a sentence there. WARN when the grounded share is below questions.min_grounded.",
)
def answers_grounded(
    context: dg.AssetCheckExecutionContext,
    questions: pl.DataFrame,
    chunks: pl.DataFrame,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    settings = checked_settings(context, storage.root, "questions")
    stage = settings.questions
    ev = evaluate_grounding(
        questions, chunks, window=stage.window, min_overlap=stage.grounding_min_overlap,
        min_cosine=stage.grounding_min_cosine,
        embed=document_embed_fn(embedder.for_corpus(settings), embedder.cache(storage.root, settings)),
    )
    passed = ev.share >= stage.min_grounded
    res = ev.result
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"{ev.share:.1%} of answers are grounded in their window (min {stage.min_grounded:.0%}); "
            "see ungrounded_examples"
        ),
        metadata={
            "share_grounded": float(round(ev.share, 4)),
            "answers": ev.answers,
            "ungrounded": int(ev.answers - sum(res.grounded)),
            "grounded_by_embedding": int(sum(m == "embedding" and g for m, g in zip(res.methods, res.grounded))),
            "ungrounded_examples": dg.MetadataValue.json(ev.examples),
            "grounding_scores": dg.MetadataValue.md(
                histogram_markdown(res.scores, title="Answer grounding", xlabel="score", value_range=(0, 1),
                                   threshold=stage.grounding_min_overlap)
            ),
        },
    )


@dg.asset_check(
    asset="questions",
    additional_ins={"question_outcomes": dg.AssetIn("question_outcomes"), "chunks": dg.AssetIn("chunks")},
    description="Share of chunks with at least one question, and for the others why not (chunk too short, request "
    "failed, parse failure, none returned, filtered, dedup). WARN below questions.min_coverage.",
)
def question_coverage(
    context: dg.AssetCheckExecutionContext,
    questions: pl.DataFrame,
    question_outcomes: pl.DataFrame,
    chunks: pl.DataFrame,
    storage: StorageResource,
) -> dg.AssetCheckResult:
    stage = checked_settings(context, storage.root, "questions").questions
    ev = evaluate_coverage(questions, question_outcomes, chunks)
    passed = ev.chunks > 0 and ev.coverage >= stage.min_coverage
    worst = sorted(((v, k) for k, v in ev.reasons.items() if v), reverse=True)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"only {ev.covered} of {ev.chunks} chunks ({ev.coverage:.0%}) have a question "
            f"(min {stage.min_coverage:.0%}); without: " + (", ".join(f"{k} {v}" for v, k in worst) or "no chunks")
        ),
        metadata={
            "coverage": float(round(ev.coverage, 4)),
            "chunks": ev.chunks,
            "chunks_with_questions": ev.covered,
            **{f"without_questions/{k}": int(v) for k, v in ev.reasons.items()},
            "examples_by_reason": dg.MetadataValue.json(ev.examples),
        },
    )
