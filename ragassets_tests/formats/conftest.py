"""Small source tables in the shapes of scored_qa, conversations and rag_conversations."""

import json

import polars as pl
import pytest


@pytest.fixture
def scored() -> pl.DataFrame:
    n = 8
    return pl.DataFrame({
        "corpus": ["c"] * n,
        "question_id": [f"q{i}" for i in range(n)],
        "chunk_id": [f"k{i % 4}" for i in range(n)],
        "doc_id": [f"d{(i % 4) // 2}" for i in range(n)],
        "question": [f"Question number {i}?" for i in range(n)],
        "answer": [f"answer {i}" for i in range(n)],
        "overall": [10, 9, 8, 7, 6, 3, None, 7],
        "verdict": ["PASS", "PASS", "PASS", "NEEDS_REVIEW", "NEEDS_REVIEW", "FAIL", "UNSCORED", "NEEDS_REVIEW"],
    }, schema_overrides={"overall": pl.Int64})


@pytest.fixture
def conversations() -> pl.DataFrame:
    turns = [{"role": "user", "content": "Tell me about k1."}, {"role": "assistant", "content": "k1 says this."},
             {"role": "user", "content": "And then?"}, {"role": "assistant", "content": "Then that."}]
    return pl.DataFrame({
        "corpus": ["c", "c"],
        "conversation_id": ["conv0", "conv1"],
        "messages": [json.dumps(turns), json.dumps(turns[:2])],
        "source_chunk_ids": [["k1", "k2"], ["k5"]],
        "n_turns": [2, 1],
    })


@pytest.fixture
def rag_conversations() -> pl.DataFrame:
    msgs = [{"role": "system", "content": "Context:\n[k6] passage six\n[k7] passage seven"},
            {"role": "user", "content": "What does passage six say?"},
            {"role": "assistant", "content": "Six things."}]
    return pl.DataFrame({
        "corpus": ["c"],
        "item_id": ["rag0"],
        "chunk_id": ["k6"],
        "messages": [json.dumps(msgs)],
        "source_chunk_ids": [["k6", "k7"]],
    })


@pytest.fixture
def doc_of() -> dict[str, str]:
    return {f"k{i}": f"d{i // 2}" for i in range(8)}
