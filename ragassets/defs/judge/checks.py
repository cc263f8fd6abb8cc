"""Checks on scored_qa: the PASS share (quality, WARN below judge.min_pass_rate) and no PII in the
pairs or the judge's reasons (gate)."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.judging import PASS, UNSCORED, score_distribution
from ragassets.resources.storage import StorageResource

# the pairs are training data and the reasons quote them
scored_qa_no_residual_pii = no_residual_pii_check(asset="scored_qa", text_columns=["question", "answer", "reasons"])


@dg.asset_check(
    asset="scored_qa",
    description="Share of pairs the judge passed (overall >= judge.pass_threshold). WARN below judge.min_pass_rate: "
    "the questions (or the judge) need a look before formatting.",
)
def pass_rate(
    context: dg.AssetCheckExecutionContext, scored_qa: pl.DataFrame, storage: StorageResource
) -> dg.AssetCheckResult:
    stage = checked_settings(context, storage.root, "scored_qa").judge
    dist = score_distribution(scored_qa["overall"].to_list(), scored_qa["verdict"].to_list())
    passed = dist.total > 0 and dist.pass_rate >= stage.min_pass_rate
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else (
            f"{dist.verdicts[PASS]} of {dist.total} pairs ({dist.pass_rate:.0%}) passed the judge "
            f"(min {stage.min_pass_rate:.0%}); {dist.verdicts[UNSCORED]} unscored. Read score_distribution on "
            "scored_qa, then improve the questions or lower judge.min_pass_rate"
        ),
        metadata={
            "pass_rate": float(round(dist.pass_rate, 4)),
            "min_pass_rate": float(stage.min_pass_rate),
            "pairs": dist.total,
            **{f"verdict/{v}": int(n) for v, n in dist.verdicts.items()},
        },
    )
