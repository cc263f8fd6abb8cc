"""Every export of the conversation and RAG stages loads with datasets.load_dataset("json", ...)."""

from __future__ import annotations

import json

import polars as pl

from ragassets.conversations.generate import CONVERSATIONS_SCHEMA
from ragassets.rag.answers import AnswerBatch, context_chunks, rag_conversation_rows
from ragassets.rag.chat_format import default_chat_format
from ragassets.rag.exports import write_axolotl, write_conversations, write_messages, write_rag_prepared
from ragassets.rag.segments import RagItem
from ragassets.rag.simulate import prepare_rag
from ragassets.settings import RagSettings
from ragassets_tests.rag.corpus import synthetic_corpus


def _load(path, tmp_path):
    import datasets

    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))


def test_every_export_loads_with_datasets(tmp_path) -> None:
    chunks, _ = synthetic_corpus(n_docs=2, per_doc=4)
    settings = RagSettings(distractors="random", seed=1)
    prepared = prepare_rag("t", chunks["chunk_id"].to_list(), chunks, settings)
    blocks = context_chunks(chunks)
    batch = AnswerBatch(provider="offline", model="m")
    for item_id, cid, failed, ctx in prepared.select("item_id", "chunk_id", "rag_failed", "context_chunk_ids").rows():
        batch.items.append(RagItem(item_id, cid, failed, f"What is in {cid}?", blocks[cid].text,
                                   tuple(blocks[c] for c in ctx)))
    table = rag_conversation_rows("t", batch, default_chat_format(), settings.final_assistant_prompts, 3, 1)
    convs = pl.DataFrame(
        [{"corpus": "t", "conversation_id": "x1", "n_turns": 2, "provider": "offline", "model": "m",
          "source_chunk_ids": ["d0c0", "d0c1"],
          "messages": json.dumps([{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                                  {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}])}],
        schema=CONVERSATIONS_SCHEMA,
    )
    out = tmp_path / "exports"
    files = {
        "conversations": write_conversations(out / "conversations.jsonl", convs),
        "prepared": write_rag_prepared(out / "rag_prepared_data.jsonl", prepared, blocks),
        "axolotl": write_axolotl(out / "axolotl_rag_conversations.jsonl", table),
        "messages": write_messages(out / "rag_conversations.messages.jsonl", table),
    }
    ds = {k: _load(p, tmp_path) for k, p in files.items()}
    assert ds["conversations"].column_names == ["conversation_id", "messages", "source_chunk_ids"]
    assert ds["conversations"][0]["messages"][1] == {"role": "assistant", "content": "a1"}
    assert len(ds["prepared"]) == prepared.height
    assert set(ds["prepared"].column_names) >= {"chunk_id", "text", "rag_failed", "rag_chunks"}
    assert ds["axolotl"].column_names == ["segments"] and len(ds["axolotl"]) == table.height
    assert set(ds["axolotl"][0]["segments"][0]) == {"label", "text"}
    assert ds["messages"][0]["messages"][0]["role"] == "system"
    assert ds["messages"][0]["source_chunk_ids"] == table["source_chunk_ids"][0].to_list()
    # exactly {"segments": [...]} on every line of the axolotl file
    for line in files["axolotl"].read_text(encoding="utf-8").splitlines():
        assert list(json.loads(line)) == ["segments"]
