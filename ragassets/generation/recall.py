"""Recall@k of finding an original chunk from a reworded version of it.

Each paraphrase is a query whose one right answer is the chunk it was written from. Searching the
chunk index with it and noting the rank of that chunk gives recall@k (the share of queries whose
original is among the first k results) and MRR. With the embedder alone this is the baseline a
retrieval-trained model has to beat; it is also the baseline of the retrieval reward.

A chunk whose text occurs more than once in a corpus (a repeated boilerplate paragraph) has several
equally right answers: any chunk with the same text counts as the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragassets.retrieval.retriever import same_text_groups

__all__ = ["same_text_groups"]  # re-exported: recall scoring and self-retrieval share it


def rank_of_truth(retrieved: Sequence[str], truth: str | Iterable[str]) -> int | None:
    """1-based rank of the first retrieved id in ``truth`` (an id or a set of equivalent ids), or None."""
    accept = {truth} if isinstance(truth, str) else set(truth)
    for rank, cid in enumerate(retrieved, start=1):
        if cid in accept:
            return rank
    return None


@dataclass
class RecallResult:
    """Ranks of the original per query (None: not in the results) and the figures built on them."""

    ranks: list[int | None]
    k_max: int

    @property
    def n(self) -> int:
        return len(self.ranks)

    def recall_at(self, k: int) -> float:
        """Share of queries whose original is in the top ``k`` (1.0 for no queries)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if k > self.k_max:
            raise ValueError(f"recall@{k} needs results to depth {k}, but only {self.k_max} were retrieved")
        if not self.ranks:
            return 1.0
        return sum(r is not None and r <= k for r in self.ranks) / len(self.ranks)

    def curve(self) -> dict[int, float]:
        """recall@k for k = 1 .. k_max."""
        return {k: self.recall_at(k) for k in range(1, self.k_max + 1)}

    @property
    def mrr(self) -> float:
        """Mean reciprocal rank (0 for an original beyond k_max)."""
        if not self.ranks:
            return 1.0
        return sum(1.0 / r for r in self.ranks if r is not None) / len(self.ranks)


def recall_at_k(
    retrieved: Sequence[Sequence[str]],
    truth: Sequence[str],
    k_max: int,
    equivalent: Mapping[str, Iterable[str]] | None = None,
) -> RecallResult:
    """Ranks of ``truth[i]`` in ``retrieved[i]`` (ids, best first, at least ``k_max`` deep unless
    the index is smaller). ``equivalent`` maps an id to all ids that count as the same answer."""
    if len(retrieved) != len(truth):
        raise ValueError(f"{len(retrieved)} result lists but {len(truth)} true ids")
    ranks = []
    for hits, t in zip(retrieved, truth):
        accept = set(equivalent.get(t, (t,))) | {t} if equivalent else {t}
        ranks.append(rank_of_truth(list(hits)[:k_max], accept))
    return RecallResult(ranks=ranks, k_max=k_max)


def search_recall(
    index: Any,
    index_ids: Sequence[str],
    queries: np.ndarray,
    truth: Sequence[str],
    k_max: int = 10,
    equivalent: Mapping[str, Iterable[str]] | None = None,
) -> RecallResult:
    """Search ``index`` (FAISS, row i = ``index_ids[i]``) with unit query vectors and score the rank
    of each query's true id. ``k_max`` is cut to the index size."""
    if len(queries) != len(truth):
        raise ValueError(f"{len(queries)} query vectors but {len(truth)} true ids")
    k = max(1, min(k_max, len(index_ids)))
    if len(truth) == 0 or len(index_ids) == 0:
        return RecallResult(ranks=[None] * len(truth), k_max=k)
    _, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    retrieved = [[index_ids[i] for i in row if i >= 0] for row in rows.tolist()]
    return recall_at_k(retrieved, truth, k, equivalent)


def sample_rows(n: int, sample: int, seed: int = 0) -> list[int]:
    """Up to ``sample`` of ``range(n)``, sorted, the same for the same arguments."""
    if n <= sample:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=sample, replace=False).tolist())
