"""`chunk_index`: chunk embeddings (a table) and a FAISS index over them (an artifact), for retrieval."""

import dagster as dg

from ragassets.defs.chunk_index.config import ChunkIndexConfig
from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.embed.providers import EmbedderError
from ragassets.partitions import corpus_partitions
from ragassets.resources.embedder import EmbedderResource, embedder_metadata
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.build import build_chunk_index, chunk_text_batches, embeddings_schema
from ragassets.retrieval.index import INDEX_FILE, IndexConfig, export_faiss_dir, write_index_artifact
from ragassets.storage import StagedTable, StoredTable

ASSET = "chunk_index"


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="index",
    kinds={"faiss", "polars", "parquet"},
    description=(
        "One embedding per chunk (corpus, chunk_id, vector; unit-length float32) and a FAISS inner-product "
        "index with its id map under <data root>/artifacts/chunk_index/<corpus>/ (exact for small corpora, "
        "HNSW/IVF above a threshold, with measured recall@10). Unchanged chunks come from the embedding "
        "cache. Exported to <data root>/exports/<corpus>/faiss_index/."
    ),
)
def chunk_index(
    context: dg.AssetExecutionContext,
    config: ChunkIndexConfig,
    storage: StorageResource,
    embedder: EmbedderResource,
    chunks: StoredTable,
) -> dg.Output[StagedTable]:
    """Embed the chunks (cached) a batch at a time into the embeddings table, build and write the index
    atomically (it holds every vector), export it."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    emb = embedder.for_corpus(settings)
    batches = chunk_text_batches(chunks.batches(columns=["chunk_id", "text"]))
    try:
        with storage.table_writer(ASSET, corpus, embeddings_schema(emb.dim)) as out:
            build = build_chunk_index(
                corpus, batches, emb, embedder.cache(storage.root, settings),
                IndexConfig.from_settings(settings.embedder), rows=chunks.num_rows, write=out.write,
            )
    except EmbedderError as exc:
        raise dg.Failure(f"embedding the chunks of '{corpus}' failed: {exc}") from None
    staged = out.close()
    try:
        directory = storage.artifact_dir(ASSET, corpus)
        manifest = write_index_artifact(directory, build.index, build.ids, emb.spec(), build.info)
        export = export_faiss_dir(directory, storage.export_dir(corpus) / "faiss_index")
    except BaseException:
        staged.discard()
        raise
    index_file = manifest["files"][INDEX_FILE]
    context.log.info(
        f"{corpus}: {len(build.ids)} vectors ({build.cache.hits} from cache), {build.info['index_type']} index, "
        f"embedded in {build.embed_seconds:.1f}s"
    )
    metadata = {
        **settings_metadata(settings, config),
        **embedder_metadata(emb),
        "index_type": build.info["index_type"],
        "vectors": len(build.ids),
        "index_path": dg.MetadataValue.path(str(directory / INDEX_FILE)),
        "index_bytes": index_file["bytes"],
        "index_sha256": index_file["sha256"],
        "export": dg.MetadataValue.path(str(export)),
        "cache_hits": build.cache.hits,
        "cache_misses": build.cache.misses,
        "embed_seconds": round(build.embed_seconds, 3),
        "index_seconds": round(build.index_seconds, 3),
        "chunks_per_second": round(len(build.ids) / build.embed_seconds, 1) if build.embed_seconds > 0 else None,
    }
    if "recall_at_10" in build.info:
        metadata["recall_at_10"] = round(build.info["recall_at_10"], 4)
        metadata["recall_sample"] = build.info["recall_sample"]
    return dg.Output(staged, metadata={k: v for k, v in metadata.items() if v is not None})
