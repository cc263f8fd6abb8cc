"""Checks on `chunk_index`: the index artifact agrees with the chunks table (each chunk finds itself)."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings, corpus_of
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import IndexArtifactError
from ragassets.retrieval.retriever import Retriever
from ragassets.retrieval.retriever import self_retrieval as measure_self_retrieval


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
    settings = checked_settings(context, storage.root, "chunk_index")
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
