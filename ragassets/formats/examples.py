"""Training examples from every source, in one shape: chat messages and the chunks behind them.

Sources (``datasets.include``):

- ``qa``: the judged question/answer pairs of ``scored_qa`` at or above the formatting threshold
  (user question, assistant answer, from one chunk);
- ``conversations``: multi-turn conversations (``messages`` JSON, ``source_chunk_ids``);
- ``rag_conversations``: one RAG item per row, its system message carrying the retrieved passages
  (``messages`` JSON, ``source_chunk_ids``: the gold chunk and every passage shown).

Every example keeps ``source_chunk_ids``: the split keeps all of them on one side, and every export
line carries them, so a trained model's answer can be traced to its source.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

SOURCES = ("qa", "conversations", "rag_conversations")
ROLES = ("system", "user", "assistant")


class ExampleError(ValueError):
    """A source row that cannot become a training example; the message names the row and the fix."""


@dataclass(frozen=True)
class Example:
    """One training example: chat turns (system?, user, assistant, ...) and the chunks behind them."""

    example_id: str
    source: str  # qa | conversations | rag_conversations
    messages: tuple[dict[str, str], ...]
    source_chunk_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        problems = message_problems(self.messages)
        if problems:
            raise ExampleError(f"{self.source} example {self.example_id}: {'; '.join(problems)}")
        if not self.source_chunk_ids:
            raise ExampleError(f"{self.source} example {self.example_id} names no source chunk")


def message_problems(messages: Sequence[Any]) -> list[str]:
    """Why ``messages`` is not a trainable chat ([] when it is): known roles, non-empty text, an
    optional system turn first, then user/assistant alternating and ending with the assistant."""
    problems = []
    if not messages:
        return ["no messages"]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            problems.append(f"message {i} is not {{role, content}}")
        elif m["role"] not in ROLES:
            problems.append(f"message {i} has role {m['role']!r}, not one of {', '.join(ROLES)}")
        elif not isinstance(m["content"], str) or not m["content"].strip():
            problems.append(f"message {i} ({m['role']}) is empty")
    if problems:
        return problems
    roles = [m["role"] for m in messages]
    turns = roles[1:] if roles[0] == "system" else roles
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(turns))]
    if not turns or turns != expected or turns[-1] != "assistant":
        problems.append(f"turns must alternate user/assistant and end with assistant, got {roles}")
    return problems


def select_qa(scored: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """The judged pairs kept at ``threshold``: overall >= threshold; 0 keeps every pair, unscored too."""
    if threshold < 0:
        raise ValueError(f"format_threshold must be 0 (keep all) or more, got {threshold}")
    if threshold == 0:
        return scored
    return scored.filter(pl.col("overall").is_not_null() & (pl.col("overall") >= threshold))


def qa_examples(kept: pl.DataFrame) -> list[Example]:
    """One user/assistant example per kept pair, traced to its chunk."""
    return [
        Example(
            example_id=qid,
            source="qa",
            messages=({"role": "user", "content": q}, {"role": "assistant", "content": a}),
            source_chunk_ids=(cid,),
        )
        for qid, cid, q, a in kept.select("question_id", "chunk_id", "question", "answer").iter_rows()
    ]


def _messages(raw: Any, where: str) -> tuple[dict[str, str], ...]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ExampleError(f"{where}: messages is not JSON ({exc}); rematerialize that asset") from None
    if not isinstance(raw, list):
        raise ExampleError(f"{where}: messages must be a JSON list of {{role, content}}")
    return tuple({"role": m.get("role"), "content": m.get("content")} if isinstance(m, dict) else m for m in raw)


def chat_examples(table: pl.DataFrame, source: str, id_column: str) -> list[Example]:
    """Examples from a table with a ``messages`` JSON column and ``source_chunk_ids`` (conversations,
    rag_conversations)."""
    missing = [c for c in (id_column, "messages", "source_chunk_ids") if c not in table.columns]
    if missing:
        raise ExampleError(f"{source} lacks column(s) {missing}; rematerialize {source}")
    out = []
    for row_id, raw, chunk_ids in table.select(id_column, "messages", "source_chunk_ids").iter_rows():
        where = f"{source} row {row_id}"
        out.append(Example(row_id, source, _messages(raw, where), tuple(chunk_ids or ())))
    return out


ID_COLUMNS = {"conversations": "conversation_id", "rag_conversations": "item_id"}


def merge_examples(
    include: Iterable[str],
    *,
    qa: pl.DataFrame | None = None,
    conversations: pl.DataFrame | None = None,
    rag_conversations: pl.DataFrame | None = None,
) -> tuple[list[Example], dict[str, int]]:
    """The examples of every included source, in source order, and the count per source.

    ``qa`` is the kept part of scored_qa (see :func:`select_qa`). A source that is included but not
    given (its asset is not in the graph) is an error that says so; a source given but not included
    is left out.
    """
    include = list(dict.fromkeys(include))
    unknown = [s for s in include if s not in SOURCES]
    if unknown:
        raise ExampleError(f"unknown datasets.include source(s) {unknown}; use {', '.join(SOURCES)}")
    tables = {"qa": qa, "conversations": conversations, "rag_conversations": rag_conversations}
    examples: list[Example] = []
    counts: dict[str, int] = {}
    for source in include:
        table = tables[source]
        if table is None:
            raise ExampleError(
                f"datasets.include names {source!r} but no {source} table was given; materialize {source} "
                f"or remove it from datasets.include"
            )
        made = qa_examples(table) if source == "qa" else chat_examples(table, source, ID_COLUMNS[source])
        counts[source] = len(made)
        examples.extend(made)
    return examples, counts
