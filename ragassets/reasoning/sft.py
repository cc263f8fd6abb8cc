"""Verified solutions -> math and coding training examples with a mix ratio and difficulty balance.

Selection, deterministic for a seed:

1. per problem, at most ``max_solutions_per_problem`` verified solutions, distinct texts only;
2. per domain, the examples are spread over difficulties round-robin (easiest first), so a model
   that solved mostly easy problems does not flood the set with easy ones (``balance_difficulty``);
3. across domains, the ratio ``mix`` (e.g. math 0.5, code 0.5) is met by taking the largest total
   whose shares fit what each domain has: the scarcer domain is used whole, the other cut down.

Each example is a chat: the system and user turns rendered from the templates
``reasoning_sft_math.j2`` / ``reasoning_sft_code.j2`` (overridable per problem set), the assistant
turn the verified solution as the model wrote it. Problems are split into train and eval by a hash
of their id (``eval_share``), so no problem is on both sides.

The exports use the SFT format writers of :mod:`ragassets.formats.sft` (messages, alpaca, chatml,
sharegpt; ``<format>.<split>.jsonl``). Their trace fields mean here: ``source_chunk_ids`` = the
problem id (the reasoning group has no chunks), ``source`` = ``reasoning_math`` / ``reasoning_code``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from ragassets.llm import PromptLibrary
from ragassets.reasoning.generate import template_variables
from ragassets.reasoning.problems import DIFFICULTY_ORDER

SFT_TEMPLATES = {"math": "reasoning_sft_math", "code": "reasoning_sft_code"}

SFT_COLUMNS = {
    "problem_set": pl.String,
    "example_id": pl.String,
    "solution_id": pl.String,
    "problem_id": pl.String,
    "domain": pl.String,
    "difficulty": pl.String,
    "split": pl.String,
    "messages": pl.String,
}


def _rank(seed: int, *parts: str) -> str:
    return hashlib.sha256("\0".join([str(seed), *parts]).encode()).hexdigest()


def _balanced(rows: list[dict[str, Any]], seed: int, balance: bool) -> list[dict[str, Any]]:
    """Rows ordered so that any prefix is spread over difficulties (round-robin, easiest first)."""
    rows = sorted(rows, key=lambda r: _rank(seed, r["solution_id"]))
    if not balance:
        return rows
    order = [*DIFFICULTY_ORDER, *sorted({r["difficulty"] for r in rows} - set(DIFFICULTY_ORDER))]
    buckets = [[r for r in rows if r["difficulty"] == d] for d in order]
    out: list[dict[str, Any]] = []
    while any(buckets):
        for b in buckets:
            if b:
                out.append(b.pop(0))
    return out


def mix_counts(available: dict[str, int], mix: dict[str, float]) -> dict[str, int]:
    """Examples per domain: the largest total whose shares fit ``available`` (see the module docstring)."""
    shares = {d: w for d, w in mix.items() if w > 0}
    usable = {d: available.get(d, 0) for d in shares}
    if not shares or all(v == 0 for v in usable.values()):
        return {d: 0 for d in shares}
    present = {d: w for d, w in shares.items() if usable[d] > 0}
    total_w = sum(present.values())
    # domains with nothing to offer drop out of the ratio rather than emptying the dataset
    total = min(usable[d] / (w / total_w) for d, w in present.items())
    return {d: min(usable.get(d, 0), round(total * w / total_w)) if d in present else 0 for d, w in shares.items()}


def select_examples(verified: pl.DataFrame, settings: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The verified solutions chosen for SFT, and a report (available, chosen, per domain/difficulty)."""
    kept = verified.filter(pl.col("verified") & pl.col("text").is_not_null())
    per_problem: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(kept.to_dicts(), key=lambda r: (r["problem_id"], r["sample"])):
        texts = {r["text"].strip() for r in per_problem.get(row["problem_id"], [])}
        bucket = per_problem.setdefault(row["problem_id"], [])
        if row["text"].strip() not in texts and len(bucket) < settings.max_solutions_per_problem:
            bucket.append(row)
    candidates = [r for rows in per_problem.values() for r in rows]
    by_domain = {d: [r for r in candidates if r["domain"] == d] for d in ("math", "code")}
    counts = mix_counts({d: len(v) for d, v in by_domain.items()}, settings.mix)
    chosen: list[dict[str, Any]] = []
    for domain, n in counts.items():
        chosen += _balanced(by_domain[domain], settings.seed, settings.balance_difficulty)[:n]
    report = {
        "available": {d: len(v) for d, v in by_domain.items()},
        "chosen": counts,
        "by_difficulty": {
            d: {k: sum(1 for r in chosen if r["domain"] == d and r["difficulty"] == k)
                for k in sorted({r["difficulty"] for r in chosen if r["domain"] == d})}
            for d in counts
        },
    }
    return chosen, report


def split_of(problem_id: str, eval_share: float, seed: int) -> str:
    """``eval`` for a stable ``eval_share`` of problems (by hash), else ``train``."""
    if eval_share <= 0:
        return "train"
    bucket = int(_rank(seed, "split", problem_id)[:8], 16) / 0xFFFFFFFF
    return "eval" if bucket < eval_share else "train"


def build_examples(
    problem_set: str, chosen: list[dict[str, Any]], problems: pl.DataFrame, prompts: PromptLibrary, settings: Any
) -> pl.DataFrame:
    """One row per example: ids, domain, difficulty, split and the chat as JSON."""
    import json

    by_id = {p["problem_id"]: p for p in problems.to_dicts()}
    rows = []
    for sol in chosen:
        problem = by_id[sol["problem_id"]]
        rendered = prompts.render(SFT_TEMPLATES[sol["domain"]], **template_variables(problem))
        messages = [*rendered.messages, {"role": "assistant", "content": sol["text"].strip()}]
        rows.append(
            {
                "problem_set": problem_set,
                "example_id": _rank(0, "example", sol["solution_id"], rendered.version)[:16],
                "solution_id": sol["solution_id"],
                "problem_id": sol["problem_id"],
                "domain": sol["domain"],
                "difficulty": sol["difficulty"],
                "split": split_of(sol["problem_id"], settings.eval_share, settings.seed),
                "messages": json.dumps(messages, ensure_ascii=False),
            }
        )
    df = pl.DataFrame(rows, schema=SFT_COLUMNS) if rows else pl.DataFrame(schema=SFT_COLUMNS)
    return df.sort("split", "domain", "example_id")


def write_exports(examples: pl.DataFrame, directory: Any) -> dict[str, Any]:
    """``<format>.<split>.jsonl`` in every SFT format of ragassets.formats.sft; returns paths by name."""
    import json

    from ragassets.formats.examples import Example
    from ragassets.formats.sft import write_sft_exports

    splits: dict[str, list[Example]] = {"train": [], "eval": []}
    for row in examples.to_dicts():
        splits[row["split"]].append(
            Example(
                example_id=row["example_id"],
                source=f"reasoning_{row['domain']}",
                messages=tuple(json.loads(row["messages"])),
                source_chunk_ids=(row["problem_id"],),
            )
        )
    return write_sft_exports(directory, splits)
