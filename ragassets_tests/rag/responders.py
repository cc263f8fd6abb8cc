"""LLM test server responders that read our conversation, RAG-answer and chunk-filter prompts the way a
cooperative model would, so tests can check what the stage sent and that what came back lands in the
tables. Every generated question carries SERVER_MARK."""

from __future__ import annotations

import json
import re
from typing import Any

SERVER_MARK = "[server]"


def _first_user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def _quoted(text: str, label: str) -> str:
    m = re.search(re.escape(label) + r'[^\n]*\n"""\n(.*?)\n"""', text, re.DOTALL)
    return m.group(1) if m else ""


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s.split()) >= 3] or [text.strip()]


def rag_like(body: dict[str, Any]) -> str:
    """chunk_filter: suitable when the passage has at least 8 words; conversation: the exchanges asked
    for, answers are sentences of the main passage; rag_answer: a question about the source and its
    first sentence as the answer (from the context when retrieval succeeded: then it is in there)."""
    user = _first_user(body)
    if "Is this passage suitable?" in user:
        words = len(_quoted(user, "Passage:").split())
        if words >= 8:
            return json.dumps({"verdict": "suitable", "reason": f"{words} words of prose"})
        return json.dumps({"verdict": "not_suitable", "reason": f"only {words} words"})
    if "Write a conversation of exactly" in user:
        n = int(re.search(r"exactly (\d+) exchange", user).group(1))
        sentences = _sentences(_quoted(user, "Main passage"))
        turns = []
        for i in range(n):
            s = sentences[i % len(sentences)]
            turns += [{"role": "user", "content": f"{SERVER_MARK} Tell me about {' '.join(s.split()[:4])} ({i})?"},
                      {"role": "assistant", "content": s}]
        return json.dumps({"turns": turns})
    if "Source passage (what the question is about)" in user:
        s = _sentences(_quoted(user, "Source passage"))[0]
        return json.dumps({"question": f"{SERVER_MARK} What about {' '.join(s.split()[:5])}?", "answer": s})
    return "unexpected prompt"


def says_not_suitable_in_prose(body: dict[str, Any]) -> str:
    """A model that ignores the schema and answers every screening in words ("Not suitable ...")."""
    return "Not suitable: this passage is unsuitable for questions."
