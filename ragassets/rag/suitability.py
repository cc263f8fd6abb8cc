"""Which chunks are worth RAG training data: a verdict per chunk from the small model.

The model answers the ``chunk_filter`` task with structured output: ``verdict`` is an enum
(``suitable`` / ``not_suitable``) and ``reason`` one line, so a chunk is kept because the model chose
``suitable``, never because a word happens to appear in its reply (augmentoolkit keeps chunks the
model called "Not suitable": it looks for "unsuitable"). A chunk whose verdict never parsed is not
kept, with the failure as its reason. ``rag.skip_filter_chunks`` keeps every chunk without asking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import polars as pl

from ragassets.llm import ChunkVerdict, task_request

SUITABILITY_SCHEMA = {
    "corpus": pl.String,
    "chunk_id": pl.String,
    "suitable": pl.Boolean,
    "reason": pl.String,
    "provider": pl.String,
    "model": pl.String,
}
SKIPPED_REASON = "not screened: rag.skip_filter_chunks is true"
MAX_REASON_CHARS = 200


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` on one line (whitespace collapsed), cut at ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def suitability_requests(chunks: pl.DataFrame, prompts: Any, params: Any = None) -> list[Any]:
    """One ``chunk_filter`` request per chunk, in table order."""
    return [
        task_request("chunk_filter", prompts, id=cid, params=params, text=text)
        for cid, text in chunks.select("chunk_id", "text").iter_rows()
    ]


def collect_verdicts(corpus: str, chunks: pl.DataFrame, results: Sequence[Any]) -> pl.DataFrame:
    """The suitability table from the structured answers (one per chunk, in order)."""
    rows = []
    for cid, res in zip(chunks["chunk_id"].to_list(), results, strict=True):
        if res.ok:
            verdict: ChunkVerdict = res.value
            suitable, reason = verdict.suitable, one_line(verdict.reason)
        else:
            suitable = False
            reason = one_line(f"no verdict ({res.error}): {res.error_detail or ''}")
        rows.append(
            {"corpus": corpus, "chunk_id": cid, "suitable": suitable, "reason": reason,
             "provider": res.provider, "model": res.model}
        )
    return pl.DataFrame(rows, schema=SUITABILITY_SCHEMA)


def keep_everything(corpus: str, chunks: pl.DataFrame) -> pl.DataFrame:
    """The table when the filter is skipped: every chunk suitable, and why."""
    n = chunks.height
    return pl.DataFrame(
        {"corpus": [corpus] * n, "chunk_id": chunks["chunk_id"].to_list(), "suitable": [True] * n,
         "reason": [SKIPPED_REASON] * n, "provider": ["none"] * n, "model": ["none"] * n},
        schema=SUITABILITY_SCHEMA,
    )


def reason_counts(table: pl.DataFrame, limit: int = 8) -> list[tuple[str, int]]:
    """The most frequent reasons chunks were not kept, with their counts."""
    rejected = table.filter(~pl.col("suitable"))["reason"].to_list()
    return Counter(rejected).most_common(limit)


def nothing_kept_message(table: pl.DataFrame) -> str:
    """Why rag_prepared has nothing to work on, what the filter said, and how to go on."""
    counted = "; ".join(f"{n} x {reason!r}" for reason, n in reason_counts(table)) or "no chunks at all"
    return (
        f"the chunk filter kept none of the {table.height} chunks, so there is nothing to build RAG data from. "
        f"Reasons given: {counted}. Look at chunk_suitability (reason column), point small_llm at a model that "
        "judges better, or skip the filter with `rag: {skip_filter_chunks: true}` in corpus.yaml (or run config)."
    )


def screen_chunks(corpus: str, chunks: pl.DataFrame, client: Any, prompts: Any, max_repairs: int | None = None) -> pl.DataFrame:
    """Ask ``client`` (the small model) for a verdict on every chunk; the suitability table."""
    results = client.generate_structured(suitability_requests(chunks, prompts), ChunkVerdict, max_repairs=max_repairs)
    return collect_verdicts(corpus, chunks, results)
