"""Fixtures of the generation tests: the offline embedder, loaded once per session."""

import pytest

from ragassets.embed.providers import MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    emb = MiniLMEmbedder()
    emb.embed_documents(["warm up"])  # load the weights once
    return emb
