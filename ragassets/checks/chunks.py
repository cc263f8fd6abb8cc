"""Checks on `chunks` and `chunk_index`: nothing empty, nothing lost, sizes the embedder can read,
and an index that agrees with its table."""

import dagster as dg
import polars as pl

from ragassets.assets._common import corpus_of, corpus_settings
from ragassets.assets.chunks import UPSTREAM
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import IndexArtifactError
from ragassets.retrieval.retriever import Retriever
from ragassets.retrieval.retriever import self_retrieval as measure_self_retrieval
from ragassets.text.chunking import document_coverage


@dg.asset_check(
    asset="chunks",
    blocking=True,
    description="Every chunk has text: an empty chunk would be embedded, indexed and asked about.",
)
def chunks_not_empty(chunks: pl.DataFrame) -> dg.AssetCheckResult:
    empty = chunks.filter(pl.col("text").is_null() | (pl.col("text").str.strip_chars() == ""))
    return dg.AssetCheckResult(
        passed=empty.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if empty.height == 0 else f"{empty.height} empty chunk(s)",
        metadata={"chunks": chunks.height, "empty": empty.height,
                  "empty_chunk_ids": dg.MetadataValue.json(empty["chunk_id"].head(20).to_list())},
    )


@dg.asset_check(
    asset="chunks",
    description="No chunk is longer than the embedder's window (it would be truncated when embedded); "
    "counts chunks over chunk_size too (whole tables and code blocks may use the window).",
)
def chunk_sizes_within_bounds(
    context: dg.AssetCheckExecutionContext,
    chunks: pl.DataFrame,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    settings = corpus_settings(context, storage.root)
    window = embedder.for_corpus(settings).max_tokens
    size = settings.chunks.chunk_size
    over_size = chunks.filter(pl.col("n_tokens") > size).height
    over_window = chunks.filter(pl.col("n_tokens") > window).height if window else 0
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
            "tokens_max": int(chunks["n_tokens"].max() or 0) if chunks.height else 0,
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
    chunks: pl.DataFrame,
    documents: pl.DataFrame,
    storage: StorageResource,
) -> dg.AssetCheckResult:
    threshold = corpus_settings(context, storage.root).chunks.min_coverage
    cov = document_coverage(documents, chunks)
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


@dg.asset_check(
    asset="chunk_index",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    blocking=True,
    description="A sample of chunks (embedder.self_retrieval_sample), each searched in the index artifact by its "
    "own text, finds itself at rank 1: 99 % passes, below 95 % is an ERROR (the index and the chunks table "
    "disagree). For a symmetric embedder (MiniLM) the query vectors come from the embedding cache.",
)
def self_retrieval(
    context: dg.AssetCheckExecutionContext,
    chunks: pl.DataFrame,
    storage: StorageResource,
    embedder: EmbedderResource,
) -> dg.AssetCheckResult:
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root)
    s = settings.embedder
    try:
        retriever = Retriever.load(corpus, storage.root, embedder.for_corpus(settings))
    except IndexArtifactError as exc:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(exc))
    cache = embedder.cache(storage.root, settings)  # a symmetric embedder's query vectors are cached
    res = measure_self_retrieval(retriever, chunks, sample=s.self_retrieval_sample, cache=cache)
    rate = res["rate"]
    severity = dg.AssetCheckSeverity.ERROR if rate < s.self_retrieval_error_below else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        passed=rate >= s.self_retrieval_min,
        severity=severity,
        description=None if rate >= s.self_retrieval_min else f"only {rate:.1%} of sampled chunks find themselves",
        metadata={
            "rate": round(rate, 4),
            "sampled": res["sampled"],
            "found": res["found"],
            "threshold": s.self_retrieval_min,
            "error_below": s.self_retrieval_error_below,
            "index_type": retriever.manifest.get("index_type", ""),
            "misses": dg.MetadataValue.json(res["misses"]),
        },
    )
