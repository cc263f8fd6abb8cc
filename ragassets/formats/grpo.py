"""The GRPO dataset: two tasks in one table, in TRL's prompt-only conversational format.

- ``qa`` rows: ``prompt`` = system instruction + the question; ``answer`` = the short final answer
  (no reasoning: the model must find it, the reward checks it); ``chunk_id`` = its source chunk.
- ``retrieval`` rows: ``prompt`` = system instruction + a paraphrase of a chunk, asking for a search
  query that finds the original; ``chunk_id`` = the original; ``paraphrase`` = the reworded text.

``GRPOTrainer`` takes the file as it is: ``prompt`` is the only column it reads, every other column
(``task``, ``answer``, ``chunk_id``, ``paraphrase``, ``example_id``) reaches the reward functions of
:mod:`ragassets.rewards` as keyword arguments.

A qa answer that shows reasoning (too long, step markers, because/therefore chains; see
:func:`reasoning_problems`) would teach the reward to accept reasoning as the answer: such pairs are
left out and counted, and the ``answers_reveal_no_reasoning`` check fails if one is left.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ragassets.storage import atomic_write_text, write_table
from ragassets.text.words import words

QA_SYSTEM = (
    "You answer questions about a private document collection. Think as much as you need, then end your reply "
    "with the final answer, as short as possible, inside <answer></answer>."
)
RETRIEVAL_SYSTEM = (
    "You search a private document collection. You are given a reworded version of one of its passages. Write "
    "a search query that finds the original passage, and end your reply with it inside <query></query>."
)
RETRIEVAL_USER = 'Reworded passage:\n"""\n{paraphrase}\n"""\n\nWrite a search query that finds the original passage.'

TASKS = ("qa", "retrieval")
_MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
GRPO_SCHEMA = {
    "corpus": pl.String,
    "example_id": pl.String,
    "task": pl.String,
    "prompt": pl.List(_MESSAGE),
    "answer": pl.String,
    "chunk_id": pl.String,
    "paraphrase": pl.String,
}
EXPORT_COLUMNS = ("example_id", "task", "prompt", "answer", "chunk_id", "paraphrase")

DEFAULT_REASONING_MARKERS = (
    "step by step",
    "step 1",
    "first,",
    "second,",
    "then,",
    "next,",
    "finally,",
    "let's",
    "let me",
    "because",
    "therefore",
    "thus",
    "hence",
    "since",
    "which means",
    "as a result",
    "consequently",
    "so the answer",
)
_LIST_STEP = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*•])\s+\S")


def reasoning_problems(answer: str, *, max_words: int, markers: Sequence[str]) -> list[str]:
    """Why ``answer`` reveals reasoning ([] when it is a bare final answer): longer than
    ``max_words``, a step list, or one of ``markers`` (whole words, case-insensitive)."""
    problems = []
    n = len(words(answer))
    if n > max_words:
        problems.append(f"too_long ({n} words > {max_words})")
    if _LIST_STEP.search(answer) or answer.count("\n") >= 2:
        problems.append("step_list")
    low = " ".join(answer.casefold().split())
    found = [m for m in markers if re.search(rf"(?<!\w){re.escape(m.casefold())}(?!\w)", low)]
    if found:
        problems.append("reasoning_markers (" + ", ".join(found) + ")")
    return problems


def qa_prompt(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": question}]


def retrieval_prompt(paraphrase: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": RETRIEVAL_SYSTEM},
        {"role": "user", "content": RETRIEVAL_USER.format(paraphrase=paraphrase)},
    ]


@dataclass
class GrpoBuild:
    table: pl.DataFrame
    dropped: Counter = field(default_factory=Counter)  # reason -> qa pairs left out
    examples_dropped: list[dict[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        by_task = dict(self.table.group_by("task").len().iter_rows()) if self.table.height else {}
        return {t: int(by_task.get(t, 0)) for t in TASKS}


def build_grpo_table(
    scored: pl.DataFrame | None,
    paraphrases: pl.DataFrame | None,
    corpus: str,
    *,
    min_overall: float,
    max_answer_words: int,
    markers: Sequence[str] = DEFAULT_REASONING_MARKERS,
    tasks: Sequence[str] = TASKS,
) -> GrpoBuild:
    """qa rows from the judged pairs at or above ``min_overall`` whose answer shows no reasoning, and
    one retrieval row per paraphrase."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown GRPO task(s) {unknown}; use {', '.join(TASKS)}")
    rows: list[dict[str, Any]] = []
    build = GrpoBuild(pl.DataFrame(schema=GRPO_SCHEMA))
    if "qa" in tasks and scored is not None:
        for qid, cid, q, a, overall in scored.select(
            "question_id", "chunk_id", "question", "answer", "overall"
        ).iter_rows():
            if overall is None or overall < min_overall:
                build.dropped["below_min_overall"] += 1
                continue
            problems = reasoning_problems(a, max_words=max_answer_words, markers=markers)
            if problems:
                build.dropped[problems[0].split(" ")[0]] += 1
                if len(build.examples_dropped) < 10:
                    build.examples_dropped.append({"question_id": qid, "answer": a, "why": "; ".join(problems)})
                continue
            rows.append({"corpus": corpus, "example_id": qid, "task": "qa", "prompt": qa_prompt(q), "answer": a,
                         "chunk_id": cid, "paraphrase": None})
    if "retrieval" in tasks and paraphrases is not None:
        for pid, cid, text in paraphrases.select("paraphrase_id", "chunk_id", "text").iter_rows():
            if not (text or "").strip():
                build.dropped["empty_paraphrase"] += 1
                continue
            rows.append({"corpus": corpus, "example_id": pid, "task": "retrieval", "prompt": retrieval_prompt(text),
                         "answer": None, "chunk_id": cid, "paraphrase": text})
    build.table = pl.DataFrame(rows, schema=GRPO_SCHEMA)
    return build


def write_grpo_exports(table: pl.DataFrame, jsonl_path: Path, parquet_path: Path) -> None:
    """``grpo.jsonl`` (one row per line, the export columns) and ``grpo.parquet`` (the same columns)."""
    export = table.select(EXPORT_COLUMNS)
    lines = (json.dumps(row, ensure_ascii=False) for row in export.iter_rows(named=True))
    atomic_write_text(jsonl_path, "".join(f"{line}\n" for line in lines))
    write_table(export, parquet_path)


def grpo_line_problems(record: Any) -> list[str]:
    """Why one parsed grpo.jsonl line is not a row GRPOTrainer and the reward functions can use."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    problems = []
    prompt = record.get("prompt")
    if not (isinstance(prompt, list) and prompt and all(
        isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
        and m["content"].strip() for m in prompt
    )):
        problems.append("prompt must be a non-empty list of {role, content} messages")
    elif prompt[-1]["role"] != "user":
        problems.append("the prompt's last message must be the user's")
    task = record.get("task")
    if task not in TASKS:
        problems.append(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if not isinstance(record.get("chunk_id"), str) or not record["chunk_id"]:
        problems.append("chunk_id is missing")
    if task == "qa" and not (isinstance(record.get("answer"), str) and record["answer"].strip()):
        problems.append("a qa row needs its answer")
    if task == "retrieval" and not (isinstance(record.get("paraphrase"), str) and record["paraphrase"].strip()):
        problems.append("a retrieval row needs its paraphrase")
    return problems


def validate_grpo_jsonl(path: Path) -> tuple[int, list[str]]:
    """(lines, problems) of grpo.jsonl."""
    n, problems = 0, []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            n += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path.name}:{lineno}: not JSON ({exc.msg})")
                continue
            problems.extend(f"{path.name}:{lineno}: {p}" for p in grpo_line_problems(record))
    return n, problems
