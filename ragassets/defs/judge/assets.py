"""`scored_qa`: every question/answer pair judged against its chunk window on the rubric (accuracy,
relevance, clarity, usefulness, overall 0-10) with a verdict; nothing filtered, so any formatting
threshold can be chosen later without asking the judge again."""

import dagster as dg
import polars as pl

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.judge.config import JudgeConfig
from ragassets.generation.failures import nothing_answered_message
from ragassets.judging import distribution_chart, distribution_table, judge_questions, score_distribution
from ragassets.llm import PromptLibrary, role_settings
from ragassets.metadata import counts_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource

OFFLINE_NOTE = (
    "Judged by the offline stand-in: a heuristic (answer grounded in the chunk, question form, answer length), "
    "not a model. Its scores order pairs plausibly but are no judgment; point small_llm (or llm) at a real model."
)


@dg.asset(
    partitions_def=corpus_partitions,
    group_name="judging",
    kinds={"polars", "parquet"},
    pool="llm",
    description="Every question/answer pair with the judge's rubric scores (accuracy 0-3, relevance 0-2, clarity "
    "0-2, usefulness 0-3, overall 0-10), a short reason per criterion and a verdict: PASS (overall >= "
    "judge.pass_threshold), NEEDS_REVIEW (>= judge.review_threshold), FAIL, or UNSCORED with the error. No filtering.",
)
def scored_qa(
    context: dg.AssetExecutionContext,
    config: JudgeConfig,
    storage: StorageResource,
    small_llm: LLMResource,
    questions: pl.DataFrame,
    chunks: pl.DataFrame,
) -> dg.Output:
    """Ask the judge (small_llm role) about every pair; record scores, reasons, verdicts and the distribution."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    stage = settings.judge
    client = small_llm.client(context, stage.llm_settings(role_settings(settings, "small_llm")))
    run = judge_questions(
        questions, chunks, client, PromptLibrary(storage.corpus_dir(corpus)), corpus,
        pass_threshold=stage.pass_threshold, review_threshold=stage.review_threshold, window=stage.window,
        params=client.sampling(temperature=stage.temperature), max_repairs=stage.max_repairs,
    )
    if run.nothing_scored:
        raise dg.Failure(nothing_answered_message("judge", str(dict(run.failures))))
    dist = score_distribution(run.scored["overall"].to_list(), run.scored["verdict"].to_list())
    context.log.info(f"{corpus}: {dist.total} pairs judged: {dist.verdicts}; mean overall {dist.mean_score}")
    metadata = {
        **settings_metadata(settings, config),
        "pairs": dist.total,
        "pass_rate": float(round(dist.pass_rate, 4)),
        **({"mean_score": float(round(dist.mean_score, 3))} if dist.mean_score is not None else {}),
        **counts_metadata("verdict", dist.verdicts),
        **{f"share/{v}": float(round(s, 4)) for v, s in dist.shares().items()},
        "score_distribution": dg.MetadataValue.md(distribution_table(dist, stage.pass_threshold, stage.review_threshold)),
        "score_histogram": dg.MetadataValue.md(distribution_chart(dist, stage.pass_threshold, stage.review_threshold)),
        **counts_metadata("judge_failures", dict(run.failures)),
        "judge_failure_examples": dg.MetadataValue.json(run.failure_examples),
        "judge": f"{client.provider.kind}:{client.model}",
        **small_llm.record_usage(context, client, asset="scored_qa"),
    }
    if client.provider.kind == "offline":
        metadata["note"] = dg.MetadataValue.text(OFFLINE_NOTE)
    return dg.Output(run.scored, metadata=metadata)
