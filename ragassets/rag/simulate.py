"""The frozen retrieval simulation (augmentoolkit's ``rag_prepared_data.jsonl``), seeded.

For each kept chunk (an *item*): ``rag_failed`` is drawn with probability
``rag_failure_percentage``; ``n`` is uniform in 1..``rag_max_chunks``. A failed retrieval shows ``n``
other chunks; a successful one the chunk itself plus ``n - 1`` others, shuffled. "Others" are never
the chunk, a copy of its text, or its previous or next chunk (they overlap it and may hold the
answer). They are drawn at random from the whole corpus (``distractors: random``) or are the chunk's
nearest neighbours in ``chunk_index`` (``distractors: hard_negative``): passages that look relevant
but are not the gold one.

Every draw comes from one generator seeded with ``rag.seed``, walking the items in chunk_id order, so
the table is the same on every run and for every input order. It is stored as a table so a re-run of
the conversations reuses it instead of drawing again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from ragassets.rag.ids import stable_id

PREPARED_SCHEMA = {
    "corpus": pl.String,
    "item_id": pl.String,
    "chunk_id": pl.String,
    "rag_failed": pl.Boolean,
    "n_chunks": pl.Int64,
    "context_chunk_ids": pl.List(pl.String),
    "distractors": pl.String,
    "seed": pl.Int64,
}

HardNegatives = Callable[[Sequence[str], int], dict[str, list[Any]]]


def _excluded(chunks: pl.DataFrame) -> dict[str, set[str]]:
    """chunk_id -> the chunk, its previous and next chunk, and every chunk with the same text."""
    by_text: dict[str, set[str]] = {}
    rows = chunks.select("chunk_id", "text", "prev_chunk_id", "next_chunk_id").rows()
    for cid, text, _p, _n in rows:
        by_text.setdefault(" ".join(text.split()), set()).add(cid)
    return {
        cid: {cid, *(x for x in (prev, nxt) if x)} | by_text[" ".join(text.split())]
        for cid, text, prev, nxt in rows
    }


def _draw(rng: random.Random, everything: Sequence[str], excluded: set[str], want: int) -> list[str]:
    """``want`` distinct chunks drawn uniformly from ``everything`` outside ``excluded`` (fewer when
    the corpus has fewer): rejection sampling, so a draw costs O(want), not O(corpus)."""
    want = min(want, len(everything) - len(excluded))
    picked: list[str] = []
    while len(picked) < want:
        c = everything[rng.randrange(len(everything))]
        if c not in excluded and c not in picked:
            picked.append(c)
    return picked


def prepare_rag(
    corpus: str,
    kept_chunk_ids: Sequence[str],
    chunks: pl.DataFrame,
    settings: Any,
    hard_negatives: HardNegatives | None = None,
) -> pl.DataFrame:
    """The rag_prepared table for the kept chunks (``settings``: the ``rag`` block). ``chunks`` is the
    whole chunks table (distractors may be any chunk of the corpus). ``hard_negatives(ids, n)`` gives
    each chunk's nearest non-adjacent chunks (see :class:`ragassets.rag.neighbours.ChunkNeighbours`);
    it is needed for ``distractors: hard_negative``."""
    mode = settings.distractors
    if mode == "hard_negative" and hard_negatives is None:
        raise ValueError("distractors: hard_negative needs the chunk_index neighbours")
    items = sorted(set(kept_chunk_ids))
    known = set(chunks["chunk_id"].to_list())
    unknown = [c for c in items if c not in known]
    if unknown:
        raise ValueError(f"{len(unknown)} kept chunk(s) are not in chunks (e.g. {unknown[0]}); rematerialize")
    rng = random.Random(f"rag_prepared:{settings.seed}")
    p = settings.rag_failure_percentage
    plans = [(cid, rng.random() < p, rng.randint(1, settings.rag_max_chunks)) for cid in items]
    excluded = _excluded(chunks)
    everything = sorted(chunks["chunk_id"].to_list())
    nearest = hard_negatives(items, settings.rag_max_chunks) if mode == "hard_negative" else {}
    rows = []
    for cid, failed, n in plans:
        want = n if failed else n - 1
        if mode == "hard_negative":
            others = [h.chunk_id for h in nearest.get(cid, [])][:want]
        else:
            others = _draw(rng, everything, excluded[cid], want)
        context = list(others) if failed else [cid, *others]
        rng.shuffle(context)
        rows.append(
            {
                "corpus": corpus,
                "item_id": stable_id("rag_item", cid, settings.seed),
                "chunk_id": cid,
                "rag_failed": failed,
                "n_chunks": len(context),
                "context_chunk_ids": context,
                "distractors": mode,
                "seed": settings.seed,
            }
        )
    return pl.DataFrame(rows, schema=PREPARED_SCHEMA)


def simulation_stats(prepared: pl.DataFrame) -> dict[str, float]:
    """Failure share and context sizes, for metadata and the checks."""
    if prepared.is_empty():
        return {"items": 0, "failure_share": 0.0, "mean_chunks": 0.0}
    return {
        "items": prepared.height,
        "failure_share": float(prepared["rag_failed"].mean()),
        "mean_chunks": float(prepared["n_chunks"].mean()),
    }
