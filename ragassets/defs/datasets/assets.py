"""`training_datasets`: the judged pairs at the chosen threshold merged with conversations and RAG
conversations, split train/eval by chunk or document without leakage, exported in four SFT formats with
a dataset card. `grpo_dataset`: qa and retrieval rows in TRL's prompt-only format, for GRPO with the
reward functions of ragassets.rewards. Neither asks an LLM: a new threshold re-runs only them."""

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.datasets.config import DatasetsConfig, GrpoConfig
from ragassets.formats.datasets import CARD_FILE, build_training_datasets, write_training_datasets
from ragassets.formats.examples import ExampleError
from ragassets.formats.grpo import build_grpo_table, write_grpo_exports
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.storage import StorageResource

SFT_DIR = "sft"
GRPO_JSONL = "grpo.jsonl"
GRPO_PARQUET = "grpo.parquet"
OPTIONAL_SOURCES = ("conversations", "rag_conversations")


def _included_table(storage: StorageResource, source: str, corpus: str, include: list[str]) -> pl.DataFrame | None:
    if source not in include:
        return None
    try:
        return storage.read_table(source, corpus)
    except FileNotFoundError:
        raise dg.Failure(
            f"datasets.include names {source!r} but {source} is not materialized for corpus {corpus!r}: "
            f"materialize {source} first, or remove it from datasets.include (corpus.yaml or run config)"
        ) from None


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="datasets",
    kinds={"polars", "parquet", "json"},
    deps=list(OPTIONAL_SOURCES),
    description="SFT examples: scored_qa pairs with overall >= datasets.format_threshold (0 keeps all), plus "
    "conversations and rag_conversations per datasets.include; split train/eval by chunk or document (seeded, no "
    "chunk or document on both sides). Exported to <data root>/exports/<corpus>/sft/ as alpaca, chatml, sharegpt "
    "and messages JSONL (every line with source_chunk_ids) and a README.md dataset card.",
)
def training_datasets(
    context: dg.AssetExecutionContext,
    config: DatasetsConfig,
    storage: StorageResource,
    scored_qa: pl.DataFrame,
    chunks: pl.DataFrame,
) -> dg.Output:
    """Threshold, merge, split and export; reads verdicts, never asks the judge."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.datasets
    tables = {s: _included_table(storage, s, corpus, stage.include) for s in OPTIONAL_SOURCES}
    try:
        ds = build_training_datasets(stage, scored_qa, chunks, **tables)
    except (ExampleError, ValueError) as exc:
        raise dg.Failure(str(exc)) from None
    directory = storage.export_dir(corpus) / SFT_DIR
    write_training_datasets(ds, directory, corpus, stage)
    counts = ds.counts()
    context.log.info(f"{corpus}: {ds.kept_pairs}/{ds.scored_pairs} pairs kept at {stage.format_threshold}; {counts}")
    card = (directory / CARD_FILE).read_text(encoding="utf-8")
    metadata = {
        **settings_metadata(settings, config),
        "format_threshold": float(stage.format_threshold),
        "scored_pairs": ds.scored_pairs,
        "kept_pairs": ds.kept_pairs,
        "train_examples": len(ds.split.train),
        "eval_examples": len(ds.split.eval),
        **counts_metadata("train", counts["train"]),
        **counts_metadata("eval", counts["eval"]),
        "split_method": ds.split.method,
        "split_groups": ds.split.groups,
        "eval_groups": ds.split.eval_groups,
        "left_out_straddling": len(ds.split.left_out),
        "judge": ", ".join(ds.judges) or "none",
        "export_dir": dg.MetadataValue.path(str(directory)),
        "dataset_card": dg.MetadataValue.md(card.split("---\n", 2)[-1]),
    }
    return dg.Output(ds.table(corpus), metadata=metadata)


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="datasets",
    kinds={"polars", "parquet", "json"},
    description="GRPO rows in TRL's prompt-only conversational format: qa (system + question; answer short and "
    "final, no reasoning; chunk_id) from scored_qa pairs with overall >= grpo.min_overall, and retrieval (system + "
    "a paraphrase of a chunk, asking for a search query that finds the original; chunk_id, paraphrase). Exported as "
    "<data root>/exports/<corpus>/grpo.jsonl and grpo.parquet; rewards in ragassets.rewards.",
)
def grpo_dataset(
    context: dg.AssetExecutionContext,
    config: GrpoConfig,
    storage: StorageResource,
    scored_qa: pl.DataFrame,
    paraphrased_chunks: pl.DataFrame,
) -> dg.Output:
    """qa rows with bare answers and retrieval rows from paraphrases; grpo.jsonl and grpo.parquet."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.grpo
    build = build_grpo_table(
        scored_qa, paraphrased_chunks, corpus, min_overall=stage.min_overall,
        max_answer_words=stage.max_answer_words, markers=stage.reasoning_markers, tasks=stage.tasks,
    )
    out = storage.export_dir(corpus)
    write_grpo_exports(build.table, out / GRPO_JSONL, out / GRPO_PARQUET)
    context.log.info(f"{corpus}: GRPO rows {build.counts()}; left out {dict(build.dropped)}")
    return dg.Output(
        build.table,
        metadata={
            **settings_metadata(settings, config),
            "rows": build.table.height,
            **counts_metadata("task", build.counts()),
            **counts_metadata("left_out", dict(build.dropped)),
            "left_out_examples": dg.MetadataValue.json(build.examples_dropped),
            "export": dg.MetadataValue.path(str(out / GRPO_JSONL)),
            "export_parquet": dg.MetadataValue.path(str(out / GRPO_PARQUET)),
        },
    )
