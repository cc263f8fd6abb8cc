"""The response cache: durable answers, errors apart, several writing processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from ragassets.llm import LLMRequest, ResponseCache, SamplingParams, cache_key
from ragassets.llm.cache import default_cache_path

REPO = Path(__file__).resolve().parents[2]


def test_put_get_and_first_answer_wins(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put(
        "k1",
        provider="openai",
        model="m",
        text="first",
        input_tokens=3,
        output_tokens=4,
        token_source="server",
    )
    cache.put("k1", provider="openai", model="m", text="second")
    hit = cache.get("k1")
    assert hit is not None and hit.text == "first" and hit.input_tokens == 3 and hit.token_source == "server"
    assert cache.get("missing") is None
    assert set(cache.get_many(["k1", "missing"])) == {"k1"}


def test_wal_mode_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("k", provider="offline", model="m", text="t")
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert ResponseCache(path).get("k").text == "t"  # visible to another connection at once


def test_errors_are_recorded_but_not_answers(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.record_error("k", reason="timeout", detail="slow", provider="openai", model="m", attempts=3)
    assert cache.get("k") is None and cache.count() == 0
    (err,) = cache.errors("k")
    assert err["reason"] == "timeout" and err["attempts"] == 3


def test_default_path_is_under_the_data_root(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGASSETS_DATA_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "llm_cache.sqlite"


def test_cache_key_covers_what_determines_an_answer() -> None:
    req = LLMRequest.chat("q", template_version="v1")
    p = SamplingParams()
    base = cache_key("openai", "m", req, p)
    assert base == cache_key(
        "openai", "m", LLMRequest.chat("q", template_version="v1", id="other", task="x"), p
    )
    variants = [
        cache_key("vllm", "m", req, p),
        cache_key("openai", "m2", req, p),
        cache_key("openai", "m", LLMRequest.chat("q2", template_version="v1"), p),
        cache_key("openai", "m", req, SamplingParams(temperature=0.1)),
        cache_key("openai", "m", req, SamplingParams(seed=1)),
        cache_key("openai", "m", LLMRequest.chat("q", template_version="v2"), p),
        cache_key(
            "openai", "m", LLMRequest.chat("q", template_version="v1", json_schema={"type": "object"}), p
        ),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_cache_key_is_the_hash_of_the_canonical_json() -> None:
    """Keys written part by part equal the hash of json.dumps of the whole object (so caches filled
    before keep answering), with a schema shared by a batch or a fresh copy of it."""
    import hashlib
    import json

    from ragassets.llm.types import CACHE_KEY_VERSION

    schema = {
        "type": "object",
        "properties": {"b": {"type": "string"}, "a": {"type": "integer"}},
        "required": ["b"],
    }
    p = SamplingParams(temperature=0.3, seed=7, stop=("\n\n",))
    for req in [
        LLMRequest.chat(
            'Qu\u00e9 "quoted" \u2014 text', system="sys", template_version="t3", json_schema=schema
        ),
        LLMRequest.chat("same schema, another question", json_schema=schema),
        LLMRequest.chat("a copy of the schema", json_schema=json.loads(json.dumps(schema))),
        LLMRequest.chat("no schema"),
    ]:
        whole = {
            "v": CACHE_KEY_VERSION,
            "provider": "openai",
            "model": "m",
            "messages": [{"role": m["role"], "content": m["content"]} for m in req.messages],
            "params": p.as_dict(),
            "schema": req.json_schema,
            "template_version": req.template_version,
        }
        blob = json.dumps(whole, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert cache_key("openai", "m", req, p) == hashlib.sha256(blob.encode("utf-8")).hexdigest()


WRITER = """
import sys
from ragassets.llm import ResponseCache
path, tag, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cache = ResponseCache(path)
batch = []
for i in range(start, stop):
    if i % 3 == 0:  # one transaction per answer
        cache.put(f"key-{i}", provider="p", model="m", text=f"{tag}-{i}")
    else:  # group commits, as a concurrent run writes them
        batch.append({"key": f"key-{i}", "provider": "p", "model": "m", "text": f"{tag}-{i}"})
        if len(batch) == 7:
            cache.put_many(batch)
            batch = []
    if i % 50 == 0:
        cache.get_many([f"key-{j}" for j in range(start, i)])
cache.put_many(batch)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    # overlapping ranges: 0-399 and 200-599; the shared 200 keys are written by both
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(a), str(b)], cwd=REPO)
        for tag, a, b in (("A", 0, 400), ("B", 200, 600))
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    cache = ResponseCache(path)
    assert cache.keys() == {f"key-{i}" for i in range(600)}
    answers = cache.get_many([f"key-{i}" for i in range(600)])
    assert all(answers[f"key-{i}"].text == f"A-{i}" for i in range(200))
    assert all(answers[f"key-{i}"].text == f"B-{i}" for i in range(400, 600))
    assert all(answers[f"key-{i}"].text in (f"A-{i}", f"B-{i}") for i in range(200, 400))


def test_usage_rows_accumulate(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    row = {
        "run_id": "r1",
        "asset": "questions",
        "corpus": "sample",
        "role": "llm",
        "provider": "offline",
        "model": "m",
        "requests": 3,
        "sent": 2,
        "cache_hits": 1,
        "failures": 0,
        "failures_by_reason": {},
        "input_tokens": 10,
        "output_tokens": 5,
        "cost_usd": 0.0,
        "wall_s": 0.1,
    }
    cache.append_usage(row)
    cache.append_usage({**row, "run_id": "r2", "corpus": "other"})
    assert [r["run_id"] for r in cache.usage_rows()] == ["r1", "r2"]
    assert [r["run_id"] for r in cache.usage_rows("sample")] == ["r1"]


def _row(key: str, text: str) -> dict:
    return {
        "key": key,
        "provider": "openai",
        "model": "m",
        "text": text,
        "input_tokens": 2,
        "output_tokens": 1,
    }


def test_put_many_is_one_transaction_and_first_answer_wins(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k0", provider="openai", model="m", text="kept")
    assert cache.put_many([_row(f"k{i}", f"t{i}") for i in range(5)]) == 5
    assert cache.put_many([]) == 0
    assert cache.count() == 5
    assert (
        cache.get("k0").text == "kept" and cache.get("k4").text == "t4" and cache.get("k4").input_tokens == 2
    )


def test_put_many_rolls_back_a_failed_batch(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    bad = [_row("a", "fine"), {**_row("b", "x"), "task": {"not": "bindable"}}]  # fails on the 2nd row
    try:
        cache.put_many(bad)
    except sqlite3.Error:
        pass
    else:
        raise AssertionError("an unbindable value must fail the batch")
    assert cache.count() == 0  # nothing of the batch half-written
    cache.put("c", provider="openai", model="m", text="after")  # and the connection is usable again
    assert cache.count() == 1


def test_group_commit_writes_a_turns_answers_together_before_the_next_turn(tmp_path: Path) -> None:
    import asyncio

    from ragassets.llm.cache import GroupCommitWriter

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    other = ResponseCache(path)  # another connection, as another process would see the file

    async def scenario() -> GroupCommitWriter:
        writer = GroupCommitWriter(cache, asyncio.get_running_loop())
        for i in range(3):
            writer.put(**_row(f"k{i}", f"t{i}"))
        assert other.count() == 0 and len(writer.rows) == 3  # buffered within this turn
        await asyncio.sleep(0)  # one turn of the loop
        assert other.count() == 3 and writer.commits == 1  # committed together, visible outside
        writer.put(**_row("k9", "t9"))
        writer.close()
        assert other.count() == 4 and writer.commits == 2 and writer.written == 4
        return writer

    asyncio.run(scenario())


def test_group_commit_failure_is_raised_not_swallowed(tmp_path: Path) -> None:
    import asyncio

    from ragassets.llm.cache import GroupCommitWriter

    cache = ResponseCache(tmp_path / "c.sqlite")

    async def scenario() -> None:
        writer = GroupCommitWriter(cache, asyncio.get_running_loop())
        cache.close()  # every commit now fails
        writer.put(**_row("k", "t"))
        await asyncio.sleep(0)
        try:
            writer.close()
        except sqlite3.ProgrammingError:
            return
        raise AssertionError("a failed commit must surface")

    asyncio.run(scenario())
