"""Sliding windows over the chunks of each document: the context a question is written from.

A question is about one chunk (the *current* one); the ``window`` chunks before and after it in the
same document are given as context, so a question can use a name introduced one chunk earlier
without being about that chunk. AutoDidact builds (previous, current, next) triples and skips the
first and last chunk of a document, which loses the opening and the conclusion of every document.
Here those chunks get a one-sided window instead: the first chunk has no previous text, the last
no next text, and a one-chunk document has neither.

Windows never cross documents: the end of one report is no context for the start of another.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

REQUIRED = ("chunk_id", "doc_id", "seq", "text")
JOINER = "\n\n"


@dataclass(frozen=True)
class ChunkWindow:
    """The current chunk and its neighbours (texts joined with blank lines; "" when there are none)."""

    chunk_id: str
    doc_id: str
    previous: str
    current: str
    next: str
    previous_ids: tuple[str, ...]
    next_ids: tuple[str, ...]

    @property
    def text(self) -> str:
        """All of the window's text, in document order (what an answer may be grounded in)."""
        return JOINER.join(t for t in (self.previous, self.current, self.next) if t)

    @property
    def chunk_ids(self) -> tuple[str, ...]:
        return (*self.previous_ids, self.chunk_id, *self.next_ids)


def build_windows(chunks: pl.DataFrame, window: int = 1) -> list[ChunkWindow]:
    """One window per chunk, in document order then chunk order (``seq``).

    ``window`` is how many chunks on each side are context (0: the chunk alone). Documents keep the
    order of their first appearance in ``chunks``.
    """
    missing = [c for c in REQUIRED if c not in chunks.columns]
    if missing:
        raise ValueError(f"chunks table lacks column(s) {missing}; expected {', '.join(REQUIRED)}")
    if window < 0:
        raise ValueError(f"window must be 0 or more chunks on each side, got {window}")
    doc_order: dict[str, int] = {}
    for doc_id in chunks["doc_id"].to_list():
        doc_order.setdefault(doc_id, len(doc_order))
    by_doc: dict[str, list[tuple[int, str, str]]] = {}
    for cid, doc_id, seq, text in chunks.select(*REQUIRED).iter_rows():
        by_doc.setdefault(doc_id, []).append((int(seq), cid, text or ""))
    out: list[ChunkWindow] = []
    for doc_id in sorted(by_doc, key=doc_order.__getitem__):
        rows = sorted(by_doc[doc_id])
        for i, (_, cid, text) in enumerate(rows):
            before = rows[max(0, i - window) : i] if window else []
            after = rows[i + 1 : i + 1 + window] if window else []
            out.append(
                ChunkWindow(
                    chunk_id=cid,
                    doc_id=doc_id,
                    previous=JOINER.join(t for _, _, t in before),
                    current=text,
                    next=JOINER.join(t for _, _, t in after),
                    previous_ids=tuple(c for _, c, _ in before),
                    next_ids=tuple(c for _, c, _ in after),
                )
            )
    return out
