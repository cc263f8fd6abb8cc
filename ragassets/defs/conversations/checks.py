"""Checks on conversations: every conversation is grounded in real chunks and well formed (gate), and
holds no PII (gate)."""

import json

import dagster as dg
import polars as pl

from ragassets.conversations import conversation_problems, unknown_chunk_ids
from ragassets.defs.pii_gate import no_residual_pii_check

# conversations are training data: no PII in any turn
conversations_no_residual_pii = no_residual_pii_check(asset="conversations", text_columns=["messages"])


@dg.asset_check(
    asset="conversations",
    additional_ins={"chunks": dg.AssetIn("chunks")},
    blocking=True,
    description="Every source_chunk_ids entry is a chunk of this corpus, and every conversation starts with the "
    "user, alternates user/assistant, ends with the assistant and has no empty turn.",
)
def conversations_grounded(conversations: pl.DataFrame, chunks: pl.DataFrame) -> dg.AssetCheckResult:
    unknown = unknown_chunk_ids(conversations["source_chunk_ids"].to_list(), set(chunks["chunk_id"].to_list()))
    malformed: dict[str, list[str]] = {}
    for cid, blob in conversations.select("conversation_id", "messages").iter_rows():
        try:
            problems = conversation_problems(json.loads(blob))
        except json.JSONDecodeError as exc:
            problems = [f"messages is not JSON: {exc.msg}"]
        if problems:
            malformed[cid] = problems
    problems = []
    if unknown:
        problems.append(
            f"{len(unknown)} source chunk id(s) are not in chunks: the conversations are older than the chunks; "
            "rematerialize conversations"
        )
    if malformed:
        problems.append(f"{len(malformed)} conversation(s) are malformed (see malformed_examples)")
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems) or None,
        metadata={
            "conversations": conversations.height,
            "unknown_chunk_ids": dg.MetadataValue.json(unknown[:20]),
            "malformed": len(malformed),
            "malformed_examples": dg.MetadataValue.json(dict(list(malformed.items())[:10])),
        },
    )
