"""Nearest chunks in ``chunk_index``: related chunks for conversations, hard negatives for RAG.

One batched FAISS search over the corpus's own index (the artifact ``chunk_index`` wrote, exact or
HNSW/IVF as it was built) with the stored chunk vectors as queries, so nothing is embedded again.

- :meth:`ChunkNeighbours.related`: the closest chunks to a chunk (itself and copies of its text left
  out) at or above a cosine: what a conversation about the chunk may also draw on.
- :meth:`ChunkNeighbours.hard_negatives`: the closest chunks that are neither the chunk, nor a copy
  of its text, nor its previous or next chunk in the document (those overlap it and may hold the
  answer): distractors that look relevant but are not the gold passage.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import polars as pl

from ragassets.retrieval.index import IndexArtifactError, load_index_artifact


@dataclass(frozen=True)
class Neighbour:
    chunk_id: str
    score: float


class ChunkNeighbours:
    """Neighbour queries over one corpus. ``index`` holds the vectors of ``ids``; ``vectors`` are
    the same vectors (row i is ``ids[i]``); ``chunks`` is the chunks table (prev/next, text)."""

    def __init__(self, index: faiss.Index, ids: Sequence[str], vectors: np.ndarray, chunks: pl.DataFrame):
        if index.ntotal != len(ids) or len(vectors) != len(ids):
            raise IndexArtifactError(
                f"the index holds {index.ntotal} vectors, the table {len(vectors)}, for {len(ids)} ids: "
                "rematerialize chunk_index"
            )
        self.index = index
        self.ids = list(ids)
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        known = set(chunks["chunk_id"].to_list())
        missing = [c for c in self.ids if c not in known]
        if missing:
            raise IndexArtifactError(
                f"{len(missing)} indexed chunk(s) are not in chunks (e.g. {missing[0]}): the index is older "
                "than the chunks; rematerialize chunk_index"
            )
        texts = dict(zip(chunks["chunk_id"].to_list(), chunks["text"].to_list(), strict=True))
        self.text_key = {cid: " ".join(texts[cid].split()) for cid in self.ids}
        self.adjacent: dict[str, set[str]] = {
            cid: {n for n in (prev, nxt) if n}
            for cid, prev, nxt in chunks.select("chunk_id", "prev_chunk_id", "next_chunk_id").iter_rows()
        }
        self.search_seconds = 0.0
        self.searches = 0

    @classmethod
    def from_artifact(cls, directory: Path, embeddings: pl.DataFrame, chunks: pl.DataFrame) -> ChunkNeighbours:
        """From the ``chunk_index`` artifact folder and its table (chunk_id, vector)."""
        index, ids, _spec, _manifest = load_index_artifact(directory)
        by_id = dict(zip(embeddings["chunk_id"].to_list(), range(embeddings.height), strict=True))
        missing = [c for c in ids if c not in by_id]
        if missing:
            raise IndexArtifactError(
                f"{len(missing)} indexed chunk(s) have no vector in the chunk_index table; rematerialize chunk_index"
            )
        matrix = np.asarray(embeddings["vector"].to_list(), dtype=np.float32)
        return cls(index, ids, matrix[[by_id[c] for c in ids]], chunks)

    def _search(self, chunk_ids: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        rows = [self.row[c] for c in chunk_ids]
        t0 = time.perf_counter()
        scores, found = self.index.search(self.vectors[rows], min(k, len(self.ids)))
        self.search_seconds += time.perf_counter() - t0
        self.searches += len(rows)
        return scores, found

    def _nearest(
        self, chunk_ids: Sequence[str], n: int, exclude_adjacent: bool, min_score: float | None = None
    ) -> dict[str, list[Neighbour]]:
        unknown = [c for c in chunk_ids if c not in self.row]
        if unknown:
            raise KeyError(f"chunk {unknown[0]!r} is not in chunk_index; rematerialize chunk_index")
        out: dict[str, list[Neighbour]] = {}
        pending = list(chunk_ids)
        k = n + 3
        while pending:
            scores, found = self._search(pending, k)
            again = []
            for cid, srow, frow in zip(pending, scores.tolist(), found.tolist(), strict=True):
                skip = {cid} | (self.adjacent.get(cid, set()) if exclude_adjacent else set())
                picked: list[Neighbour] = []
                for score, r in zip(srow, frow, strict=True):
                    if r < 0:
                        continue
                    other = self.ids[r]
                    if other in skip or self.text_key[other] == self.text_key[cid]:
                        continue
                    if min_score is not None and score < min_score:
                        break
                    picked.append(Neighbour(other, float(score)))
                    if len(picked) == n:
                        break
                exhausted = k >= len(self.ids) or (min_score is not None and srow and srow[-1] < min_score)
                if len(picked) < n and not exhausted:
                    again.append(cid)
                else:
                    out[cid] = picked
            pending, k = again, k * 4
        return out

    def related(self, chunk_ids: Sequence[str], n: int, min_score: float) -> dict[str, list[Neighbour]]:
        """Up to ``n`` nearest chunks per chunk with cosine >= ``min_score``, best first."""
        return self._nearest(chunk_ids, n, exclude_adjacent=False, min_score=min_score)

    def hard_negatives(self, chunk_ids: Sequence[str], n: int) -> dict[str, list[Neighbour]]:
        """The ``n`` nearest chunks per chunk that are not it, a copy of its text, or its previous or
        next chunk; fewer only when the corpus has no more."""
        return self._nearest(chunk_ids, n, exclude_adjacent=True)
