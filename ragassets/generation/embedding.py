"""Embedding functions for the generation stages, through the shared embedding cache.

Paraphrases, questions and answers are embedded with the corpus's embedder (the one chunk_index
uses), so a chunk embedded for the index is a cache hit here. ``texts -> unit vectors`` functions
keep the domain code independent of which provider is behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ragassets.embed.cache import EmbeddingCache, embed_documents_cached
from ragassets.embed.providers import Embedder

EmbedFn = Callable[[list[str]], np.ndarray]


class EmbedderMismatch(ValueError):
    """The configured embedder is not the one an index was built with."""


def document_embed_fn(embedder: Embedder, cache: EmbeddingCache | None) -> EmbedFn:
    """Texts embedded on the document side, cached."""
    return lambda texts: embed_documents_cached(embedder, list(texts), cache)


def query_embed_fn(embedder: Embedder, cache: EmbeddingCache | None) -> EmbedFn:
    """Texts embedded as search queries. A symmetric model (same prefix, or none, on both sides)
    embeds queries and documents alike, so those go through the document cache."""
    if embedder.query_prefix == embedder.document_prefix:
        return document_embed_fn(embedder, cache)
    return lambda texts: embedder.embed_queries(list(texts))


def ensure_same_embedder(embedder: Embedder, spec: dict[str, Any], index_name: str = "chunk_index") -> None:
    """Raise :class:`EmbedderMismatch` unless ``embedder`` makes the vectors ``spec`` (an index's
    embedder.json) describes: same provider, model, dimension and prefixes."""
    mine = embedder.spec()
    keys = ("provider", "model", "dimension", "document_prefix", "query_prefix")
    diff = {k: (spec.get(k), mine.get(k)) for k in keys if spec.get(k) != mine.get(k)}
    if diff:
        detail = ", ".join(f"{k}: index {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise EmbedderMismatch(
            f"{index_name} was built with another embedder ({detail}); rematerialize {index_name} with the "
            "current embedder settings, or set them back"
        )
