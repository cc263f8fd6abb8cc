"""Question/answer pairs written against the simulated retrieval, and the lines built from them.

For each rag_prepared item the ``llm`` gets the SOURCE chunk (what the question is about and where
the answer comes from) and the CONTEXT the simulation retrieved. In a success case the context holds
the source and the answer uses it; in a failure case the context is unrelated and the answer comes
from the source as the model's own knowledge, without leaning on (or mentioning) the context.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ragassets.llm import RagAnswer, task_request
from ragassets.rag.chat_format import ChatFormat
from ragassets.rag.segments import ContextChunk, RagItem, build_lines, scaffolding_in, stringify_chunks

RAG_CONVERSATIONS_SCHEMA = {
    "corpus": pl.String,
    "item_id": pl.String,
    "group_id": pl.String,
    "position": pl.Int64,
    "chunk_id": pl.String,
    "rag_failed": pl.Boolean,
    "question": pl.String,
    "answer": pl.String,
    "context_chunk_ids": pl.List(pl.String),
    "source_chunk_ids": pl.List(pl.String),
    "messages": pl.String,
    "segments": pl.String,
    "provider": pl.String,
    "model": pl.String,
}


def chunk_source(heading_path: Sequence[str] | None, doc_id: str) -> str:
    """What a context block names as its source: the chunk's heading path in its (redacted) document,
    else the document id (file names are not used: they were never redacted)."""
    path = [h for h in (heading_path or []) if h and h.strip()]
    return " > ".join(path) if path else f"document {doc_id[:12]}"


def context_chunks(chunks: pl.DataFrame) -> dict[str, ContextChunk]:
    """chunk_id -> the chunk as a context block shows it."""
    return {
        cid: ContextChunk(cid, chunk_source(path, doc), text)
        for cid, doc, path, text in chunks.select("chunk_id", "doc_id", "heading_path", "text").iter_rows()
    }


def answer_requests(
    prepared: pl.DataFrame, blocks: dict[str, ContextChunk], prompts: Any, params: Any = None
) -> list[Any]:
    """One ``rag_answer`` request per prepared item, in table order."""
    return list(iter_answer_requests(prepared, blocks, prompts, params))


def iter_answer_requests(
    prepared: pl.DataFrame, blocks: dict[str, ContextChunk], prompts: Any, params: Any = None
) -> Iterator[Any]:
    """:func:`answer_requests` rendered one at a time (the LLM client sends the first while the rest render)."""
    return (
        task_request(
            "rag_answer",
            prompts,
            id=item_id,
            params=params,
            source=blocks[cid].text,
            context=stringify_chunks([blocks[c] for c in ctx]),
            rag_failed=bool(failed),
        )
        for item_id, cid, failed, ctx in prepared.select(
            "item_id", "chunk_id", "rag_failed", "context_chunk_ids"
        ).iter_rows()
    )


@dataclass
class AnswerBatch:
    items: list[RagItem] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # reason -> items without a pair
    provider: str = ""
    model: str = ""


def collect_answers(
    prepared: pl.DataFrame, blocks: dict[str, ContextChunk], results: Sequence[Any]
) -> AnswerBatch:
    """The items whose answer parsed; what failed is counted by reason (never silently dropped)."""
    batch = AnswerBatch()
    rows = prepared.select("item_id", "chunk_id", "rag_failed", "context_chunk_ids").iter_rows()
    for (item_id, cid, failed, ctx), res in zip(rows, results, strict=True):
        batch.provider, batch.model = res.provider or batch.provider, res.model or batch.model
        if not res.ok:
            batch.failures[res.error or "unknown"] += 1
            continue
        pair: RagAnswer = res.value
        question, answer = " ".join(pair.question.split()), pair.answer.strip()
        if not question or not answer:
            batch.failures["empty_pair"] += 1
            continue
        batch.items.append(
            RagItem(item_id, cid, bool(failed), question, answer, tuple(blocks[c] for c in ctx))
        )
    return batch


def rag_conversation_rows(
    corpus: str,
    batch: AnswerBatch,
    fmt: ChatFormat,
    prompts: Sequence[str],
    size: int,
    seed: int,
) -> pl.DataFrame:
    """The rag_conversations table: one row per line (an item of a group, with its segments)."""
    cols: dict[str, list] = {name: [] for name in RAG_CONVERSATIONS_SCHEMA}
    for line in build_lines(batch.items, fmt, prompts, size, seed):
        it = line.item
        ctx_ids = [c.chunk_id for c in it.context]
        values = (
            corpus,
            it.item_id,
            line.group_id,
            line.position,
            it.chunk_id,
            it.rag_failed,
            it.question,
            it.answer,
            ctx_ids,
            list(dict.fromkeys([it.chunk_id, *ctx_ids])),
            json.dumps(line.messages(), ensure_ascii=False),
            json.dumps({"segments": line.segments}, ensure_ascii=False),
            batch.provider,
            batch.model,
        )
        for name, value in zip(cols, values, strict=True):
            cols[name].append(value)
    return pl.DataFrame(cols, schema=RAG_CONVERSATIONS_SCHEMA)


def scaffolding_report(
    table: pl.DataFrame, chunk_text: dict[str, str], limit: int = 10
) -> tuple[int, list[dict]]:
    """(answers carrying prompt scaffolding, examples with the words found)."""
    bad, examples = 0, []
    for item_id, cid, answer in table.unique("item_id").select("item_id", "chunk_id", "answer").iter_rows():
        found = scaffolding_in(answer, chunk_text.get(cid, ""))
        if found:
            bad += 1
            if len(examples) < limit:
                examples.append({"item_id": item_id, "found": found, "answer": answer[:300]})
    return bad, examples


@dataclass
class RagRun:
    table: pl.DataFrame
    batch: AnswerBatch

    @property
    def nothing_answered(self) -> bool:
        return not self.batch.items and sum(self.batch.failures.values()) > 0


def generate_rag_conversations(
    corpus: str,
    prepared: pl.DataFrame,
    chunks: pl.DataFrame,
    settings: Any,
    fmt: ChatFormat,
    client: Any,
    prompts: Any,
    params: Any = None,
) -> RagRun:
    """One ``rag_answer`` request per prepared item through ``client``, then the grouped lines
    (``settings``: the ``rag`` block)."""
    blocks = context_chunks(chunks)
    named = {
        *prepared["chunk_id"].to_list(),
        *(c for ids in prepared["context_chunk_ids"].to_list() for c in ids),
    }
    missing = sorted(named - set(blocks))
    if missing:
        raise ValueError(
            f"rag_prepared names {len(missing)} chunk(s) not in chunks (e.g. {missing[0]}): it is older than the "
            "chunks; rematerialize rag_prepared"
        )
    results = client.generate_structured(
        iter_answer_requests(prepared, blocks, prompts, params), RagAnswer, max_repairs=settings.max_repairs
    )
    batch = collect_answers(prepared, blocks, results)
    table = rag_conversation_rows(
        corpus, batch, fmt, settings.final_assistant_prompts, settings.num_items_per_group, settings.seed
    )
    return RagRun(table, batch)
