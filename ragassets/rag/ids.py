"""Stable ids of the rows of the conversation and RAG stages: the first 16 hex digits of SHA-256 over
what makes the row what it is (as ``chunk_id`` and ``question_id``), so re-runs give the same ids."""

from __future__ import annotations

import hashlib

SEP = "\x1f"


def stable_id(kind: str, *parts: object) -> str:
    """Id of a row of ``kind`` made from ``parts`` (their text joined by a separator no text holds)."""
    return hashlib.sha256(SEP.join([kind, *(str(p) for p in parts)]).encode("utf-8")).hexdigest()[:16]
