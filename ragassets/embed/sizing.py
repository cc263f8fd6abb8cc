"""Which tokenizer and window size chunks are measured against: the embedder's, unless configured."""

from __future__ import annotations

from typing import Any

from ragassets.embed.minilm import minilm_model_path
from ragassets.embed.providers import Embedder
from ragassets.text.chunking import Chunker
from ragassets.text.tokens import load_token_counter


def chunker_for(chunks: Any, embedder: Embedder) -> tuple[Chunker, dict[str, Any]]:
    """A :class:`Chunker` for ``chunks`` (a ChunksSettings) sized for ``embedder``, and what it chose.

    The tokenizer is ``chunks.tokenizer`` when set, else the embedder's own; for a provider that has
    no local tokenizer (an OpenAI-compatible server) MiniLM's WordPiece is used and the choice is
    reported as approximate. The window is the embedder's (tables and code blocks may fill it).
    """
    approximate = False
    if chunks.tokenizer:
        path = chunks.tokenizer
    elif embedder.tokenizer_path is not None:
        path = embedder.tokenizer_path
    else:
        path = minilm_model_path()
        approximate = True
    counter = load_token_counter(path)
    window = embedder.max_tokens
    chunker = Chunker(counter, chunks.chunk_size, chunks.chunk_overlap, max_tokens=window)
    info = {
        "tokenizer": str(path),
        "tokenizer_is_approximate": approximate,
        "embedder_window_tokens": window,
        "chunk_size": chunks.chunk_size,
        "chunk_overlap": chunks.chunk_overlap,
    }
    return chunker, info
