"""The ``documents`` and ``rejected_documents`` tables, whole or a batch of documents at a time.

No Dagster import: the ``documents`` asset hands :class:`DocumentBatches` to
:func:`~ragassets.ingest.corpus.ingest_corpus` and writes each batch it fills as Parquet row groups.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import polars as pl

from ragassets import storage
from ragassets.ingest.corpus import IngestResult
from ragassets.ingest.readers import Document

DOCUMENTS_SCHEMA = {
    "corpus": pl.String,
    "doc_id": pl.String,
    "source_path": pl.String,
    "format": pl.String,
    "title": pl.String,
    "text": pl.String,
    "n_chars": pl.Int64,
    "metadata": pl.String,
}
REJECTED_SCHEMA = {"corpus": pl.String, "source_path": pl.String, "reason": pl.String, "detail": pl.String}


def document_row(corpus: str, d: Document) -> dict:
    """One row of the documents table."""
    return {
        "corpus": corpus,
        "doc_id": d.doc_id,
        "source_path": d.source_path,
        "format": d.format,
        "title": d.title,
        "text": d.text,
        "n_chars": len(d.text),
        "metadata": json.dumps(d.metadata, ensure_ascii=False, sort_keys=True, default=str),
    }


def documents_frame(corpus: str, result: IngestResult) -> pl.DataFrame:
    """The documents table of an ingest that kept its documents."""
    return pl.DataFrame([document_row(corpus, d) for d in result.documents], schema=DOCUMENTS_SCHEMA)


def rejected_frame(corpus: str, result: IngestResult) -> pl.DataFrame:
    rows = [{"corpus": corpus, "source_path": r.source_path, "reason": r.reason, "detail": r.detail}
            for r in result.rejections]
    return pl.DataFrame(rows, schema=REJECTED_SCHEMA)


class DocumentBatches:
    """Gathers documents as they are read into frames of about ``target_bytes`` of text (default
    ``ragassets.storage.BATCH_BYTES``), hands each full frame to ``write``, and keeps the running
    counts the asset's metadata shows (documents, characters, formats).

    Call it with each document (it is the ``on_document`` of ``ingest_corpus``), then :meth:`flush`.
    """

    def __init__(self, corpus: str, write: Callable[[pl.DataFrame], None], target_bytes: int | None = None):
        self.corpus = corpus
        self.write = write
        self.target_bytes = target_bytes or storage.BATCH_BYTES
        self.documents = 0
        self.total_chars = 0
        self.formats: Counter[str] = Counter()
        self.batches = 0
        self._rows: list[dict] = []
        self._pending_bytes = 0

    def __call__(self, document: Document) -> None:
        row = document_row(self.corpus, document)
        self._rows.append(row)
        self._pending_bytes += len(document.text.encode("utf-8")) + len(row["metadata"])
        self.documents += 1
        self.total_chars += row["n_chars"]
        self.formats[document.format] += 1
        if self._pending_bytes >= self.target_bytes:
            self.flush()

    def flush(self) -> None:
        """Write what is gathered (nothing when empty)."""
        if self._rows:
            self.write(pl.DataFrame(self._rows, schema=DOCUMENTS_SCHEMA))
            self.batches += 1
        self._rows, self._pending_bytes = [], 0
