"""Checks on the RAG data: well-formed segment lines (gate), the failure share and answers free of prompt
scaffolding (quality), and no PII in any new table (gates)."""

import dagster as dg
import polars as pl

from ragassets.defs.common import checked_settings
from ragassets.defs.pii_gate import no_residual_pii_check
from ragassets.defs.rag.assets import base_model_of
from ragassets.rag.answers import scaffolding_report
from ragassets.rag.chat_format import ChatFormatError, resolve_chat_format
from ragassets.rag.quality import failure_share_verdict, segments_report
from ragassets.resources.storage import StorageResource

# the screening reasons are model-written; questions and answers are training data
chunk_suitability_no_residual_pii = no_residual_pii_check(asset="chunk_suitability", text_columns=["reason"])
rag_conversations_no_residual_pii = no_residual_pii_check(asset="rag_conversations", text_columns=["question", "answer"])


@dg.asset_check(
    asset="rag_conversations",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    blocking=True,
    description="Every line parses as {segments: [{label, text}]}; the first segment is unlabelled and starts with "
    "bos (when one is set); exactly one user+assistant pair is labelled; no empty text; no unfilled placeholder "
    "({data}, {context}, {{, {%) outside the text the line quotes.",
)
def segments_valid(
    context: dg.AssetCheckExecutionContext, rag_conversations: pl.DataFrame, chunks: pl.DataFrame,
    storage: StorageResource,
) -> dg.AssetCheckResult:
    settings = checked_settings(context, storage.root, "rag_conversations")
    try:
        bos = resolve_chat_format(settings.rag, base_model_of(settings)).bos
    except ChatFormatError as exc:
        raise dg.Failure(str(exc)) from None
    bad, examples = segments_report(rag_conversations, bos, chunks["text"].to_list())
    return dg.AssetCheckResult(
        passed=bad == 0 and rag_conversations.height > 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{bad} of {rag_conversations.height} lines are malformed (see examples)" if bad
                     else None if rag_conversations.height else "no lines at all"),
        metadata={"lines": rag_conversations.height, "malformed": bad, "bos": repr(bos),
                  "examples": dg.MetadataValue.json(examples)},
    )


@dg.asset_check(
    asset="rag_conversations",
    description="The share of items whose retrieval failed is within rag.failure_share_tolerance (or 2.5 standard "
    "errors of the item count) of rag.rag_failure_percentage. WARN otherwise.",
)
def rag_failure_share(
    context: dg.AssetCheckExecutionContext, rag_conversations: pl.DataFrame, storage: StorageResource
) -> dg.AssetCheckResult:
    rag = checked_settings(context, storage.root, "rag_conversations").rag
    items = rag_conversations.unique("item_id")
    v = failure_share_verdict(items["rag_failed"].to_list(), rag.rag_failure_percentage, rag.failure_share_tolerance)
    return dg.AssetCheckResult(
        passed=v.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if v.passed else (
            f"{v.share:.1%} of {v.items} items have a failed retrieval, expected {v.expected:.0%} +- {v.allowed:.1%}"
        ),
        metadata={"failure_share": round(v.share, 4), "expected": v.expected, "allowed_difference": round(v.allowed, 4),
                  "items": v.items},
    )


@dg.asset_check(
    asset="rag_conversations",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    description="Answers carry no prompt scaffolding (\"Chunk 1\", \"Ground Truth\", \"the passage\", \"the context\", "
    "template words) that their source chunk does not itself use. WARN with examples.",
)
def answers_without_scaffolding(rag_conversations: pl.DataFrame, chunks: pl.DataFrame) -> dg.AssetCheckResult:
    texts = dict(zip(chunks["chunk_id"].to_list(), chunks["text"].to_list(), strict=True))
    bad, examples = scaffolding_report(rag_conversations, texts)
    items = rag_conversations["item_id"].n_unique() if rag_conversations.height else 0
    return dg.AssetCheckResult(
        passed=bad == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{bad} of {items} answers carry prompt scaffolding (see examples)" if bad else None,
        metadata={"answers": items, "with_scaffolding": bad, "examples": dg.MetadataValue.json(examples)},
    )
