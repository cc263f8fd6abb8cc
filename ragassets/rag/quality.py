"""The figures the RAG checks judge by, without Dagster: malformed lines, the failure share against
its setting, and answers carrying prompt scaffolding."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from ragassets.rag.segments import segment_line_problems


def segments_report(table: pl.DataFrame, bos: str, chunk_texts: Sequence[str], limit: int = 10) -> tuple[int, dict[str, list[str]]]:
    """(lines with a problem, item_id -> problems for the first ``limit``) over rag_conversations.
    Text the line quotes (chunk texts, the group's questions and answers) may hold braces."""
    quoted = {g: [*q, *a] for g, q, a in table.group_by("group_id").agg("question", "answer").iter_rows()}
    bad, examples = 0, {}
    for item_id, group_id, blob in table.select("item_id", "group_id", "segments").iter_rows():
        try:
            line = json.loads(blob)
        except json.JSONDecodeError as exc:
            problems = [f"not JSON: {exc.msg}"]
        else:
            problems = segment_line_problems(line, bos=bos, known_texts=[*chunk_texts, *quoted.get(group_id, [])])
        if problems:
            bad += 1
            if len(examples) < limit:
                examples[item_id] = problems
    return bad, examples


@dataclass(frozen=True)
class ShareVerdict:
    share: float
    expected: float
    allowed: float  # the largest |share - expected| that passes
    items: int

    @property
    def passed(self) -> bool:
        return self.items > 0 and abs(self.share - self.expected) <= self.allowed


def failure_share_verdict(failed: Sequence[bool], expected: float, tolerance: float) -> ShareVerdict:
    """The share of failed retrievals among items against ``expected``: allowed to differ by
    ``tolerance`` or by 2.5 standard errors of a binomial share over this many items, whichever is
    larger (18 items at 0.4 vary by 0.12 by chance alone)."""
    n = len(failed)
    share = sum(bool(f) for f in failed) / n if n else 0.0
    se = math.sqrt(expected * (1 - expected) / n) if n else 0.0
    return ShareVerdict(share, expected, max(tolerance, 2.5 * se), n)
