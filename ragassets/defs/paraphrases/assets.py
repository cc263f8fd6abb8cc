"""`paraphrased_chunks` and `paraphrase_index`: every chunk reworded by the LLM, and a FAISS index
over the rewordings, so a model can learn to find the original chunk from reworded input."""

import json
from pathlib import Path

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.paraphrases.config import ParaphraseConfig
from ragassets.generation.embedding import EmbedderMismatch, document_embed_fn, ensure_same_embedder
from ragassets.generation.failures import nothing_answered_message
from ragassets.generation.paraphrase import generate_paraphrases
from ragassets.generation.paraphrase_index import export_index_dir, write_paraphrase_index
from ragassets.llm import PromptLibrary
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.embedder import EmbedderResource, embedder_metadata
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource
from ragassets.retrieval.index import (
    EMBEDDER_FILE,
    INDEX_FILE,
    IndexArtifactError,
    IndexConfig,
    read_manifest,
)
from ragassets.storage import file_sha256

OFFLINE_NOTE = (
    "Written by the offline stand-in (the sentences of each paragraph in another order, not a model). "
    "Point the llm resource or corpus.yaml `llm:` at a real model for training data."
)


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="paraphrases",
    kinds={"polars", "parquet"},
    pool="llm",
    description="n_paraphrases rewordings of every chunk by the `llm` resource (every fact kept, wording and "
    "sentence structure changed, nothing added). Noise for retrieval training; questions never use them.",
)
def paraphrased_chunks(
    context: dg.AssetExecutionContext,
    config: ParaphraseConfig,
    storage: StorageResource,
    llm: LLMResource,
    chunks: pl.DataFrame,
) -> dg.Output:
    """Ask the LLM for n_paraphrases rewordings of every chunk; failed or empty answers are counted."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.paraphrase
    client = llm.client(context, stage.llm_settings(settings.llm))
    run = generate_paraphrases(
        chunks,
        stage.n_paraphrases,
        client,
        PromptLibrary(storage.corpus_dir(corpus)),
        corpus,
        params=client.sampling(temperature=stage.temperature),
    )
    if run.nothing_answered:
        raise dg.Failure(nothing_answered_message("paraphrase", run.failure_summary()))
    table = run.table
    covered = table["chunk_id"].n_unique() if table.height else 0
    context.log.info(
        f"{corpus}: {table.height} paraphrases of {covered}/{chunks.height} chunks; "
        f"{sum(run.failures.values())} requests gave none ({run.failures or 'no failures'})"
    )
    metadata = {
        **settings_metadata(settings, config),
        "paraphrases": table.height,
        "chunks": chunks.height,
        "chunks_with_paraphrase": covered,
        "n_paraphrases": stage.n_paraphrases,
        "requests": run.requests,
        **counts_metadata("without_paraphrase", run.failures),
        "failure_examples": dg.MetadataValue.json(run.failure_examples[:10]),
        **llm.record_usage(context, client, asset="paraphrased_chunks"),
    }
    if client.provider.kind == "offline":
        metadata["note"] = dg.MetadataValue.text(OFFLINE_NOTE)
    return dg.Output(table, metadata=metadata)


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="paraphrases",
    kinds={"faiss"},
    deps=["chunk_index"],
    description="FAISS index over the paraphrases, embedded by the same embedder as chunk_index, with an id "
    "map to paraphrase_id and chunk_id; exported to <data root>/exports/<corpus>/paraphrase_index/.",
)
def paraphrase_index(
    context: dg.AssetExecutionContext,
    config: ParaphraseConfig,
    storage: StorageResource,
    embedder: EmbedderResource,
    paraphrased_chunks: pl.DataFrame,
) -> dg.MaterializeResult:
    """Embed the paraphrases with chunk_index's embedder (checked), index them, write and export."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    chunk_index_dir = storage.artifact_dir("chunk_index", corpus)
    emb = embedder.for_corpus(settings)
    try:
        chunk_manifest = read_manifest(chunk_index_dir)
        ensure_same_embedder(emb, _embedder_spec(chunk_index_dir))
    except (IndexArtifactError, EmbedderMismatch) as exc:
        raise dg.Failure(str(exc)) from None
    vectors = document_embed_fn(emb, embedder.cache(storage.root, settings))(paraphrased_chunks["text"].to_list())
    directory = storage.artifact_dir("paraphrase_index", corpus)
    manifest = write_paraphrase_index(
        directory, paraphrased_chunks, vectors, emb.spec(), IndexConfig.from_settings(settings.embedder)
    )
    export = export_index_dir(directory, storage.export_dir(corpus) / "paraphrase_index")
    index_file = directory / INDEX_FILE
    context.log.info(f"{corpus}: paraphrase_index of {manifest['n_vectors']} vectors ({manifest['index_type']})")
    return dg.MaterializeResult(
        metadata={
            **settings_metadata(settings, config),
            "path": dg.MetadataValue.path(str(directory)),
            "export": dg.MetadataValue.path(str(export)),
            "n_vectors": int(manifest["n_vectors"]),
            "chunks_indexed": int(paraphrased_chunks["chunk_id"].n_unique()) if paraphrased_chunks.height else 0,
            "index_type": manifest["index_type"],
            "dimension": int(manifest["dimension"]),
            **embedder_metadata(emb),
            "chunk_index_vectors": int(chunk_manifest.get("n_vectors", 0)),
            "size_bytes": index_file.stat().st_size,
            "sha256": file_sha256(index_file),
        }
    )


def _embedder_spec(directory: Path) -> dict:
    """The embedder.json of the chunk index: what its vectors were made with."""
    path = directory / EMBEDDER_FILE
    if not path.is_file():
        raise IndexArtifactError(f"{path} is missing; materialize chunk_index for this corpus first")
    return json.loads(path.read_text(encoding="utf-8"))

