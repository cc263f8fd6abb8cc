"""Responders for the LLM test server that behave like a cooperative model on our prompts.

They read the rendered prompt the way a model would (the CURRENT passage, the difficulties asked
for, the passage to rewrite) so tests can check that what the stage sent reached the model and what
the model answered reached the table.
"""

from __future__ import annotations

import json
import re
from typing import Any

QUESTION_MARK = "[server]"  # every generated question carries it, so tests can tell server output apart


def _last_user(body: dict[str, Any]) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


def _between(text: str, start: str) -> str:
    m = re.search(re.escape(start) + r'\s*"""\n(.*?)\n"""', text, re.DOTALL)
    return m.group(1) if m else ""


def model_like(body: dict[str, Any]) -> str:
    """Answer a questions prompt with one question per requested difficulty (answers are sentences of
    the CURRENT passage), and a paraphrase prompt with the passage's sentences in reverse order.
    A CURRENT passage containing 'UNPARSEABLE' gets prose instead of JSON, every time."""
    first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "CURRENT passage" in first_user:
        current = _between(first_user, "CURRENT passage:")
        if "UNPARSEABLE" in current:
            return "I am sorry, I cannot write questions about this."
        m = re.search(r"with these difficulties in this order: ([a-z, ]+)\.", first_user)
        diffs = [d.strip() for d in m.group(1).split(",")] if m else ["easy"]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(current.split())) if len(s.split()) >= 3]
        out = []
        for i, d in enumerate(diffs):
            s = sentences[i % len(sentences)] if sentences else current.strip()
            head = " ".join(s.split()[:6])
            out.append({"question": f"{QUESTION_MARK} What does the passage say about {head}? ({d} #{i})",
                        "answer": s, "difficulty": d, "evidence": s})
        return json.dumps({"questions": out})
    if "Passage:" in first_user:
        passage = _between(first_user, "Passage:")
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(passage.split()))
        return "Here is the rewritten passage:\n" + " ".join(reversed(sentences))
    return "unexpected prompt"


def prompts_of(stats: dict[str, Any]) -> int:
    return int(stats["chat_requests"])
