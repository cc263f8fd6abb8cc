"""Search a corpus's chunks by meaning: the FAISS index, its id map and the chunks table together.

Used by the CLI (``ragassets search``), by reward functions (is the answer grounded in what the
question retrieves?) and for RAG distractors (:meth:`Retriever.similar_to_chunk`: the nearest chunks
that are not the gold one). No Dagster import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import polars as pl

from ragassets import paths
from ragassets.embed.cache import EmbeddingCache, embed_documents_cached
from ragassets.embed.providers import Embedder, embedder_from_spec
from ragassets.retrieval.index import IndexArtifactError, load_index_artifact
from ragassets.storage import read_table

INDEX_ASSET = "chunk_index"
CHUNKS_ASSET = "chunks"


@dataclass(frozen=True)
class Hit:
    """One search result: the chunk and its cosine similarity to the query."""

    rank: int
    chunk_id: str
    score: float
    text: str
    doc_id: str
    heading_path: tuple[str, ...]


class Retriever:
    """Answers ``search(query, k)`` over one corpus with chunk ids, scores and texts.

    Build it with :meth:`load` (from the artifacts of a data root) or directly from an index, its ids,
    the chunks table and the embedder that built the index. Queries are embedded on the query side of
    the embedder (Nomic's ``search_query:`` prefix, for example).
    """

    def __init__(
        self,
        index: faiss.Index,
        ids: Sequence[str],
        chunks: pl.DataFrame,
        embedder: Embedder,
        manifest: dict[str, Any] | None = None,
    ):
        if index.ntotal != len(ids):
            raise IndexArtifactError(f"index has {index.ntotal} vectors but {len(ids)} ids")
        if index.d != embedder.dim:
            raise IndexArtifactError(
                f"the index holds {index.d}-dim vectors but embedder {embedder.model} makes {embedder.dim}; "
                "search with the embedder named in embedder.json or rematerialize chunk_index"
            )
        rows = {
            cid: (text, doc_id, tuple(path or ()))
            for cid, text, doc_id, path in chunks.select("chunk_id", "text", "doc_id", "heading_path").iter_rows()
        }
        missing = [cid for cid in ids if cid not in rows]
        if missing:
            raise IndexArtifactError(
                f"{len(missing)} of {len(ids)} indexed chunk ids are not in the chunks table (e.g. {missing[0]}): "
                "the index is older than the chunks; rematerialize chunk_index"
            )
        self.index = index
        self.ids = list(ids)
        self._rows = [rows[cid] for cid in self.ids]
        self._row_of = {cid: i for i, cid in enumerate(self.ids)}
        texts = [r[0] for r in self._rows]
        self._copies = {t: c - 1 for t, c in Counter(texts).items() if c > 1}
        self.embedder = embedder
        self.manifest = manifest or {}

    @classmethod
    def load(
        cls,
        corpus: str,
        data_root: str | Path | None = None,
        embedder: Embedder | None = None,
        **embedder_overrides: Any,
    ) -> Retriever:
        """The retriever of ``corpus`` under ``data_root`` (default: ``$RAGASSETS_DATA_DIR`` or ./data).

        Without ``embedder``, the one recorded in the index's embedder.json is rebuilt.
        """
        root = paths.data_root(data_root)
        directory = paths.artifact_dir(INDEX_ASSET, corpus, root)
        index, ids, spec, manifest = load_index_artifact(directory)
        chunks = read_table(CHUNKS_ASSET, corpus, root)
        if embedder is None:
            embedder = embedder_from_spec(spec, **embedder_overrides)
        elif embedder.model != spec.get("model"):
            raise IndexArtifactError(
                f"the index of '{corpus}' was built with {spec.get('model')!r}, not {embedder.model!r}; "
                "queries must be embedded by the same model"
            )
        return cls(index, ids, chunks, embedder, manifest)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` chunks closest to ``query``, best first."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 5) -> list[list[Hit]]:
        """:meth:`search` for many queries in one embedding batch."""
        if not queries:
            return []
        return self.search_vectors(self.embedder.embed_queries(list(queries)), k)

    def similar_to_chunk(self, chunk_id: str, k: int = 5) -> list[Hit]:
        """The ``k`` chunks nearest to an indexed chunk, itself (and exact copies of its text) left out.

        For RAG distractors: passages that look relevant to a question about ``chunk_id`` but are not
        its gold passage. Uses the chunk's stored vector, so nothing is embedded.
        """
        try:
            row = self._row_of[chunk_id]
        except KeyError:
            raise KeyError(f"chunk {chunk_id!r} is not in this index") from None
        vector = self._vector(row)
        text = self._rows[row][0]
        hits = self.search_vectors(vector[None, :], k + 1 + self._copies.get(text, 0))[0]
        kept = [h for h in hits if h.chunk_id != chunk_id and h.text != text][:k]
        return [Hit(i + 1, h.chunk_id, h.score, h.text, h.doc_id, h.heading_path) for i, h in enumerate(kept)]

    def _vector(self, row: int) -> np.ndarray:
        try:
            return self.index.reconstruct(row)
        except RuntimeError:  # an IVF index without a direct map
            faiss.extract_index_ivf(self.index).make_direct_map()
            return self.index.reconstruct(row)

    def search_vectors(self, vectors: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """Search with already-embedded (unit-length) query vectors."""
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(self.ids) == 0:
            return [[] for _ in range(len(x))]
        scores, rows = self.index.search(x, min(k, len(self.ids)))
        out: list[list[Hit]] = []
        for srow, irow in zip(scores.tolist(), rows.tolist()):
            hits = []
            for score, i in zip(srow, irow):
                if i < 0:  # fewer results than k (approximate indexes)
                    continue
                text, doc_id, heading = self._rows[i]
                hits.append(Hit(len(hits) + 1, self.ids[i], float(score), text, doc_id, heading))
            out.append(hits)
        return out


def same_text_groups(ids: Sequence[str], texts: Sequence[str]) -> dict[str, set[str]]:
    """id -> every id with the same text (itself included), for ids whose text is not unique.

    Texts that differ only in whitespace count as the same: every embedder reads them alike, so
    their vectors tie and either may come first (PDF pages repeating a paragraph with its line
    breaks in other places)."""
    by_text: dict[str, set[str]] = {}
    keys = [" ".join(text.split()) for text in texts]
    for cid, key in zip(ids, keys):
        by_text.setdefault(key, set()).add(cid)
    return {cid: by_text[key] for cid, key in zip(ids, keys) if len(by_text[key]) > 1}


def self_retrieval_rows(n: int, sample: int = 500, seed: int = 0) -> list[int]:
    """The positions (sorted) of the chunks :func:`self_retrieval` searches in a table of ``n`` rows."""
    if n == 0:
        return []
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(n, size=min(sample, n), replace=False).tolist())


def self_retrieval(
    retriever: Retriever,
    chunks: pl.DataFrame,
    sample: int = 500,
    seed: int = 0,
    cache: EmbeddingCache | None = None,
) -> dict[str, Any]:
    """Search a sample of chunks by their own text; the share found at rank 1 is the ``rate``.

    A chunk whose text appears more than once in the corpus counts as found when rank 1 is any chunk
    with the same text (whitespace aside, see :func:`same_text_groups`). A low rate means the index
    and the table disagree (ids shifted, a stale index) or the embedder cannot tell chunks apart.

    With ``cache`` and a symmetric embedder (a query gets the same vector as a document of the same
    text, e.g. MiniLM), the query vectors are the cached vectors of those texts: the same numbers a
    fresh embedding gives, without paying for it again on CPU.

    ``chunks`` is the whole table; a caller that reads it from disk can pick the same rows with
    :func:`self_retrieval_rows` and pass only those to :func:`search_own_texts`.
    """
    rows = self_retrieval_rows(chunks.height, sample, seed)
    return search_own_texts(retriever, chunks.select("chunk_id", "text")[rows], cache)


def search_own_texts(retriever: Retriever, picked: pl.DataFrame, cache: EmbeddingCache | None = None) -> dict[str, Any]:
    """:func:`self_retrieval` on the chunks ``picked`` (columns chunk_id, text): each is searched by its
    text and found when rank 1 is itself or an indexed chunk of the same text, whitespace aside."""
    if picked.height == 0:
        return {"rate": 1.0, "sampled": 0, "found": 0, "misses": []}
    queries = picked["text"].to_list()
    if cache is not None and retriever.embedder.symmetric:
        results = retriever.search_vectors(embed_documents_cached(retriever.embedder, queries, cache), k=1)
    else:
        results = retriever.search_many(queries, k=1)
    found = 0
    misses: list[dict[str, Any]] = []
    for (cid, text), hits in zip(picked.iter_rows(), results):
        top = hits[0] if hits else None
        if top is not None and (top.chunk_id == cid or _same_text(top.text, text)):
            found += 1
        elif len(misses) < 10:
            misses.append({"chunk_id": cid, "rank1": top.chunk_id if top else None, "score": top.score if top else None})
    return {"rate": found / picked.height, "sampled": picked.height, "found": found, "misses": misses}


def _same_text(a: str, b: str) -> bool:
    """The same text for every embedder: equal once runs of whitespace are one space (as in
    :func:`same_text_groups`)."""
    return " ".join(a.split()) == " ".join(b.split())
