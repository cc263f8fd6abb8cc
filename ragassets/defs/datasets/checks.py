"""Checks on the datasets: no chunk (or document) in both train and eval, every export line valid (gates),
GRPO answers that reveal no reasoning (gate), and no PII in the new tables (gates)."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings, corpus_of
from ragassets.defs.datasets.assets import GRPO_JSONL, SFT_DIR
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.formats.datasets import CARD_FILE
from ragassets.formats.grpo import reasoning_problems, validate_grpo_jsonl
from ragassets.formats.sft import export_leaks, validate_exports
from ragassets.resources.storage import StorageResource

MAX_EXAMPLES = 20

training_datasets_no_residual_pii = no_residual_pii_check(asset="training_datasets", text_columns=["text"])
grpo_dataset_no_residual_pii = no_residual_pii_check(asset="grpo_dataset", text_columns=["answer", "paraphrase"])


@dg.asset_check(
    asset="training_datasets",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    blocking=True,
    description="No chunk (datasets.split_by: chunk) or document (document) occurs in both the train and the eval "
    "file of any export format, by each line's source_chunk_ids: an eval score on leaked data means nothing.",
)
def no_train_eval_leakage(
    context: dg.AssetCheckExecutionContext, chunks: pl.DataFrame, storage: StorageResource
) -> dg.AssetCheckResult:
    corpus = corpus_of(context)
    by = checked_settings(context, storage.root, "training_datasets").datasets.split_by
    doc_of = dict(chunks.select("chunk_id", "doc_id").iter_rows())
    try:
        leaks = export_leaks(storage.export_dir(corpus) / SFT_DIR, by, doc_of)
    except (FileNotFoundError, ValueError) as exc:
        raise dg.Failure(str(exc)) from None
    n = len({k for ks in leaks.values() for k in ks})
    return dg.AssetCheckResult(
        passed=not leaks,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not leaks else (
            f"{n} {by}(s) in both train and eval ({', '.join(sorted(leaks))}): the files were not written by this "
            "split; rematerialize training_datasets"
        ),
        metadata={"split_by": by, f"leaked_{by}s": n, "examples": dg.MetadataValue.json(
            {fmt: keys[:MAX_EXAMPLES] for fmt, keys in leaks.items()})},
    )


@dg.asset_check(
    asset="training_datasets",
    blocking=True,
    description="Every line of every SFT export (alpaca, chatml, sharegpt, messages; train and eval) parses as JSON "
    "and has its format's fields and a non-empty source_chunk_ids; the dataset card is there.",
)
def exports_valid(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    directory = storage.export_dir(corpus_of(context)) / SFT_DIR
    lines, problems = validate_exports(directory)
    if not (directory / CARD_FILE).exists():
        problems.append(f"{CARD_FILE} (the dataset card) is missing")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if not problems else f"{len(problems)} problem(s), e.g. {problems[0]}",
        metadata={"problems": len(problems), **{f"lines/{k}": v for k, v in lines.items()},
                  "examples": dg.MetadataValue.json(problems[:MAX_EXAMPLES])},
    )


@dg.asset_check(
    asset="grpo_dataset",
    blocking=True,
    description="No qa answer reveals reasoning: at most grpo.max_answer_words words, no step list, none of "
    "grpo.reasoning_markers (step markers, because/therefore chains). The reward compares the model's final answer "
    "with this one, so it must be the bare answer. Every grpo.jsonl line is also checked to be a usable row.",
)
def answers_reveal_no_reasoning(
    context: dg.AssetCheckExecutionContext, grpo_dataset: pl.DataFrame, storage: StorageResource
) -> dg.AssetCheckResult:
    stage = checked_settings(context, storage.root, "grpo_dataset").grpo
    qa = grpo_dataset.filter(pl.col("task") == "qa")
    bad = []
    for example_id, answer in qa.select("example_id", "answer").iter_rows():
        found = reasoning_problems(answer or "", max_words=stage.max_answer_words, markers=stage.reasoning_markers)
        if found or not (answer or "").strip():
            bad.append({"example_id": example_id, "answer": (answer or "")[:200], "why": "; ".join(found) or "empty"})
    path = storage.export_dir(corpus_of(context)) / GRPO_JSONL
    n_lines, line_problems = validate_grpo_jsonl(path) if path.exists() else (0, [f"{GRPO_JSONL} is missing"])
    if n_lines != grpo_dataset.height and not line_problems:
        line_problems.append(f"{GRPO_JSONL} has {n_lines} lines but the table {grpo_dataset.height} rows")
    passed = not bad and not line_problems
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else "; ".join(
            ([f"{len(bad)} of {qa.height} qa answers reveal reasoning (see examples)"] if bad else [])
            + ([f"{len(line_problems)} {GRPO_JSONL} problem(s), e.g. {line_problems[0]}"] if line_problems else [])
        ),
        metadata={"qa_answers": qa.height, "revealing": len(bad), "max_answer_words": stage.max_answer_words,
                  "jsonl_problems": len(line_problems), "examples": dg.MetadataValue.json(bad[:MAX_EXAMPLES]),
                  "jsonl_examples": dg.MetadataValue.json(line_problems[:MAX_EXAMPLES])},
    )
