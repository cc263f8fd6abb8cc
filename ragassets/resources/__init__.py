"""Dagster resources. ``RESOURCES`` is what definitions.py binds; each stage adds its resource here."""

from __future__ import annotations

from typing import Any


def build_resources() -> dict[str, Any]:
    """The resources every definition may ask for, by name."""
    from ragassets.resources.embedder import EmbedderResource
    from ragassets.resources.llm import LLMResource
    from ragassets.resources.pii import PiiResource
    from ragassets.resources.storage import ParquetIOManager, StorageResource

    resources: dict[str, Any] = {
        "io_manager": ParquetIOManager(),
        "storage": StorageResource(),
        # LLM roles (ragassets/resources/llm.py): offline by default; corpus.yaml llm:/small_llm: override
        "llm": LLMResource(role="llm"),
        "small_llm": LLMResource(role="small_llm"),
        # embeddings of chunks and queries (ragassets/resources/embedder.py): offline MiniLM by default
        "embedder": EmbedderResource(),
        # PII detection and redaction (ragassets/resources/pii.py): Presidio offline, one engine per process
        "pii": PiiResource(),
    }
    return resources
