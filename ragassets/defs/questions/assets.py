"""`questions` and `question_outcomes`: questions written from the ORIGINAL chunks through a sliding
window, deduplicated across the corpus, exported as AutoDidact's questions.json; and for every chunk
what happened (how many asked, returned, filtered, deduplicated, kept, and why none if none)."""

from pathlib import Path

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.questions.config import QuestionsConfig
from ragassets.generation.embedding import document_embed_fn
from ragassets.generation.failures import nothing_answered_message
from ragassets.generation.questions import QuestionsRun, coverage_breakdown, generate_questions
from ragassets.generation.questions_json import write_questions_json
from ragassets.llm import PromptLibrary
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.embedder import EmbedderResource
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource
from ragassets.settings import QuestionsSettings

QUESTIONS_FILE = "questions.json"
OFFLINE_NOTE = (
    "Written by the offline stand-in (rule-based cloze questions on dates, numbers and names, not a "
    "model). Point the llm resource or corpus.yaml `llm:` at a real model for training data."
)


@dg.multi_asset(
    outs={
        "questions": dg.AssetOut(
            description="Questions about each chunk (previous/next chunk as context), with answer and difficulty "
            "(easy/medium/hard); near-duplicates across the corpus dropped. Exported as "
            "<data root>/exports/<corpus>/questions.json in AutoDidact's format.",
            kinds={"polars", "parquet"},
            group_name="questions",
        ),
        "question_outcomes": dg.AssetOut(
            description="One row per chunk: questions asked for, returned, filtered, deduplicated and kept, and "
            "for a chunk without questions the reason (chunk_too_short, request_failed, parse_failure, "
            "none_returned, filtered, dedup).",
            kinds={"polars", "parquet"},
            group_name="questions",
        ),
    },
    partitions_def=corpus_partitions,
    pool="llm",
)
def questions(
    context: dg.AssetExecutionContext,
    config: QuestionsConfig,
    storage: StorageResource,
    llm: LLMResource,
    embedder: EmbedderResource,
    chunks: pl.DataFrame,
):
    """Generate, filter and deduplicate the questions of every chunk; write questions.json."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.questions
    client = llm.client(context, stage.llm_settings(settings.llm))
    emb = embedder.for_corpus(settings)
    run = generate_questions(
        chunks,
        stage,
        client,
        PromptLibrary(storage.corpus_dir(corpus)),
        corpus,
        embed=document_embed_fn(emb, embedder.cache(storage.root, settings)),
        params=client.sampling(temperature=stage.temperature),
        max_repairs=stage.max_repairs,
    )
    if run.nothing_answered:
        raise dg.Failure(nothing_answered_message("questions", run.failure_summary()))
    export = storage.export_dir(corpus) / QUESTIONS_FILE
    write_questions_json(export, run.questions.iter_rows(named=True))
    counts = run.counts()
    cov = coverage_breakdown(run.outcomes)
    context.log.info(
        f"{corpus}: {counts['questions']} questions for {counts['chunks_with_questions']}/{counts['chunks']} chunks "
        f"({counts['filtered']} filtered, {counts['duplicates_dropped']} duplicates dropped); "
        f"chunks without questions: {cov['without_questions']}; LLM failures: {run.failure_summary()}"
    )
    metadata = {
        **settings_metadata(settings, config),
        **_questions_metadata(run, stage, export, f"{emb.provider}:{emb.model}"),
        **llm.record_usage(context, client, asset="questions"),
    }
    if client.provider.kind == "offline":
        metadata["note"] = dg.MetadataValue.text(OFFLINE_NOTE)
    yield dg.Output(run.questions, output_name="questions", metadata=metadata)
    yield dg.Output(
        run.outcomes,
        output_name="question_outcomes",
        metadata={
            "coverage": float(round(cov["coverage"], 4)),
            **counts_metadata("without_questions", cov["without_questions"]),
        },
    )


def _questions_metadata(run: QuestionsRun, stage: QuestionsSettings, export: Path, dedup_embedder: str) -> dict:
    """Counts Dagster plots across runs: questions, coverage, filters, dedup, difficulties."""
    counts = run.counts()
    difficulty = dict(run.questions.group_by("difficulty").len().iter_rows()) if run.questions.height else {}
    return {
        **{k: v for k, v in counts.items() if k != "coverage"},
        "coverage": float(round(counts["coverage"], 4)),
        "export": dg.MetadataValue.path(str(export)),
        "window": stage.window,
        "questions_per_chunk": stage.questions_per_chunk,
        **counts_metadata("difficulty", difficulty),
        **counts_metadata("filtered_by_reason", dict(run.batch.filter_counts)),
        **counts_metadata("dedup", run.batch.dedup_counts),
        "dedup_embedder": dedup_embedder,
    }

