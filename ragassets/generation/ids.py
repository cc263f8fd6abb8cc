"""Stable ids of generated rows: paraphrases and questions.

Like ``chunk_id``, an id is the first 16 hex digits of SHA-256 over what makes the row what it is,
so ids are the same across re-runs (answers come from the LLM cache) and join across assets:

- ``paraphrase_id`` = hash(chunk_id, variant, text): variant ``v`` is the v-th paraphrase asked for;
  the text is part of it, so a paraphrase by another model is another row, never a silent overwrite.
- ``question_id`` = hash(chunk_id, question text): the same question asked of the same chunk is the
  same row whatever position the model put it in; two chunks asking the same question are two rows
  (and the dedup step decides which one stays).
"""

from __future__ import annotations

import hashlib

SEP = "\x1f"


def _digest(*parts: object) -> str:
    return hashlib.sha256(SEP.join(str(p) for p in parts).encode("utf-8")).hexdigest()[:16]


def paraphrase_id(chunk_id: str, variant: int, text: str) -> str:
    """Id of the ``variant``-th paraphrase of chunk ``chunk_id``."""
    return _digest("paraphrase", chunk_id, int(variant), text)


def question_id(chunk_id: str, question: str) -> str:
    """Id of a question generated from chunk ``chunk_id`` (whitespace-insensitive)."""
    return _digest("question", chunk_id, " ".join(question.split()))
