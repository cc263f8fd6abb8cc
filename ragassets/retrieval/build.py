"""The work of the ``chunk_index`` stage, without Dagster: embed chunks (through the cache), index them.

Also the exports other tools read: ``chunks.jsonl`` and ``faiss_index/`` under ``<exports>/<corpus>/``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import polars as pl

from ragassets.embed.cache import CacheStats, EmbeddingCache, embed_documents_cached
from ragassets.embed.providers import Embedder
from ragassets.retrieval.index import IndexConfig, build_index
from ragassets.storage import atomic_write_text


@dataclass
class IndexBuild:
    """The outcome of embedding and indexing one corpus's chunks."""

    embeddings: pl.DataFrame  # corpus, chunk_id, vector (Array[Float32, dim])
    index: faiss.Index
    ids: list[str]
    info: dict[str, Any]
    cache: CacheStats = field(default_factory=CacheStats)
    embed_seconds: float = 0.0
    index_seconds: float = 0.0


def embeddings_frame(corpus: str, ids: list[str], vectors: np.ndarray) -> pl.DataFrame:
    """The embeddings table: one row per chunk, the vector as a fixed-size float32 array."""
    dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
    return pl.DataFrame(
        {
            "corpus": [corpus] * len(ids),
            "chunk_id": ids,
            "vector": pl.Series("vector", np.asarray(vectors, dtype=np.float32), dtype=pl.Array(pl.Float32, dim)),
        },
        schema={"corpus": pl.String, "chunk_id": pl.String, "vector": pl.Array(pl.Float32, dim)},
    )


def build_chunk_index(
    corpus: str,
    chunks: pl.DataFrame,
    embedder: Embedder,
    cache: EmbeddingCache | None,
    cfg: IndexConfig | None = None,
) -> IndexBuild:
    """Embed ``chunks.text`` as documents (cached) and build the FAISS index; rows follow the table."""
    ids = chunks["chunk_id"].to_list()
    texts = chunks["text"].to_list()
    stats = CacheStats()
    t0 = time.perf_counter()
    vectors = embed_documents_cached(embedder, texts, cache, stats)
    t1 = time.perf_counter()
    index, info = build_index(vectors, cfg)
    t2 = time.perf_counter()
    return IndexBuild(embeddings_frame(corpus, ids, vectors), index, ids, info, stats, t1 - t0, t2 - t1)


def write_chunks_jsonl(chunks: pl.DataFrame, path: Path) -> Path:
    """``chunks.jsonl``: one JSON object per chunk with every column, written atomically."""
    lines = [json.dumps(row, ensure_ascii=False) for row in chunks.iter_rows(named=True)]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
    return path
