"""The JSONL files of the conversation and RAG stages, for training tools.

All are one JSON object a line, written to a temporary name and renamed (a crash never leaves half a
file), and load with ``datasets.load_dataset("json", data_files=...)``:

- ``conversations.jsonl``: ``{"conversation_id", "messages": [{"role", "content"}, ...], "source_chunk_ids"}``
- ``rag_prepared_data.jsonl``: the frozen simulation (augmentoolkit's file of that name): the item,
  its chunk and text, ``rag_failed`` and ``rag_chunks`` (``chunk_id``, ``metadata``, ``text``)
- ``axolotl_rag_conversations.jsonl``: exactly ``{"segments": [{"label", "text"}, ...]}`` (axolotl
  ``type: input_output``; keep ``train_on_inputs: false``)
- ``rag_conversations.messages.jsonl``: each item as OpenAI messages (context in the system
  message) with ``source_chunk_ids``
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from ragassets.rag.segments import ContextChunk
from ragassets.storage import atomic_write_text

CONVERSATIONS_FILE = "conversations.jsonl"
RAG_PREPARED_FILE = "rag_prepared_data.jsonl"
AXOLOTL_FILE = "axolotl_rag_conversations.jsonl"
MESSAGES_FILE = "rag_conversations.messages.jsonl"


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """``records`` as JSON lines (UTF-8, not ASCII-escaped), atomically."""
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(path, text)
    return path


def write_conversations(path: Path, table: pl.DataFrame) -> Path:
    return write_jsonl(
        path,
        (
            {"conversation_id": cid, "messages": json.loads(msgs), "source_chunk_ids": list(src)}
            for cid, msgs, src in table.select("conversation_id", "messages", "source_chunk_ids").iter_rows()
        ),
    )


def write_rag_prepared(path: Path, prepared: pl.DataFrame, blocks: dict[str, ContextChunk]) -> Path:
    def record(item_id: str, cid: str, failed: bool, ctx: list[str]) -> dict[str, Any]:
        return {
            "item_id": item_id,
            "chunk_id": cid,
            "text": blocks[cid].text,
            "metadata": blocks[cid].source,
            "rag_failed": failed,
            "rag_chunks": [{"chunk_id": c, "metadata": blocks[c].source, "text": blocks[c].text} for c in ctx],
        }

    rows = prepared.select("item_id", "chunk_id", "rag_failed", "context_chunk_ids").iter_rows()
    return write_jsonl(path, (record(*row) for row in rows))


def write_axolotl(path: Path, table: pl.DataFrame) -> Path:
    return write_jsonl(path, (json.loads(s) for s in table["segments"].to_list()))


def write_messages(path: Path, table: pl.DataFrame) -> Path:
    return write_jsonl(
        path,
        (
            {"item_id": iid, "rag_failed": failed, "messages": json.loads(msgs), "source_chunk_ids": list(src)}
            for iid, failed, msgs, src in table.select(
                "item_id", "rag_failed", "messages", "source_chunk_ids"
            ).iter_rows()
        ),
    )
