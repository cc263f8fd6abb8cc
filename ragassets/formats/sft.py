"""The four SFT formats trainers read, their JSONL files, and a validator for every line.

=========== =================================================================== =======================
format      line                                                                read by
=========== =================================================================== =======================
alpaca      ``instruction``, ``input``, ``output``                              axolotl ``alpaca``, LLaMA-Factory
chatml      ``text``: ``<|im_start|>role\\ncontent<|im_end|>\\n`` turns          any plain-text trainer
sharegpt    ``conversations``: ``[{from: system|human|gpt, value}]``            axolotl, LLaMA-Factory, Unsloth
messages    ``messages``: ``[{role, content}]``                                 TRL ``SFTTrainer`` (conversational)
=========== =================================================================== =======================

Every line also carries ``source_chunk_ids``, ``source`` and ``example_id``. Alpaca is single-turn:
its ``instruction`` is the last user turn, ``output`` the final answer, and ``input`` whatever came
before (the system turn, e.g. RAG passages, and earlier turns as ``role: text`` lines).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ragassets.formats.examples import Example, message_problems
from ragassets.storage import atomic_write_text

FORMATS = ("alpaca", "chatml", "sharegpt", "messages")
SPLITS = ("train", "eval")
TRACE_FIELDS = ("source_chunk_ids", "source", "example_id")
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def _trace(ex: Example) -> dict[str, Any]:
    return {"source_chunk_ids": list(ex.source_chunk_ids), "source": ex.source, "example_id": ex.example_id}


def to_messages(ex: Example) -> dict[str, Any]:
    return {"messages": [dict(m) for m in ex.messages], **_trace(ex)}


def to_chatml(ex: Example) -> dict[str, Any]:
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in ex.messages)
    return {"text": text, **_trace(ex)}


def to_sharegpt(ex: Example) -> dict[str, Any]:
    turns = [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in ex.messages]
    return {"conversations": turns, **_trace(ex)}


def to_alpaca(ex: Example) -> dict[str, Any]:
    *before, last_user, answer = ex.messages
    context = [m["content"] if m["role"] == "system" else f"{m['role']}: {m['content']}" for m in before]
    return {
        "instruction": last_user["content"],
        "input": "\n\n".join(context),
        "output": answer["content"],
        **_trace(ex),
    }


CONVERTERS: dict[str, Callable[[Example], dict[str, Any]]] = {
    "alpaca": to_alpaca,
    "chatml": to_chatml,
    "sharegpt": to_sharegpt,
    "messages": to_messages,
}


def export_name(fmt: str, split: str) -> str:
    return f"{fmt}.{split}.jsonl"


def write_sft_exports(directory: Path, splits: dict[str, list[Example]]) -> dict[str, Path]:
    """Write ``<format>.<split>.jsonl`` for every format and split (atomically, one file each);
    returns the paths by file name. Stale files of an earlier run are replaced, never left behind."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt, convert in CONVERTERS.items():
        for split in SPLITS:
            lines = (json.dumps(convert(ex), ensure_ascii=False) for ex in splits.get(split, []))
            path = directory / export_name(fmt, split)
            atomic_write_text(path, "".join(f"{line}\n" for line in lines))
            written[path.name] = path
    return written


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def line_problems(fmt: str, record: Any) -> list[str]:
    """Why one parsed line is not a valid ``fmt`` record ([] when it is)."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    problems = []
    if not _str_list(record.get("source_chunk_ids")) or not record.get("source_chunk_ids"):
        problems.append("source_chunk_ids must be a non-empty list of chunk ids")
    if fmt == "alpaca":
        for key in ("instruction", "input", "output"):
            if not isinstance(record.get(key), str):
                problems.append(f"{key} must be a string")
        if isinstance(record.get("instruction"), str) and not record["instruction"].strip():
            problems.append("instruction is empty")
        if isinstance(record.get("output"), str) and not record["output"].strip():
            problems.append("output is empty")
    elif fmt == "chatml":
        text = record.get("text")
        if not isinstance(text, str) or not text.startswith("<|im_start|>"):
            problems.append("text must be a string of <|im_start|> turns")
        elif text.count("<|im_start|>") != text.count("<|im_end|>") or "<|im_start|>assistant\n" not in text:
            problems.append("text needs balanced <|im_start|>/<|im_end|> turns and an assistant turn")
    elif fmt == "sharegpt":
        turns = record.get("conversations")
        inverse = {v: k for k, v in SHAREGPT_FROM.items()}
        if not isinstance(turns, list) or not all(isinstance(t, dict) and set(t) == {"from", "value"} for t in turns):
            problems.append("conversations must be a list of {from, value}")
        else:
            as_messages = [{"role": inverse.get(t["from"], t["from"]), "content": t["value"]} for t in turns]
            problems.extend(message_problems(as_messages))
    elif fmt == "messages":
        messages = record.get("messages")
        if not isinstance(messages, list):
            problems.append("messages must be a list of {role, content}")
        else:
            problems.extend(message_problems(messages))
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return problems


def validate_jsonl(path: Path, fmt: str) -> tuple[int, list[str]]:
    """(lines, problems) of one export file: every line must parse and have its format's fields."""
    problems: list[str] = []
    n = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            n += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path.name}:{lineno}: not JSON ({exc.msg})")
                continue
            problems.extend(f"{path.name}:{lineno}: {p}" for p in line_problems(fmt, record))
    return n, problems


def read_chunk_ids(path: Path) -> list[list[str]]:
    """``source_chunk_ids`` of every line of an export (for the leakage check)."""
    with path.open(encoding="utf-8") as fh:
        return [list(json.loads(line).get("source_chunk_ids") or []) for line in fh if line.strip()]


def iter_export_files(directory: Path) -> Iterable[tuple[str, str, Path]]:
    """(format, split, path) of every export file expected in ``directory``."""
    for fmt in FORMATS:
        for split in SPLITS:
            yield fmt, split, directory / export_name(fmt, split)


def export_leaks(directory: Path, by: str = "chunk", doc_of: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Per format, the chunks (or documents) that occur in both its train and eval files ({} when none)."""
    from ragassets.formats.split import leaked_keys

    out = {}
    for fmt in FORMATS:
        train, evals = (directory / export_name(fmt, s) for s in SPLITS)
        if not train.exists() or not evals.exists():
            raise FileNotFoundError(f"{train.name} or {evals.name} is missing in {directory}: rematerialize training_datasets")
        leaked = leaked_keys(read_chunk_ids(train), read_chunk_ids(evals), by, doc_of)
        if leaked:
            out[fmt] = sorted(leaked)
    return out


def validate_exports(directory: Path) -> tuple[dict[str, int], list[str]]:
    """Lines per export file and every problem found (a missing file is a problem too)."""
    lines: dict[str, int] = {}
    problems: list[str] = []
    for fmt, _split, path in iter_export_files(directory):
        if not path.exists():
            problems.append(f"{path.name} is missing")
            continue
        n, found = validate_jsonl(path, fmt)
        lines[path.name] = n
        problems.extend(found)
    return lines, problems
