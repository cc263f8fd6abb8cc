"""`chunks`: the redacted documents cut where a person would, sized for the embedder that reads them."""

import dagster as dg
import polars as pl

from ragassets.defs.chunks.config import ChunksConfig
from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.embed.sizing import chunker_for
from ragassets.partitions import corpus_partitions
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.build import write_chunks_jsonl
from ragassets.text.chunking import ChunkStats, chunk_frame, summarize_chunks
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
    documents: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Chunk every redacted document of the corpus and export the chunks as JSONL."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    try:
        chunker, sizing = chunker_for(settings.chunks, embedder.for_corpus(settings))
    except TokenizerNotFound as exc:
        raise dg.Failure(str(exc)) from None
    stats = ChunkStats()
    table = chunk_frame(documents, chunker, stats)
    export = write_chunks_jsonl(table, storage.export_dir(corpus) / "chunks.jsonl")
    summary = summarize_chunks(documents, table, stats)
    context.log.info(
        f"{corpus}: {documents.height} documents -> {table.height} chunks "
        f"(p50 {summary['tokens_p50']} tokens, max {summary['tokens_max']}; tokenizer {sizing['tokenizer']})"
    )
    return dg.Output(
        table,
        metadata={
            **settings_metadata(settings, config),
            **summary,
            **{k: v for k, v in sizing.items() if v is not None},
            "export": dg.MetadataValue.path(str(export)),
        },
    )
