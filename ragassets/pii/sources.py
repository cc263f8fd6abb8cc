"""Which redacted document a derived row (a chunk, a question, a conversation) comes from, so the
residual-PII gate can judge it in that document (see :mod:`ragassets.pii.residual`).

No Presidio import: the Dagster gate (``ragassets.defs.pii_gate``) imports this when the code location
loads, and Presidio, spaCy and torch must only load in a step that analyses text.
"""

from __future__ import annotations

import polars as pl

from ragassets.storage import StoredTable

#: the table every derived text is cut or written from, and the one that says which document a chunk is of
SOURCE_TABLE = "redacted_documents"
CHUNKS_TABLE = "chunks"


def row_sources(
    asset: str, table: pl.DataFrame, documents: pl.DataFrame | None, chunks: pl.DataFrame | None = None
) -> tuple[list[str | None] | None, str]:
    """Per row of ``asset``'s ``table``, the redacted document text it comes from (None where unknown: the
    row is then judged alone), and how it was found (for the metadata). Rows name their document by
    ``doc_id``, or by ``chunk_id`` or ``source_chunk_ids`` (a conversation, written from several chunks:
    judged in the documents of all of them) through ``chunks``. ``documents``: redacted_documents. No
    sources for the documents themselves."""
    if asset == SOURCE_TABLE:
        return None, "none: the documents themselves"
    if documents is None:
        return None, f"none: {SOURCE_TABLE} is not materialized, rows judged alone"
    doc_text = dict(
        zip(documents["doc_id"].cast(pl.String).to_list(), documents["text"].to_list(), strict=True)
    )
    if "doc_id" in table.columns:
        return [_documents_text([d], doc_text) for d in table["doc_id"].cast(pl.String).to_list()], "doc_id"
    if "chunk_id" in table.columns:
        chunk_lists = [[c] for c in table["chunk_id"].cast(pl.String).to_list()]
        how = "chunk_id -> chunks.doc_id"
    elif "source_chunk_ids" in table.columns:
        chunk_lists = [list(ids or []) for ids in table["source_chunk_ids"].to_list()]
        how = "source_chunk_ids -> chunks.doc_id (every document a row was written from)"
    else:
        return None, "none: no doc_id, chunk_id or source_chunk_ids column, rows judged alone"
    if chunks is None:
        return None, f"none: {CHUNKS_TABLE} is not materialized, rows judged alone"
    chunk_doc = dict(
        zip(
            chunks["chunk_id"].cast(pl.String).to_list(),
            chunks["doc_id"].cast(pl.String).to_list(),
            strict=True,
        )
    )
    return [_documents_text([chunk_doc.get(c) for c in ids], doc_text) for ids in chunk_lists], how


def _documents_text(doc_ids: list[str | None], doc_text: dict[str, str]) -> str | None:
    """The texts of these documents joined, or None when there are none or one is unknown."""
    texts = [doc_text.get(d) if d is not None else None for d in dict.fromkeys(doc_ids)]
    return "\n\n".join(texts) if texts and None not in texts else None  # type: ignore[arg-type]


def batch_sources(
    asset: str,
    batch: pl.DataFrame,
    documents: StoredTable | None,
    chunk_doc: pl.DataFrame | None,
) -> tuple[list[str | None] | None, str]:
    """:func:`row_sources` for one batch of rows, reading only the documents the batch comes from."""
    if asset == SOURCE_TABLE or documents is None:
        return row_sources(asset, batch, None, chunk_doc)
    if "doc_id" in batch.columns:
        doc_ids = batch["doc_id"].cast(pl.String).unique().to_list()
    else:
        if "chunk_id" in batch.columns:
            chunk_ids = batch["chunk_id"].cast(pl.String).unique().to_list()
        elif "source_chunk_ids" in batch.columns:
            chunk_ids = batch["source_chunk_ids"].explode().drop_nulls().cast(pl.String).unique().to_list()
        else:
            chunk_ids = []
        doc_ids = (
            chunk_doc.filter(pl.col("chunk_id").is_in(chunk_ids))["doc_id"].unique().to_list()
            if chunk_doc is not None
            else []
        )
    sources = documents.rows_where("doc_id", doc_ids, ["doc_id", "text"])
    return row_sources(asset, batch, sources, chunk_doc)
