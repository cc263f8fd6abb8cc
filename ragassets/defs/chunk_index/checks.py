"""Checks on `chunk_index`: the index artifact agrees with the chunks table (each chunk finds itself)."""

import dagster as dg

from ragassets.defs.common import checked_settings, corpus_of
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import IndexArtifactError
from ragassets.retrieval.retriever import Retriever, search_own_texts, self_retrieval_rows
from ragassets.storage import StoredTable


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
    chunks: StoredTable,
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
    # the rows self_retrieval() would sample from the whole table, read alone
    ids = chunks.read(["chunk_id"])["chunk_id"]
    sampled = ids.gather(self_retrieval_rows(ids.len(), s.self_retrieval_sample)).to_list()
    picked = chunks.rows_where("chunk_id", sampled, columns=["chunk_id", "text"])
    res = search_own_texts(retriever, picked, cache=cache)
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
