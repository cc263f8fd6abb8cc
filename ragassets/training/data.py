"""Training files read for TRL: chat ``messages`` JSONL for SFT, prompt JSONL for GRPO. No Dagster import.

SFT lines are TRL's conversational format (``{"messages": [{"role", "content"}, ...], ...}``). They
are turned into prompt/completion pairs (everything before the last assistant message is the
prompt), so the loss is taken on the answer only, not on the question and the retrieved context
the model is only asked to read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROLES = {"system", "user", "assistant"}


class TrainingDataError(ValueError):
    """A training file that cannot be used; the message names the file and the line."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise TrainingDataError(f"{path} is missing: materialize the training datasets of this corpus first")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise TrainingDataError(f"{path}:{n}: expected a JSON object per line")
            rows.append(row)
    return rows


def check_messages(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise TrainingDataError(f"{where}: 'messages' must be a non-empty list of {{role, content}}")
    out = []
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise TrainingDataError(f"{where}: every message needs a role ({', '.join(sorted(ROLES))}) and text "
                                    f"content, got {str(m)[:120]}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def load_sft_rows(path: Path) -> list[dict[str, Any]]:
    """Prompt/completion rows (conversational) from a ``messages`` JSONL file."""
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        messages = check_messages(row.get("messages"), f"{path}:{n}")
        if messages[-1]["role"] != "assistant" or len(messages) < 2:
            raise TrainingDataError(f"{path}:{n}: the last message must be the assistant's answer after a prompt")
        rows.append({"prompt": messages[:-1], "completion": messages[-1:]})
    if not rows:
        raise TrainingDataError(f"{path} has no training lines: the corpus produced no training data")
    return rows


def load_grpo_rows(path: Path) -> list[dict[str, Any]]:
    """GRPO rows: a conversational ``prompt`` plus whatever columns the reward functions read."""
    rows = []
    for n, row in enumerate(read_jsonl(path), 1):
        prompt = row.get("prompt")
        if prompt is None and "messages" in row:  # a messages line: its last answer is the reference
            messages = check_messages(row["messages"], f"{path}:{n}")
            prompt = messages[:-1] if messages[-1]["role"] == "assistant" else messages
        row = {**row, "prompt": check_messages(prompt, f"{path}:{n}")}
        row.pop("messages", None)
        rows.append(row)
    if not rows:
        raise TrainingDataError(f"{path} has no GRPO prompts")
    return rows
