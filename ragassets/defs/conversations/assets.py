"""`conversations`: multi-turn conversations grounded in a chunk and its related chunks in chunk_index,
each linked to the chunks it came from; exported as conversations.jsonl."""

import dagster as dg
import polars as pl

from ragassets.conversations import generate_conversations
from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.conversations.config import ConversationsConfig
from ragassets.generation.failures import nothing_answered_message
from ragassets.llm import PromptLibrary
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.rag.exports import CONVERSATIONS_FILE, write_conversations
from ragassets.rag.neighbours import ChunkNeighbours
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import IndexArtifactError

OFFLINE_NOTE = (
    "Written by the offline stand-in (questions about the chunk's sentences, answered with those sentences; "
    "not a model). Point the llm resource or corpus.yaml `llm:` at a real model for training data."
)


def chunk_neighbours(storage: StorageResource, corpus: str, chunk_index: pl.DataFrame, chunks: pl.DataFrame):
    """The corpus's chunk_index artifact as neighbour queries; a stale or missing index fails the step."""
    try:
        return ChunkNeighbours.from_artifact(storage.artifact_dir("chunk_index", corpus), chunk_index, chunks)
    except (IndexArtifactError, FileNotFoundError) as exc:
        raise dg.Failure(f"chunk_index of '{corpus}' cannot be used: {exc}") from None


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="conversations",
    kinds={"polars", "parquet"},
    pool="llm",
    description="Multi-turn conversations (2 to 4 user/assistant exchanges by default) grounded in 1 to 3 related "
    "chunks: the chunk plus its nearest neighbours in chunk_index. Columns: corpus, conversation_id, messages (JSON "
    "list of {role, content}), source_chunk_ids (the chunk first), n_turns, provider, model. Exported as "
    "<data root>/exports/<corpus>/conversations.jsonl.",
)
def conversations(
    context: dg.AssetExecutionContext,
    config: ConversationsConfig,
    storage: StorageResource,
    llm: LLMResource,
    chunks: pl.DataFrame,
    chunk_index: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Ask for one conversation per chunk, keep the well-formed ones, write conversations.jsonl."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.conversations
    client = llm.client(context, stage.llm_settings(settings.llm))
    run = generate_conversations(
        corpus, chunks, chunk_neighbours(storage, corpus, chunk_index, chunks), stage, client,
        PromptLibrary(storage.corpus_dir(corpus)), params=client.sampling(temperature=stage.temperature),
        max_repairs=stage.max_repairs,
    )
    if run.nothing_answered:
        raise dg.Failure(nothing_answered_message("conversations", str(dict(run.outcomes))))
    export = write_conversations(storage.export_dir(corpus) / CONVERSATIONS_FILE, run.table)
    context.log.info(f"{corpus}: {run.table.height} conversations from {chunks.height} chunks; {dict(run.outcomes)}")
    metadata = {
        **settings_metadata(settings, config),
        "conversations": run.table.height,
        "turns": int(run.table["n_turns"].sum()) if run.table.height else 0,
        **counts_metadata("outcomes", dict(run.outcomes)),
        "examples_by_reason": dg.MetadataValue.json(run.examples),
        "export": dg.MetadataValue.path(str(export)),
        **llm.record_usage(context, client, asset="conversations"),
    }
    if client.provider.kind == "offline":
        metadata["note"] = dg.MetadataValue.text(OFFLINE_NOTE)
    return dg.Output(run.table, metadata=metadata)
