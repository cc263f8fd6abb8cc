"""Fixtures of the retrieval tests: MiniLM (loaded once per process) and a small chunks table."""

import polars as pl
import pytest

from ragassets.embed.providers import MiniLMEmbedder

TEXTS = [
    "The number 2 oxygen tank in the service module failed at about 56 hours into the mission.",
    "The crew used the lunar module as a lifeboat during the return to earth.",
    "Carbon dioxide was removed with adapted lithium hydroxide cartridges from the command module.",
    "The spacecraft splashed down in the Pacific Ocean near Samoa on April 17, 1970.",
    "Fuel cells provided electrical power until the oxygen supply was lost.",
    "The third stage of the Saturn V impacted the moon and was recorded by seismometers.",
]


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=32)


@pytest.fixture
def chunks() -> pl.DataFrame:
    n = len(TEXTS)
    return pl.DataFrame(
        {
            "corpus": ["apollo"] * n,
            "chunk_id": [f"c{i:02d}" for i in range(n)],
            "doc_id": ["d1"] * n,
            "seq": list(range(n)),
            "heading_path": [["Report", f"Section {i}"] for i in range(n)],
            "text": TEXTS,
            "n_tokens": [20] * n,
            "char_start": [i * 100 for i in range(n)],
            "char_end": [i * 100 + 90 for i in range(n)],
            "prev_chunk_id": [None] + [f"c{i:02d}" for i in range(n - 1)],
            "next_chunk_id": [f"c{i:02d}" for i in range(1, n)] + [None],
        }
    )
