"""The work of the ``chunk_index`` stage, without Dagster: embed chunks (through the cache), index them.

Also the exports other tools read: ``chunks.jsonl`` and ``faiss_index/`` under ``<exports>/<corpus>/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import polars as pl

from ragassets.embed.cache import CacheStats, EmbeddingCache, embed_documents_cached
from ragassets.embed.providers import Embedder
from ragassets.retrieval.index import IndexConfig, build_index, measure_recall, new_index, stored_vectors
from ragassets.storage import atomic_text_writer


@dataclass
class IndexBuild:
    """The outcome of embedding and indexing one corpus's chunks.

    ``embeddings`` is the whole table when the chunks came as one DataFrame; when they came in
    batches each batch's frame went to ``write`` instead and it is None.
    """

    embeddings: pl.DataFrame | None  # corpus, chunk_id, vector (Array[Float32, dim])
    index: faiss.Index
    ids: list[str]
    info: dict[str, Any]
    cache: CacheStats = field(default_factory=CacheStats)
    embed_seconds: float = 0.0
    index_seconds: float = 0.0


def embeddings_schema(dim: int) -> dict[str, pl.DataType]:
    """The columns of the embeddings table (``chunk_index``) for vectors of ``dim`` dimensions."""
    return {"corpus": pl.String, "chunk_id": pl.String, "vector": pl.Array(pl.Float32, dim)}


def embeddings_frame(corpus: str, ids: list[str], vectors: np.ndarray) -> pl.DataFrame:
    """The embeddings table: one row per chunk, the vector as a fixed-size float32 array."""
    dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
    return pl.DataFrame(
        {
            "corpus": [corpus] * len(ids),
            "chunk_id": ids,
            "vector": pl.Series("vector", np.asarray(vectors, dtype=np.float32), dtype=pl.Array(pl.Float32, dim)),
        },
        schema=embeddings_schema(dim),
    )


def chunk_text_batches(batches: Iterable[pl.DataFrame]) -> Iterator[tuple[list[str], list[str]]]:
    """(chunk ids, texts) of each batch of a chunks table (columns chunk_id, text)."""
    for batch in batches:
        yield batch["chunk_id"].to_list(), batch["text"].to_list()


def build_chunk_index(
    corpus: str,
    chunks: pl.DataFrame | Iterable[tuple[Sequence[str], Sequence[str]]],
    embedder: Embedder,
    cache: EmbeddingCache | None,
    cfg: IndexConfig | None = None,
    *,
    rows: int | None = None,
    write: Callable[[pl.DataFrame], None] | None = None,
) -> IndexBuild:
    """Embed the chunks' texts as documents (cached) and build the FAISS index; rows follow the table.

    ``chunks`` is the chunks table, or (ids, texts) batches of it (:func:`chunk_text_batches`): then
    each batch's embeddings frame goes to ``write`` (a table writer's) as soon as it is made, and only
    the vectors stay in memory: with the count known (``rows``), a flat or HNSW index takes each batch's
    vectors as they come and holds their only copy (recall is measured on its own storage).
    """
    whole = isinstance(chunks, pl.DataFrame)
    batches = [(chunks["chunk_id"].to_list(), chunks["text"].to_list())] if whole else chunks
    stats = CacheStats()
    ids: list[str] = []
    dim = embedder.dim
    cfg = cfg or IndexConfig()
    # a flat or HNSW index of a known size takes each batch's vectors as they come and is their only copy;
    # IVF trains on all of them first, so they are gathered
    index, info = new_index(rows, dim, cfg) if rows is not None and not whole else (None, None)
    direct = index is not None and info["index_type"] != "ivf"
    parts: list[np.ndarray] = []
    embed_seconds = index_seconds = 0.0
    for batch_ids, texts in batches:
        t0 = time.perf_counter()
        part = np.ascontiguousarray(embed_documents_cached(embedder, texts, cache, stats), dtype=np.float32)
        t1 = time.perf_counter()
        embed_seconds += t1 - t0
        if rows is not None and len(ids) + len(part) > rows:
            raise ValueError(f"more chunks than the {rows} announced")
        if direct:
            if len(part):
                index.add(part)
            index_seconds += time.perf_counter() - t1
        else:
            parts.append(part)
        if write is not None:
            write(embeddings_frame(corpus, list(batch_ids), part))
        ids.extend(batch_ids)
    if rows is not None and len(ids) != rows:
        raise ValueError(f"{len(ids)} chunks came, {rows} were announced")
    t1 = time.perf_counter()
    if direct:
        vectors = stored_vectors(index)
        measure_recall(index, info, vectors if vectors is not None else np.zeros((0, dim), np.float32), cfg)
    else:
        vectors = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
        parts.clear()
        index, info = build_index(vectors, cfg)
    index_seconds += time.perf_counter() - t1
    embeddings = embeddings_frame(corpus, ids, vectors) if whole else None
    return IndexBuild(embeddings, index, ids, info, stats, embed_seconds, index_seconds)


def write_chunks_jsonl(chunks: pl.DataFrame | Iterable[pl.DataFrame], path: Path) -> Path:
    """``chunks.jsonl``: one JSON object per chunk with every column, written atomically.

    ``chunks`` is the table or its batches (one at a time in memory)."""
    with chunks_jsonl_writer(path) as write:
        for frame in [chunks] if isinstance(chunks, pl.DataFrame) else chunks:
            write(frame)
    return path


@contextmanager
def chunks_jsonl_writer(path: Path) -> Iterator[Callable[[pl.DataFrame], None]]:
    """A function that appends a frame of chunks to ``path`` as JSON lines; the file appears (renamed
    into place) when the ``with`` block ends without error. Same bytes as one whole-table write."""
    with atomic_text_writer(path) as fh:

        def write(frame: pl.DataFrame) -> None:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in frame.iter_rows(named=True))

        yield write
