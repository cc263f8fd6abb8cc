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
from ragassets.retrieval.index import IndexConfig, build_index
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
    the vectors stay in memory, in one float32 array of ``rows`` rows when the count is known.
    """
    whole = isinstance(chunks, pl.DataFrame)
    batches = [(chunks["chunk_id"].to_list(), chunks["text"].to_list())] if whole else chunks
    stats = CacheStats()
    ids: list[str] = []
    dim = embedder.dim
    vectors = np.empty((rows, dim), dtype=np.float32) if rows is not None else None
    parts: list[np.ndarray] = []
    embed_seconds = 0.0
    for batch_ids, texts in batches:
        t0 = time.perf_counter()
        part = embed_documents_cached(embedder, texts, cache, stats)
        embed_seconds += time.perf_counter() - t0
        if vectors is not None:
            if len(ids) + len(part) > rows:
                raise ValueError(f"more chunks than the {rows} announced")
            vectors[len(ids) : len(ids) + len(part)] = part
        else:
            parts.append(part)
        if write is not None:
            write(embeddings_frame(corpus, list(batch_ids), part))
        ids.extend(batch_ids)
    if vectors is None:
        vectors = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
    elif len(ids) != rows:
        raise ValueError(f"{len(ids)} chunks came, {rows} were announced")
    t1 = time.perf_counter()
    index, info = build_index(vectors, cfg)
    index_seconds = time.perf_counter() - t1
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
