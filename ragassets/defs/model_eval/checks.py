"""Checks on `model_eval`: fine-tuning did not make the model worse at answering with retrieval."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings
from ragassets.evaluation.model_eval import not_worse, summary
from ragassets.resources.storage import StorageResource


@dg.asset_check(
    asset="model_eval",
    description="In retrieval mode the tuned model's mean token F1 is at least the base model's minus "
    "model_eval.not_worse_tolerance (WARN: a few demo steps may not help; real training should).",
)
def tuned_not_worse(context: dg.AssetCheckExecutionContext, storage: StorageResource,
                    model_eval: pl.DataFrame) -> dg.AssetCheckResult:
    settings = checked_settings(context, storage.root, "model_eval")
    tolerance = settings.model_eval.not_worse_tolerance
    if model_eval.is_empty():
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="no eval questions were asked (the eval split is empty): nothing to "
                                   "compare; see model_eval's log")
    if "retrieval" not in set(model_eval["mode"].to_list()):
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="model_eval ran without the retrieval mode: nothing to compare")
    ok, figures = not_worse(summary(model_eval), "retrieval", tolerance)
    return dg.AssetCheckResult(
        passed=ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if ok else (
            f"tuned token F1 {figures['tuned_f1']:.3f} is below base {figures['base_f1']:.3f} by more than "
            f"{tolerance} in retrieval mode: train longer (training.max_steps) or check the training data"),
        metadata={**{k: round(v, 4) for k, v in figures.items()}, "tolerance": tolerance},
    )
