"""Embedding: providers (MiniLM offline default, sentence-transformers, Nomic, OpenAI-compatible) and a cache."""

from ragassets.embed.cache import CacheStats, EmbeddingCache, embed_documents_cached
from ragassets.embed.minilm import MINILM_DIM, MINILM_MODEL, minilm_model_path
from ragassets.embed.providers import (
    Embedder,
    EmbedderError,
    EmbedderUnavailable,
    MiniLMEmbedder,
    NomicEmbedder,
    OpenAICompatibleEmbedder,
    SentenceTransformerEmbedder,
    build_embedder,
    embedder_from_spec,
)

__all__ = [
    "MINILM_DIM",
    "MINILM_MODEL",
    "CacheStats",
    "Embedder",
    "EmbedderError",
    "EmbedderUnavailable",
    "EmbeddingCache",
    "MiniLMEmbedder",
    "NomicEmbedder",
    "OpenAICompatibleEmbedder",
    "SentenceTransformerEmbedder",
    "build_embedder",
    "embed_documents_cached",
    "embedder_from_spec",
    "minilm_model_path",
]
