"""The figures behind the asset checks of paraphrases and questions, without Dagster.

Each function takes tables (and an embedding function or an index folder) and returns a report the
check turns into pass/fail and metadata, so the numbers can be tested on hand-made cases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ragassets.embed.cache import EmbeddingCache
from ragassets.embed.providers import Embedder, embedder_from_spec
from ragassets.generation.embedding import ensure_same_embedder, query_embed_fn
from ragassets.generation.grounding import GroundingResult, grounding
from ragassets.generation.paraphrase import FidelityReport, fidelity_report, pair_cosines
from ragassets.generation.questions import STATUSES
from ragassets.generation.recall import RecallResult, same_text_groups, sample_rows, search_recall
from ragassets.generation.windows import build_windows
from ragassets.retrieval.index import load_index_artifact

EmbedFn = Callable[[list[str]], np.ndarray]
DIFFICULTIES = ("easy", "medium", "hard")


def excerpt(text: str | None, n: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------------------------------
# paraphrases


@dataclass
class FidelityEvaluation:
    report: FidelityReport
    cosines: np.ndarray
    orphans: int  # paraphrases of chunks that are not in the chunks table
    examples: list[dict[str, Any]]


def evaluate_fidelity(
    paraphrases: pl.DataFrame, chunks: pl.DataFrame, embed: EmbedFn, band: tuple[float, float], n_examples: int = 5
) -> FidelityEvaluation:
    """Cosine of each paraphrase with its original chunk (document embeddings of both), against ``band``."""
    original = dict(chunks.select("chunk_id", "text").iter_rows())
    pairs = paraphrases.filter(pl.col("chunk_id").is_in(list(original)))
    if pairs.height:
        cos = pair_cosines(embed([original[c] for c in pairs["chunk_id"]]), embed(pairs["text"].to_list()))
    else:
        cos = np.zeros(0, dtype=np.float32)
    report = fidelity_report(cos, band)
    low, high = report.band
    order = np.argsort(cos)
    picks = [("drifted", i) for i in order[:n_examples].tolist() if cos[i] < low]
    picks += [("copy", i) for i in order[::-1][:n_examples].tolist() if cos[i] > high]
    examples = [
        {"kind": kind, "paraphrase_id": pairs["paraphrase_id"][i], "chunk_id": pairs["chunk_id"][i],
         "cosine": round(float(cos[i]), 4), "paraphrase": excerpt(pairs["text"][i])}
        for kind, i in picks
    ]
    return FidelityEvaluation(report, cos, paraphrases.height - pairs.height, examples)


@dataclass
class RetrievalEvaluation:
    recall: RecallResult
    indexed: int
    embedder: str
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recall_at_1(self) -> float:
        return self.recall.recall_at(1)

    @property
    def recall_at_5(self) -> float:
        """recall@5, or recall@n for an index of fewer than 5 chunks."""
        return self.recall.recall_at(min(5, self.recall.k_max))


def evaluate_paraphrase_retrieval(
    chunk_index_dir: Path,
    paraphrases: pl.DataFrame,
    chunks: pl.DataFrame,
    *,
    sample: int = 5000,
    depth: int = 10,
    embedder: Embedder | None = None,
    cache: EmbeddingCache | None = None,
    n_examples: int = 5,
) -> RetrievalEvaluation:
    """Search the chunk index with each (sampled) paraphrase, embedded as a query, and score the rank
    of its original chunk (chunks with identical text count as it). ``embedder``: the configured one,
    which must match the index's embedder.json (default: rebuilt from it)."""
    index, ids, spec, _ = load_index_artifact(chunk_index_dir)
    if embedder is None:
        embedder = embedder_from_spec(spec)
    ensure_same_embedder(embedder, spec)
    picked = paraphrases[sample_rows(paraphrases.height, sample)] if paraphrases.height else paraphrases
    embed = query_embed_fn(embedder, cache)
    queries = embed(picked["text"].to_list()) if picked.height else np.zeros((0, index.d), dtype=np.float32)
    equivalent = same_text_groups(chunks["chunk_id"].to_list(), chunks["text"].to_list())
    recall = search_recall(index, ids, queries, picked["chunk_id"].to_list(), depth, equivalent)
    missed = [
        {"paraphrase_id": pid, "chunk_id": cid, "rank": rank}
        for pid, cid, rank in zip(picked["paraphrase_id"], picked["chunk_id"], recall.ranks)
        if rank is None or rank > 1
    ][:n_examples]
    return RetrievalEvaluation(recall, len(ids), f"{spec.get('provider')}:{spec.get('model')}", missed)


# --------------------------------------------------------------------------------------------------
# questions


def unknown_chunk_refs(questions: pl.DataFrame, chunks: pl.DataFrame) -> list[str]:
    """chunk_ids named by questions that are not in the chunks table (sorted, distinct)."""
    known = set(chunks["chunk_id"].to_list())
    return sorted({c for c in questions["chunk_id"].to_list() if c not in known})


def invalid_difficulties(questions: pl.DataFrame) -> dict[str, int]:
    """Difficulty values other than easy/medium/hard, with their counts."""
    counts = dict(questions.group_by("difficulty").len().iter_rows()) if questions.height else {}
    return {str(k): int(v) for k, v in counts.items() if k not in DIFFICULTIES}


@dataclass
class GroundingEvaluation:
    result: GroundingResult
    answers: int
    examples: list[dict[str, Any]]

    @property
    def share(self) -> float:
        return self.result.share_grounded


def evaluate_grounding(
    questions: pl.DataFrame,
    chunks: pl.DataFrame,
    *,
    window: int,
    min_overlap: float,
    min_cosine: float,
    embed: EmbedFn | None,
    n_examples: int = 5,
) -> GroundingEvaluation:
    """Grounding of each answer in its question's window (previous, current, next chunk)."""
    windows = {w.chunk_id: w.text for w in build_windows(chunks, window)}
    rows = questions.filter(pl.col("chunk_id").is_in(list(windows)))
    answers = rows["answer"].to_list()
    result = grounding(answers, [windows[c] for c in rows["chunk_id"]], min_overlap=min_overlap,
                       min_cosine=min_cosine, embed=embed)
    examples = [
        {"question_id": qid, "chunk_id": cid, "question": q, "answer": excerpt(a), "score": round(s, 3)}
        for qid, cid, q, a, s, ok in zip(rows["question_id"], rows["chunk_id"], rows["question"], answers,
                                         result.scores, result.grounded)
        if not ok
    ][:n_examples]
    return GroundingEvaluation(result, len(answers), examples)


@dataclass
class CoverageEvaluation:
    chunks: int
    covered: int
    reasons: dict[str, int]  # chunks without a question, by reason
    examples: dict[str, list[dict[str, Any]]]

    @property
    def coverage(self) -> float:
        return self.covered / self.chunks if self.chunks else 0.0


def evaluate_coverage(
    questions: pl.DataFrame, outcomes: pl.DataFrame, chunks: pl.DataFrame, n_examples: int = 3
) -> CoverageEvaluation:
    """Share of chunks with at least one question; the others by the reason ``question_outcomes``
    gives (``unaccounted`` when it gives none, which means the two tables are from different runs)."""
    all_chunks = chunks["chunk_id"].to_list()
    covered = set(questions["chunk_id"].to_list()) & set(all_chunks)
    rows = {r["chunk_id"]: r for r in outcomes.iter_rows(named=True)}
    reasons = dict.fromkeys((s for s in STATUSES if s != "ok"), 0)
    examples: dict[str, list[dict[str, Any]]] = {}
    for cid in all_chunks:
        if cid in covered:
            continue
        row = rows.get(cid) or {}
        reason = row.get("status") or "unaccounted"
        if reason == "ok":  # the outcome says kept, the table has none: stale tables
            reason = "unaccounted"
        reasons[reason] = reasons.get(reason, 0) + 1
        ex = examples.setdefault(reason, [])
        if len(ex) < n_examples:
            dropped = json.loads(row.get("dropped") or "[]")
            ex.append({"chunk_id": cid, "error": row.get("error"), "detail": row.get("detail"),
                       "dropped": [d.get("reason") for d in dropped]})
    return CoverageEvaluation(len(all_chunks), len(covered), reasons, examples)
