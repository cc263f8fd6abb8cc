"""``offline``: a small deterministic stand-in for a model. It is NOT a language model.

It exists so the whole graph runs on a laptop with no network and no weights, and so tests have
outputs they can predict. One short function per task, each extractive: what it answers is copied
from the text it was given, so it always parses and is grounded, but it is no training data to ship
(point ``llm`` at a real model for that; see the README).

- ``paraphrase``: the text with the sentences of each prose paragraph rotated (``variant`` picks
  the rotation); a one-sentence paragraph, headings, lists, tables and code are copied. Close to a
  copy on purpose: ``paraphrase_fidelity`` warns about it.
- ``questions``: cloze questions on the dates, times, numbers, quantities and names of the prose
  sentences of the *current* chunk, the answer copied from the sentence (easy: the whole sentence,
  medium: the clause around the blank, hard: key terms only).
- ``conversation``: the user asks about a statement's key terms, the assistant answers with it.
- ``rag_answer``: a question on the source's first statement, answered with that statement.
- ``chunk_filter``: a length and content rule (words, letters, a prose statement), with a reason.
- ``judge``: the rubric from answer words found in the source, question words in the source, the
  question's form and the answer's length; overall is the sum.
- any other task: a minimal instance of the requested JSON schema, or the prompt's first sentences.

Every result says ``provider=offline`` and model ``offline-standin-v2``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ragassets.llm.accounting import estimate_message_tokens, estimate_tokens
from ragassets.llm.providers.base import Provider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage
from ragassets.text.chunking import parse_blocks
from ragassets.text.sentences import sentence_spans, split_sentences
from ragassets.text.words import content_words, normalize, stopwords, words

OFFLINE_MODEL = "offline-standin-v2"

# ---------------------------------------------------------------------------------------------------
# facts: dates, times, numbers, quantities and names in a sentence

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)"
)
_NUM = r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?%?"
_UNITS = (
    r"percent|%|feet|foot|ft|miles?|met(?:er|re)s?|km|kilomet(?:er|re)s|kg|kilograms|pounds|lbs?|tons"
    r"|hours?|minutes?|seconds?|days?|weeks?|months|years|psi|degrees|volts|amp(?:ere)?s|watts|kw|mph"
    r"|knots|fps|gallons|lit(?:er|re)s|people|persons|employees|dollars|euros|million|billion|thousand"
    r"|nautical|times|cm|mm|m|g|s"
)
FACT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [  # most specific first; a span is claimed once
    (
        "date",
        re.compile(
            rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
            rf"|{_MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})\b"
        ),
    ),
    # a time of day is one fact ("09:00", "7:30 pm"), never its hours and minutes as two numbers
    (
        "time",
        re.compile(
            r"(?<![\w.:])(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?\b)?(?![\w:])", re.IGNORECASE
        ),
    ),
    ("year", re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")),
    ("quantity", re.compile(rf"{_NUM}\s*(?i:{_UNITS})(?![A-Za-z])")),
    ("number", re.compile(_NUM)),
    ("name", re.compile(r"\b[A-Z][a-zA-Z'\-]+(?:\s+(?:of|de|von|van|the)?\s*[A-Z][a-zA-Z'\-]+)*")),
]
# redaction placeholders (<PERSON>, <US_SSN:9c8f...>) are not facts: nothing is asked about them
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*(?::[0-9a-f]+)?>")
_LIST_MARKER = re.compile(r"^(?:[-*+•>]|\d+[.)])\s+")


@dataclass(frozen=True)
class Span:
    kind: str  # date | time | year | quantity | number | name
    text: str
    start: int
    end: int


def _is_name(text: str, sentence_initial: bool, stop: frozenset[str]) -> bool:
    """A capitalised run is a name unless it is one short or common word; at the start of a
    sentence, where every word is capitalised, only a run of two or more words is."""
    parts = text.split()
    if sentence_initial:
        return len(parts) >= 2 and parts[0].lower() not in stop
    return len(parts) >= 2 or (parts[0].lower() not in stop and len(parts[0]) >= 3)


def find_spans(sentence: str) -> list[Span]:
    """The facts of a sentence, most specific kind first, then by position; never overlapping."""
    taken = [m.span() for m in _PLACEHOLDER.finditer(sentence)]
    first_word_end = len(sentence) - len(sentence.lstrip()) + len((sentence.split() or [""])[0])
    spans: list[Span] = []
    for kind, pattern in FACT_PATTERNS:
        for m in pattern.finditer(sentence):
            a, b = m.span()
            if kind == "name" and not _is_name(m.group(), a < first_word_end, stopwords()):
                continue
            if all(b <= s or a >= e for s, e in taken):
                spans.append(Span(kind, m.group(), a, b))
                taken.append((a, b))
    return spans


def _verbatim(text: str) -> bool:
    """HTML, dot leaders (tables of contents) and mostly-capitals lines (titles): not prose."""
    if re.search(
        r"</?(?:html|body|table|tr|td|th|pre|div|p|br|img)\b|\.{4,}|·{2,}|(?:\. ){3,}", text, re.IGNORECASE
    ):
        return True
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and sum(c.isupper() for c in letters) >= 0.6 * len(letters)


def prose_sentences(text: str) -> list[str]:
    """Sentences of the paragraphs and list items of Markdown ``text``: never a heading, table row,
    code line, HTML or a title in capitals."""
    out = []
    for block in parse_blocks(text):
        if block.kind in ("paragraph", "list"):
            for s in split_sentences(text[block.start : block.end]):
                s = _LIST_MARKER.sub("", s)
                if s and not _verbatim(s):
                    out.append(s)
    return out


def _statement(sentence: str) -> bool:
    """Four words or more and a full stop, or eight words or more: a short line without a full stop
    is a title ("Volunteer roster, spring 2024")."""
    n = len(sentence.split())
    return n >= 8 or (n >= 4 and bool(re.search(r"[.!?][\"')\]]*$", sentence)))


def _asks_well(sentence: str, span: Span) -> bool:
    """The blank leaves at least three words of the sentence around it to go by."""
    return len((sentence[: span.start] + " " + sentence[span.end :]).split()) >= 3


def facts(text: str) -> list[tuple[str, Span]]:
    """(sentence, span) pairs of the prose of ``text``: every sentence's first fact, then every
    sentence's second, ..., so that consecutive facts come from different sentences."""
    per_sentence = [
        [(s, sp) for sp in find_spans(s) if _asks_well(s, sp)] for s in prose_sentences(text) if _statement(s)
    ]
    return [f for layer in itertools.zip_longest(*per_sentence) for f in layer if f is not None]


def _keywords(text: str, k: int = 4) -> list[str]:
    """The ``k`` longest distinct content words of ``text`` that are not numbers."""
    seen = dict.fromkeys(w for w in content_words(text) if not w[0].isdigit() and len(w) > 1)
    return sorted(seen, key=len, reverse=True)[:k]


# ---------------------------------------------------------------------------------------------------
# tasks: one short function each, (template variables) -> the task's output as a dict


def make_question(sentence: str, span: Span, difficulty: str) -> str:
    cloze = (sentence[: span.start] + "___" + sentence[span.end :]).strip()
    if difficulty == "easy":
        return f'Which {span.kind} completes this statement from the text: "{cloze}"?'
    if difficulty == "medium":
        clause = next(c.strip() for c in re.split(r"[,;:]\s", cloze) if "___" in c)
        return f'According to the passage, which {span.kind} fits in: "{clause if len(clause.split()) >= 4 else cloze}"?'
    terms = _keywords(sentence[: span.start] + " " + sentence[span.end :])
    if not terms:
        return f"Which {span.kind} does the passage mention?"
    return f"Which {span.kind} does the passage give in connection with {', '.join(terms)}?"


def task_questions(inputs: dict[str, Any]) -> dict[str, Any]:
    difficulties = [
        d if d in ("easy", "medium", "hard") else "medium" for d in inputs.get("difficulties") or []
    ]
    found = facts(str(inputs.get("current", "")))[: int(inputs.get("n", 1))]
    return {
        "questions": [
            {
                "question": make_question(sentence, span, diff),
                "answer": span.text,
                "difficulty": diff,
                "evidence": sentence,
            }
            for (sentence, span), diff in zip(found, itertools.cycle(difficulties or ["easy"]))
        ]
    }


def paraphrase(text: str, variant: int = 0) -> str:
    """``text`` with the sentences of each prose paragraph rotated by ``variant + 1`` places
    (variants differ where a paragraph has enough sentences); everything else is copied."""
    out, last = [], 0
    for block in parse_blocks(text):
        body = text[block.start : block.end]
        spans = sentence_spans(text, block.start, block.end) if block.kind == "paragraph" else []
        if len(spans) > 1 and not _verbatim(body):
            k = (max(0, int(variant)) + 1) % len(spans)
            sentences = [text[s:e] for s, e in spans]
            body = " ".join(" ".join(s.split()) for s in sentences[k:] + sentences[:k])
        out += [text[last : block.start], body]
        last = block.end
    return ("".join(out) + text[last:]).strip()


def task_conversation(inputs: dict[str, Any]) -> dict[str, Any]:
    """The passages' statements (the main passage's first) answer questions on their key terms."""
    texts = [str(p.get("text", "")) for p in inputs.get("passages") or []] or [str(inputs.get("text", ""))]
    sentences = [s for t in texts for s in prose_sentences(t) if _statement(s) and not s.endswith("?")]
    turns: list[dict[str, str]] = []
    for i, sentence in enumerate(sentences[: max(1, int(inputs.get("n_turns", 2)))]):
        topic = ", ".join(_keywords(sentence, 3)) or "that"
        ask = f"What can you tell me about {topic}?" if i == 0 else f"And what about {topic}?"
        turns += [{"role": "user", "content": ask}, {"role": "assistant", "content": sentence}]
    return {"turns": turns or [{"role": "user", "content": "What is this about?"},
                               {"role": "assistant", "content": " ".join(" ".join(texts).split()) or "Nothing."}]}


def task_rag_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    """A question on the key terms of the source's first statement, answered with that statement
    (success or failure alike: the answer always comes from the source, never from the context)."""
    source = str(inputs.get("source", ""))
    statements = (s for s in prose_sentences(source) if _statement(s) and not s.endswith("?"))
    sentence = next(statements, " ".join(source.split()) or "Nothing.")
    return {"question": f"What do you know about {', '.join(_keywords(sentence, 3)) or 'this'}?", "answer": sentence}


def task_chunk_filter(inputs: dict[str, Any]) -> dict[str, Any]:
    """Not suitable when short, mostly non-letters, or without a statement; a one-line reason."""
    text = str(inputs.get("text", ""))
    n = len(words(text))
    letters = sum(c.isalpha() for c in text) / (sum(not c.isspace() for c in text) or 1)
    statements = sum(_statement(s) for s in prose_sentences(text))
    problem = next((why for bad, why in [(n < 20, f"too short ({n} words)"),
                                         (letters < 0.6, f"mostly non-letters ({letters:.0%} letters)"),
                                         (not statements, "no prose statement to ask about")] if bad), None)
    if problem:
        return {"verdict": "not_suitable", "reason": problem}
    return {"verdict": "suitable", "reason": f"{n} words of prose, {statements} statement(s), {letters:.0%} letters"}


def task_judge(inputs: dict[str, Any]) -> dict[str, Any]:
    """The judge's rubric from measurable things (a stand-in, not a judgment): accuracy 0-3 from the answer's
    words found in the source (3 when the whole answer is there), relevance 0-2 from the question's words in the
    source, clarity 0-2 from the question's form (a question mark, 5-40 words, no blank), usefulness 0-3 from the
    answer's length (up to 25 words: 3); overall is their sum."""
    question, answer, context = (str(inputs.get(k, "")) for k in ("question", "answer", "context"))
    source = set(words(context))

    def found(ws: list[str]) -> float:
        return sum(w in source for w in ws) / (len(ws) or 1)

    whole = bool(normalize(answer)) and f" {normalize(answer)} " in f" {normalize(context)} "
    grounded = 1.0 if whole else found(content_words(answer))
    relevant = found(content_words(question))
    n_q, n_a = len(question.split()), len(answer.split())
    form = [question.strip().endswith("?"), 5 <= n_q <= 40, "___" not in question]
    scores = {
        "accuracy": round(3 * grounded),
        "relevance": round(2 * relevant),
        "clarity": max(0, sum(form) - 1),
        "usefulness": 0 if n_a == 0 else 3 if n_a <= 25 else 2 if n_a <= 60 else 1,
    }
    reasons = {
        "accuracy": f"answer {'found verbatim' if whole else f'words found: {grounded:.0%}'} in the source",
        "relevance": f"question words in the source: {relevant:.0%}",
        "clarity": f"question of {n_q} words, {'a' if form[0] else 'no'} question mark, {'no' if form[2] else 'a'} blank",
        "usefulness": f"answer of {n_a} words",
    }
    return {**{f"{k}_reason": f"stand-in: {v}" for k, v in reasons.items()}, **scores, "overall": sum(scores.values())}


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value that validates against a (simple) JSON schema."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return minimal_instance(defs[schema["$ref"].split("/")[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            return minimal_instance(schema[combo][0], defs)
    t = schema.get("type")
    t = t[0] if isinstance(t, list) else t
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal_instance(v, defs) for k, v in props.items() if k in schema.get("required", props)}
    if t == "array":
        return [
            minimal_instance(schema.get("items", {}), defs) for _ in range(int(schema.get("minItems", 0)))
        ]
    if t == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if t == "integer":
        return int(schema.get("minimum", 0))
    if t == "number":
        return float(schema.get("minimum", 0))
    return True if t == "boolean" else None


TASK_FUNCTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "questions": task_questions,
    "conversation": task_conversation,
    "rag_answer": task_rag_answer,
    "chunk_filter": task_chunk_filter,
    "judge": task_judge,
}

# when a request carries no template variables, the last user message stands in for the main one
_MAIN_VARIABLE = {
    "paraphrase": "text",
    "questions": "current",
    "conversation": "text",
    "chunk_filter": "text",
    "judge": "context",
    "rag_answer": "source",
}


def answer(request: LLMRequest) -> str:
    """The offline answer to one request (a JSON string for structured tasks)."""
    inputs = dict(request.inputs or {})
    user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    if request.task in _MAIN_VARIABLE and not inputs:
        inputs[_MAIN_VARIABLE[request.task]] = user
    if request.task == "paraphrase":
        return paraphrase(str(inputs.get("text", "")), int(inputs.get("variant", 0) or 0))
    if request.task in TASK_FUNCTIONS:
        return json.dumps(TASK_FUNCTIONS[request.task](inputs), ensure_ascii=False)
    if request.json_schema is not None:
        return json.dumps(minimal_instance(request.json_schema), ensure_ascii=False)
    return " ".join(split_sentences(user)[:2]) or user.strip()


class OfflineProvider(Provider):
    kind = "offline"
    mode = "batch"
    native_json_schema = True  # its structured answers match the task models by construction
    batch_size = 256

    def __init__(self, model: str | None = None) -> None:
        super().__init__(model or OFFLINE_MODEL)

    def complete_batch(
        self, requests: list[LLMRequest], params: list[SamplingParams]
    ) -> list[Completion | ProviderError]:
        out: list[Completion | ProviderError] = []
        for req in requests:
            try:
                text = answer(req)
            except Exception as exc:  # noqa: BLE001 - one failing request must not take the batch down
                digest = hashlib.sha256(repr(req.messages).encode()).hexdigest()[:8]
                out.append(
                    ProviderError("provider_error", f"offline stand-in failed on request {digest}: {exc!r}")
                )
                continue
            usage = Usage(estimate_message_tokens(req.messages), estimate_tokens(text), "estimate")
            out.append(Completion(text=text, usage=usage, finish_reason="stop"))
        return out
