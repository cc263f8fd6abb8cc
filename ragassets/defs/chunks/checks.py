"""Checks on `chunks`: nothing empty, nothing lost, sizes the embedder can read, no residual PII."""

import dagster as dg
import polars as pl

from ragassets.defs.chunks.assets import UPSTREAM
from ragassets.defs.common import checked_settings
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.storage import StoredTable
from ragassets.text.chunking import document_coverage


@dg.asset_check(
    asset="chunks",
    blocking=True,
    description="Every chunk has text: an empty chunk would be embedded, indexed and asked about.",
)
def chunks_not_empty(chunks: StoredTable) -> dg.AssetCheckResult:
    n_empty, empty_ids = 0, []
    for batch in chunks.batches(columns=["chunk_id", "text"]):
        empty = batch.filter(pl.col("text").is_null() | (pl.col("text").str.strip_chars() == ""))
        n_empty += empty.height
        empty_ids.extend(empty["chunk_id"].head(20 - len(empty_ids)).to_list())
    return dg.AssetCheckResult(
        passed=n_empty == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if n_empty == 0 else f"{n_empty} empty chunk(s)",
        metadata={"chunks": chunks.num_rows, "empty": n_empty, "empty_chunk_ids": dg.MetadataValue.json(empty_ids)},
    )


@dg.asset_check(
    asset="chunks",
    description="No chunk is longer than the embedder's window (it would be truncated when embedded); "
    "counts chunks over chunk_size too (whole tables and code blocks may use the window).",
)
def chunk_sizes_within_bounds(
    context: dg.AssetCheckExecutionContext,
    chunks: StoredTable,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    settings = checked_settings(context, storage.root, "chunks")
    window = embedder.for_corpus(settings).max_tokens
    size = settings.chunks.chunk_size
    n_tokens = chunks.read(["n_tokens"])["n_tokens"]  # one integer a chunk
    over_size = int((n_tokens > size).sum())
    over_window = int((n_tokens > window).sum()) if window else 0
    return dg.AssetCheckResult(
        passed=over_window == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if over_window == 0
        else f"{over_window} chunk(s) longer than the embedder's window ({window} tokens) are truncated when "
        "embedded: lower chunks.chunk_size or use an embedder with a longer window",
        metadata={
            "chunk_size": size,
            "embedder_window_tokens": window or 0,
            "over_chunk_size": over_size,
            "over_window": over_window,
            "tokens_max": int(n_tokens.max() or 0) if n_tokens.len() else 0,
        },
    )


@dg.asset_check(
    asset="chunks",
    additional_ins={"documents": dg.AssetIn(UPSTREAM)},
    blocking=True,
    description="Chunks cover at least chunks.min_coverage (99 %) of each document's non-space characters: "
    "below that, content was lost between the documents and the chunks.",
)
def chunks_cover_documents(
    context: dg.AssetCheckExecutionContext,
    chunks: StoredTable,
    documents: StoredTable,
    storage: StorageResource,
) -> dg.AssetCheckResult:
    threshold = checked_settings(context, storage.root, "chunks").chunks.min_coverage
    # the chunks' spans are three small columns; the documents' texts come a batch at a time
    cov = document_coverage(
        documents.batches(columns=["doc_id", "text"]), chunks.read(["doc_id", "char_start", "char_end"])
    )
    low = {doc_id: round(c, 4) for doc_id, c in sorted(cov.items(), key=lambda kv: kv[1]) if c < threshold}
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not low else f"content lost: {len(low)} document(s) below {threshold:.0%} coverage",
        metadata={
            "documents": len(cov),
            "min_coverage": round(min(cov.values()), 4) if cov else 1.0,
            "threshold": threshold,
            "documents_below": len(low),
            "lowest": dg.MetadataValue.json(dict(list(low.items())[:20])),
        },
    )


chunks_no_residual_pii = no_residual_pii_check(asset="chunks", text_columns=["text"])
