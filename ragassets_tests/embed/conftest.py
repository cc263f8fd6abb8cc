"""Fixtures of the embedding tests: the offline MiniLM (loaded once per process) and a fake embedder."""

import hashlib

import numpy as np
import pytest

from ragassets.embed.providers import Embedder, MiniLMEmbedder


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=32)


class HashEmbedder(Embedder):
    """A deterministic stand-in: a text's vector is seeded by its hash. Counts what it embeds."""

    provider = "fake"

    def __init__(self, model: str = "hash-16", dim: int = 16, batch_size: int = 4):
        self.model = model
        self._dim = dim
        self.batch_size = batch_size
        self.embedded: list[str] = []

    @property
    def dim(self) -> int:
        return self._dim

    def _embed_batch(self, texts, kind):
        self.embedded.extend(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(f"{kind}:{t}".encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(self._dim))
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()
