"""`chunks`: the redacted documents cut where a person would, sized for the embedder that reads them."""

import dagster as dg

from ragassets.defs.chunks.config import ChunksConfig
from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.embed.sizing import chunker_for
from ragassets.partitions import corpus_partitions
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.build import chunks_jsonl_writer
from ragassets.storage import StagedTable, StoredTable
from ragassets.text.chunking import CHUNKS_SCHEMA, ChunkStats, ChunkSummary, chunk_batches
from ragassets.text.tokens import TokenizerNotFound

UPSTREAM = "redacted_documents"


@dg.asset(
    ins={"documents": dg.AssetIn(UPSTREAM)},
    partitions_def=corpus_partitions,
    group_name="chunks",
    kinds={"polars", "parquet"},
    description=(
        "Chunks of the redacted documents, split by Markdown headings, then paragraphs, then sentences; "
        "tables and code kept whole (large tables split by rows, header repeated); sized in tokens of the "
        "embedder's tokenizer. chunk_id = hash of (doc_id, position, text); offsets into the redacted text. "
        "Also exported as <data root>/exports/<corpus>/chunks.jsonl."
    ),
)
def chunks(
    context: dg.AssetExecutionContext,
    config: ChunksConfig,
    storage: StorageResource,
    embedder: EmbedderResource,
    documents: StoredTable,
) -> dg.Output[StagedTable]:
    """Chunk the redacted documents a batch at a time (about BATCH_BYTES of text) into the table and
    the JSONL export, so memory follows the batch, not the corpus."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    try:
        chunker, sizing = chunker_for(settings.chunks, embedder.for_corpus(settings))
    except TokenizerNotFound as exc:
        raise dg.Failure(str(exc)) from None
    stats, summary = ChunkStats(), ChunkSummary()
    export = storage.export_dir(corpus) / "chunks.jsonl"
    batches = documents.batches(columns=["corpus", "doc_id", "text"])
    with storage.table_writer("chunks", corpus, CHUNKS_SCHEMA) as out, chunks_jsonl_writer(export) as to_jsonl:
        for table in chunk_batches(batches, chunker, stats, summary):
            out.write(table)
            to_jsonl(table)
    figures = summary.figures(stats)
    context.log.info(
        f"{corpus}: {documents.num_rows} documents -> {figures['chunks']} chunks "
        f"(p50 {figures['tokens_p50']} tokens, max {figures['tokens_max']}; tokenizer {sizing['tokenizer']})"
    )
    return dg.Output(
        out.close(),
        metadata={
            **settings_metadata(settings, config),
            **figures,
            **{k: v for k, v in sizing.items() if v is not None},
            "export": dg.MetadataValue.path(str(export)),
        },
    )
