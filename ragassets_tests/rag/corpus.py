"""A synthetic corpus for the RAG domain tests: a chunks table (documents of consecutive chunks with
prev/next links) and unit vectors that walk along a circle of the document's own plane, so a chunk's
nearest chunks are its previous and next ones, then the ones two steps away, and chunks of other
documents are far: nearest neighbours and hard negatives are predictable."""

from __future__ import annotations

import numpy as np
import polars as pl

from ragassets.retrieval.build import embeddings_frame
from ragassets.text.chunking import CHUNKS_SCHEMA


def synthetic_corpus(n_docs: int = 6, per_doc: int = 8, dim: int = 128, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, vecs = [], []
    for d in range(n_docs):
        plane, _ = np.linalg.qr(rng.normal(size=(dim, 2)))
        ids = [f"d{d}c{s}" for s in range(per_doc)]
        for s, cid in enumerate(ids):
            rows.append({
                "corpus": "t", "chunk_id": cid, "doc_id": f"doc{d}", "seq": s, "heading_path": [f"Doc {d}"],
                "text": f"Document {d} section {s} talks about topic {s} in plain words number {d * 100 + s}.",
                "n_tokens": 20, "char_start": 0, "char_end": 10,
                "prev_chunk_id": ids[s - 1] if s > 0 else None,
                "next_chunk_id": ids[s + 1] if s + 1 < per_doc else None,
            })
            v = np.cos(0.25 * s) * plane[:, 0] + np.sin(0.25 * s) * plane[:, 1] + 0.01 * rng.normal(size=dim)
            vecs.append(v / np.linalg.norm(v))
    return pl.DataFrame(rows, schema=CHUNKS_SCHEMA), np.asarray(vecs, dtype=np.float32)


def embeddings(chunks: pl.DataFrame, vectors: np.ndarray) -> pl.DataFrame:
    return embeddings_frame("t", chunks["chunk_id"].to_list(), vectors)
