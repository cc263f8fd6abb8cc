"""What makes a conversation usable as training data, said per conversation.

A conversation is OpenAI messages without a system message: it starts with the user, roles alternate
user/assistant, it ends with the assistant, and no turn is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

ROLES = ("user", "assistant")


def conversation_problems(messages: Any) -> list[str]:
    """What is wrong with ``messages`` ([] when nothing)."""
    if not isinstance(messages, list) or not messages:
        return ["messages is not a non-empty list"]
    problems = []
    for k, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            problems.append(f"message {k} is not {{role, content}}")
            continue
        expected = ROLES[k % 2]
        if m["role"] != expected:
            problems.append(f"message {k} is from {m['role']!r} where {expected!r} was due (roles must alternate)")
        if not isinstance(m["content"], str) or not m["content"].strip():
            problems.append(f"message {k} is empty")
    if len(messages) % 2:
        problems.append("the conversation ends with the user: the last question has no answer")
    return problems


def normalize_turns(turns: Sequence[Any], max_exchanges: int) -> tuple[list[dict[str, str]], str | None]:
    """The model's turns as messages (content stripped), cut to ``max_exchanges`` user/assistant
    exchanges; a trailing unanswered question is dropped. Returns (messages, problem): ``problem``
    says why the turns are unusable (roles out of order, an empty turn), else None."""
    messages = [{"role": str(t.role), "content": str(t.content).strip()} for t in turns]
    if len(messages) % 2:
        messages = messages[:-1]
    messages = messages[: 2 * max_exchanges]
    problems = conversation_problems(messages)
    return messages, ("; ".join(problems) if problems else None)


def unknown_chunk_ids(source_lists: Iterable[Sequence[str]], known: set[str]) -> list[str]:
    """Chunk ids named in ``source_lists`` that are not in ``known`` (sorted, unique)."""
    return sorted({c for ids in source_lists for c in ids if c not in known})
