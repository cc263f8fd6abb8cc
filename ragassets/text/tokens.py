"""Token counting with the tokenizer of the model that will read the text.

Chunks are sized in the tokens of the embedder's tokenizer, not in characters: 1,000 characters of
prose and 1,000 characters of a numeric table are very different lengths to a model, and a chunk
longer than the embedder's window is silently truncated when it is embedded. This module wraps a
Hugging Face ``tokenizers.Tokenizer`` (the fast Rust tokenizer; a local ``tokenizer.json`` or a model
folder) so the chunker can count tokens and cut over-long text at token boundaries.

No network: a tokenizer is loaded from a local path only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer


class TokenizerNotFound(FileNotFoundError):
    """The configured tokenizer path does not hold a usable tokenizer."""


class TokenCounter:
    """Counts tokens of text (no special tokens) and finds token-aligned cut points.

    ``name`` says which tokenizer it is (recorded in metadata so a reader knows what n_tokens means).
    """

    def __init__(self, tokenizer: Tokenizer, name: str):
        tokenizer = Tokenizer.from_str(tokenizer.to_str())  # a private copy: we change its settings
        # tokenizer.json files often carry the model's truncation (e.g. 128) and padding; a counter
        # must see every token and no padding
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tok = tokenizer
        self.name = name

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` without special tokens ([CLS], [SEP], <s>, ...)."""
        if not text:
            return 0
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts of many texts in one call (the Rust tokenizer batches them in parallel)."""
        if not texts:
            return []
        encs = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character (start, end) of every token of ``text``."""
        return [tuple(o) for o in self._tok.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]

    def windows(self, text: str, max_tokens: int, overlap: int = 0) -> list[tuple[int, int]]:
        """Cut ``text`` into character spans of at most ``max_tokens`` tokens each.

        Cuts fall between words where one is available inside the window (never inside a word-piece
        sequence when avoidable); consecutive windows share up to ``overlap`` tokens. Used only for a
        single sentence or table row longer than a whole chunk, where there is no better place to cut.
        """
        if max_tokens <= 0:
            raise ValueError("max_tokens must be positive")
        offsets = self.token_spans(text)
        if not offsets:
            return [(0, len(text))] if text.strip() else []
        overlap = max(0, min(overlap, max_tokens // 2))
        spans: list[tuple[int, int]] = []
        i = 0
        n = len(offsets)
        while i < n:
            j = min(n, i + max_tokens)  # tokens [i, j) in this window
            if j < n:
                # move the cut back to a word boundary: token j starts after whitespace
                k = j
                while k > i + 1 and not _boundary(text, offsets[k - 1][1], offsets[k][0]):
                    k -= 1
                if k > i + 1:
                    j = k
            spans.append((offsets[i][0], offsets[j - 1][1]))
            if j >= n:
                break
            nxt = max(i + 1, j - overlap)
            # start the next window at a word boundary too
            while nxt < j and nxt > i + 1 and not _boundary(text, offsets[nxt - 1][1], offsets[nxt][0]):
                nxt += 1
            i = nxt
        # the first window starts at 0 and the last ends at len(text) so nothing is lost
        if spans:
            spans[0] = (0, spans[0][1])
            spans[-1] = (spans[-1][0], len(text))
        return spans


def _boundary(text: str, prev_end: int, next_start: int) -> bool:
    """True when a cut between two tokens falls between words (whitespace or punctuation gap)."""
    if next_start > prev_end:
        return True  # whitespace between the tokens
    return not (text[prev_end - 1 : prev_end].isalnum() and text[next_start : next_start + 1].isalnum())


def _find_tokenizer_json(path: Path) -> Path | None:
    if path.is_file() and path.name.endswith(".json"):
        return path
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return path / "tokenizer.json"
    return None


@lru_cache(maxsize=8)
def _load(path_str: str) -> TokenCounter:
    path = Path(path_str)
    found = _find_tokenizer_json(path)
    if found is not None:
        return TokenCounter(Tokenizer.from_file(str(found)), name=str(path))
    if path.is_dir():
        # a model folder with only slow-tokenizer files (vocab.txt, spiece.model): let transformers
        # convert it to a fast tokenizer, strictly offline
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers import AutoTokenizer

            hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True, use_fast=True)
        except Exception as exc:  # noqa: BLE001 - transformers raises OSError/ValueError variants
            raise TokenizerNotFound(
                f"could not load a tokenizer from {path}: {exc}. Point chunks.tokenizer at a folder with "
                "tokenizer.json (or a Hugging Face model folder) or at a tokenizer.json file."
            ) from None
        backend = getattr(hf, "backend_tokenizer", None) or getattr(hf, "_tokenizer", None)
        if backend is None:
            raise TokenizerNotFound(
                f"{path} holds a slow tokenizer that cannot be converted to a fast one; "
                "save it with tokenizer.save_pretrained() to get a tokenizer.json"
            )
        return TokenCounter(backend, name=str(path))
    raise TokenizerNotFound(
        f"no tokenizer at {path}: expected a tokenizer.json file or a model folder containing one. "
        "Set chunks.tokenizer to a local path (no downloads are made)."
    )


def load_token_counter(path: str | os.PathLike) -> TokenCounter:
    """The token counter of the tokenizer at ``path`` (a tokenizer.json or a model folder); cached."""
    return _load(str(Path(path).expanduser().resolve()))
