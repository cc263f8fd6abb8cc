"""Retrieval over chunk embeddings: FAISS index build/load and the Retriever. No Dagster import."""

from ragassets.retrieval.index import IndexArtifactError, IndexConfig, build_index, load_index_artifact
from ragassets.retrieval.retriever import Hit, Retriever, self_retrieval

__all__ = [
    "Hit",
    "IndexArtifactError",
    "IndexConfig",
    "Retriever",
    "build_index",
    "load_index_artifact",
    "self_retrieval",
]
