"""Fixtures of the chunking tests: the default embedder's tokenizer (loaded once, milliseconds)."""

import pytest

from ragassets.embed.minilm import minilm_model_path
from ragassets.text.tokens import TokenCounter, load_token_counter


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return load_token_counter(minilm_model_path())
