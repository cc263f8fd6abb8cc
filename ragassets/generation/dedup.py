"""Near-duplicate questions across a corpus, dropped in order: the first one asked stays.

Two questions are duplicates when their normalised text is equal (case, punctuation and spacing
aside), or when their embeddings' cosine similarity is at or above a threshold. Overlapping chunks
and neighbouring windows make both common: the same sentence seen from two chunks gives the same
question twice, which inflates a dataset and leaks between train and eval splits.

The scan keeps the earliest question of every group. It compares each question only with the ones
before it that were kept, so a chain a~b~c where a and c are not close keeps a and c. Similarities
are computed in blocks (memory stays at ``block x n`` floats) and only pairs above the threshold
are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ragassets.text.words import normalize

EXACT = "normalised_duplicate"
NEAR = "near_duplicate"


@dataclass
class DedupResult:
    """Per input position: kept or not, why not, and the index of the kept question it duplicates."""

    keep: list[bool]
    reason: list[str | None]
    duplicate_of: list[int | None]
    similarity: list[float | None] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return sum(self.keep)

    @property
    def dropped(self) -> int:
        return len(self.keep) - self.kept

    def counts(self) -> dict[str, int]:
        """Dropped questions by reason (both reasons always present)."""
        out = {EXACT: 0, NEAR: 0}
        for r in self.reason:
            if r is not None:
                out[r] += 1
        return out


def _earlier_neighbours(vectors: np.ndarray, threshold: float, block: int) -> list[list[tuple[int, float]]]:
    """For each row i, the rows j < i with cosine(i, j) >= threshold (vectors are unit rows)."""
    n = vectors.shape[0]
    out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = vectors[start:stop] @ vectors[:stop].T  # rows start..stop against every row up to stop
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if c < i:
                out[i].append((c, float(sims[r, c])))
    return out


def dedup_questions(
    texts: Sequence[str],
    vectors: np.ndarray | None = None,
    threshold: float = 0.95,
    block: int = 2048,
) -> DedupResult:
    """Which of ``texts`` (in corpus order) to keep.

    ``vectors``: unit-length embeddings of the texts (row i for text i), or None for text-only
    dedup. ``threshold``: cosine at or above which two questions are near duplicates.
    """
    n = len(texts)
    if vectors is not None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[0] != n:
            raise ValueError(f"{n} questions but {vectors.shape[0]} embeddings")
    keep = [True] * n
    reason: list[str | None] = [None] * n
    dup_of: list[int | None] = [None] * n
    sim: list[float | None] = [None] * n
    first_by_text: dict[str, int] = {}
    neighbours = _earlier_neighbours(vectors, threshold, block) if vectors is not None and n else None
    for i, text in enumerate(texts):
        key = normalize(text)
        if key in first_by_text:
            keep[i], reason[i], dup_of[i], sim[i] = False, EXACT, first_by_text[key], 1.0
            continue
        if neighbours is not None:
            kept = [(j, s) for j, s in neighbours[i] if keep[j]]
            if kept:
                j, s = max(kept, key=lambda t: t[1])
                keep[i], reason[i], dup_of[i], sim[i] = False, NEAR, j, s
                continue
        first_by_text[key] = i
    return DedupResult(keep=keep, reason=reason, duplicate_of=dup_of, similarity=sim)
