"""The RAG training data, augmentoolkit-style: which chunks are suitable (small model, structured
verdict), the frozen retrieval simulation, and question/answer pairs grouped into axolotl lines whose
loss mask trains only the current pair."""

from typing import Any

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.conversations.assets import chunk_neighbours
from ragassets.defs.rag.config import ChunkSuitabilityConfig, RagConversationsConfig, RagPreparedConfig
from ragassets.generation.failures import nothing_answered_message
from ragassets.llm import PromptLibrary
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.rag.answers import context_chunks, generate_rag_conversations
from ragassets.rag.chat_format import ChatFormatError, resolve_chat_format
from ragassets.rag.exports import (
    AXOLOTL_FILE,
    MESSAGES_FILE,
    RAG_PREPARED_FILE,
    write_axolotl,
    write_messages,
    write_rag_prepared,
)
from ragassets.rag.simulate import prepare_rag, simulation_stats
from ragassets.rag.suitability import keep_everything, nothing_kept_message, reason_counts, screen_chunks
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource
from ragassets.settings import Settings


def base_model_of(settings: Settings) -> str:
    """``training.base_model``: the model whose chat template the segments follow by default."""
    return settings.training.base_model


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="rag",
    kinds={"polars", "parquet"},
    pool="llm",
    description="Per chunk: suitable (bool) and a one-line reason, from the small_llm role by structured output "
    "(an enum, never a word searched for in the reply). rag.skip_filter_chunks: true keeps every chunk unasked.",
)
def chunk_suitability(
    context: dg.AssetExecutionContext,
    config: ChunkSuitabilityConfig,
    storage: StorageResource,
    small_llm: LLMResource,
    chunks: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Screen every chunk with the small model, or keep them all when the filter is skipped."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    metadata: dict[str, Any] = settings_metadata(settings, config)
    if settings.rag.skip_filter_chunks:
        table = keep_everything(corpus, chunks)
    else:
        client = small_llm.client(context, settings)
        table = screen_chunks(corpus, chunks, client, PromptLibrary(storage.corpus_dir(corpus)))
        metadata.update(small_llm.record_usage(context, client, asset="chunk_suitability"))
    kept = int(table["suitable"].sum())
    context.log.info(f"{corpus}: {kept} of {table.height} chunks suitable; not kept: {reason_counts(table, 5)}")
    metadata.update({
        "suitable": kept,
        "not_suitable": table.height - kept,
        "skipped_filter": settings.rag.skip_filter_chunks,
        "reasons_not_suitable": dg.MetadataValue.json(dict(reason_counts(table, 20))),
    })
    return dg.Output(table, metadata=metadata)


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="rag",
    kinds={"polars", "parquet"},
    description="The frozen retrieval simulation (augmentoolkit's rag_prepared_data.jsonl, also exported under that "
    "name): per suitable chunk, rag_failed (probability rag.rag_failure_percentage), and the chunks a retrieval "
    "shows (n in 1..rag.rag_max_chunks: the chunk plus n-1 others on success, n others on failure), others random "
    "or hard negatives from chunk_index; seeded by rag.seed. Stored so re-runs of rag_conversations reuse it.",
)
def rag_prepared(
    context: dg.AssetExecutionContext,
    config: RagPreparedConfig,
    storage: StorageResource,
    chunks: pl.DataFrame,
    chunk_index: pl.DataFrame,
    chunk_suitability: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Draw the simulation for the kept chunks; fail with the filter's reasons when it kept none."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    kept = chunk_suitability.filter(pl.col("suitable"))["chunk_id"].to_list()
    if not kept:
        raise dg.Failure(nothing_kept_message(chunk_suitability))
    negatives = None
    if settings.rag.distractors == "hard_negative":
        negatives = chunk_neighbours(storage, corpus, chunk_index, chunks).hard_negatives
    table = prepare_rag(corpus, kept, chunks, settings.rag, hard_negatives=negatives)
    export = write_rag_prepared(storage.export_dir(corpus) / RAG_PREPARED_FILE, table, context_chunks(chunks))
    stats = simulation_stats(table)
    return dg.Output(table, metadata={
        **settings_metadata(settings, config),
        "items": stats["items"],
        "failure_share": round(stats["failure_share"], 4),
        "mean_chunks": round(stats["mean_chunks"], 3),
        **counts_metadata("n_chunks", {str(k): v for k, v in table.group_by("n_chunks").len().iter_rows()}),
        "export": dg.MetadataValue.path(str(export)),
    })


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="rag",
    kinds={"polars", "parquet"},
    pool="llm",
    description="Question/answer pairs written against the simulated retrieval (answers use the context on success, "
    "come from the source on failure), grouped by rag.num_items_per_group: one row per line, with its axolotl "
    "segments (only its own pair labelled) and the item as OpenAI messages (context in the system message). "
    "Exported as axolotl_rag_conversations.jsonl (axolotl type: input_output, train_on_inputs: false) and "
    "rag_conversations.messages.jsonl.",
)
def rag_conversations(
    context: dg.AssetExecutionContext,
    config: RagConversationsConfig,
    storage: StorageResource,
    llm: LLMResource,
    chunks: pl.DataFrame,
    rag_prepared: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Ask for a pair per prepared item, group the items, write both exports."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.rag
    try:
        fmt = resolve_chat_format(stage, base_model_of(settings))
    except ChatFormatError as exc:
        raise dg.Failure(str(exc)) from None
    client = llm.client(context, stage.llm_settings(settings.llm))
    run = generate_rag_conversations(
        corpus, rag_prepared, chunks, stage, fmt, client, PromptLibrary(storage.corpus_dir(corpus)),
        params=client.sampling(temperature=stage.temperature),
    )
    if run.nothing_answered:
        raise dg.Failure(nothing_answered_message("rag_conversations", str(dict(run.batch.failures))))
    out = storage.export_dir(corpus)
    axolotl = write_axolotl(out / AXOLOTL_FILE, run.table)
    messages = write_messages(out / MESSAGES_FILE, run.table)
    return dg.Output(run.table, metadata={
        **settings_metadata(settings, config),
        "lines": run.table.height,
        "groups": run.table["group_id"].n_unique() if run.table.height else 0,
        "failure_share": round(float(run.table["rag_failed"].mean()), 4) if run.table.height else 0.0,
        **counts_metadata("items_without_pair", dict(run.batch.failures)),
        "chat_format": dg.MetadataValue.json(fmt.as_dict()),
        "export_axolotl": dg.MetadataValue.path(str(axolotl)),
        "export_messages": dg.MetadataValue.path(str(messages)),
        **llm.record_usage(context, client, asset="rag_conversations"),
    })
