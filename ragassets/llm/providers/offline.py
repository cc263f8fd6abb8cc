"""``offline``: a deterministic, rule-based stand-in for a model. It is NOT a language model.

It exists so the whole graph runs on a laptop with no network and no weights, and so tests have
outputs they can predict. It answers every task the graph uses from the text it is given, with
rules whose outputs always parse and are always grounded in the source:

- ``paraphrase``: sentence by sentence, a leading subordinate clause is moved to the end ("After
  the burn, the crew slept." -> "The crew slept after the burn.") and words are swapped from a small
  built-in table of synonyms; numbers, dates and names are never touched.
- ``questions``: sentences of the *current* chunk that carry a date, a number or a name become
  questions whose answer is that span, copied from the text; difficulty follows how much of the
  sentence the question gives away (easy: the whole sentence, medium: a reworded one, hard: only
  key terms).
- ``conversation``: the same facts as user questions with the source sentences as answers.
- ``rag_answer``: the context sentence sharing most content words with the question, cited.
- ``chunk_filter``: measurable properties (words, letter ratio, sentence shape, table-of-contents
  lines, repetition).
- ``judge``: overlap of answer and question terms with the source, and the question's shape.

Every result says ``provider=offline`` and model ``offline-rules-v1``. Other tasks get an extract
of the user message (or a minimal instance of the requested JSON schema).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ragassets.llm.accounting import estimate_message_tokens, estimate_tokens
from ragassets.llm.providers.base import Provider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage

OFFLINE_MODEL = "offline-rules-v1"

# ---------------------------------------------------------------------------------------------------
# text analysis

_ABBREV = (
    "Mr.|Mrs.|Ms.|Dr.|Prof.|Sr.|Jr.|St.|Mt.|No.|Fig.|fig.|Figs.|Eq.|Vol.|vs.|etc.|e.g.|i.e.|approx.|"
    "Jan.|Feb.|Mar.|Apr.|Jun.|Jul.|Aug.|Sep.|Sept.|Oct.|Nov.|Dec.|U.S.|a.m.|p.m.|Inc.|Ltd.|Co.|Corp."
)
_ABBREV_SET = set(_ABBREV.split("|"))
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sep\\.?|Sept\\.?|Oct\\.?|Nov\\.?|Dec\\.?"
)
_DATE = re.compile(
    rf"\b(?:(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS}),?\s+\d{{4}}"
    rf"|(?:{MONTHS})\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}/\d{2,4})\b"
)
_YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")
UNITS = {
    "percent",
    "%",
    "feet",
    "foot",
    "ft",
    "miles",
    "mile",
    "meters",
    "metres",
    "meter",
    "km",
    "kilometers",
    "kg",
    "kilograms",
    "pounds",
    "lb",
    "lbs",
    "tons",
    "hours",
    "hour",
    "minutes",
    "minute",
    "seconds",
    "second",
    "days",
    "day",
    "weeks",
    "years",
    "months",
    "psi",
    "degrees",
    "volts",
    "amperes",
    "amps",
    "watts",
    "kw",
    "mph",
    "knots",
    "fps",
    "gallons",
    "liters",
    "litres",
    "people",
    "persons",
    "employees",
    "dollars",
    "euros",
    "million",
    "billion",
    "thousand",
    "nautical",
    "times",
    "cm",
    "mm",
    "m",
    "g",
    "s",
}
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?%?")
_CAPWORD = re.compile(r"\b[A-Z][a-zA-Z'\-]+(?:\s+(?:of|de|von|van|the)?\s*[A-Z][a-zA-Z'\-]+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d[\d,.]*")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "more",
        "most",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "after",
        "also",
        "all",
        "any",
        "before",
        "between",
        "both",
        "during",
        "each",
        "few",
        "however",
        "into",
        "just",
        "many",
        "much",
        "must",
        "only",
        "other",
        "over",
        "same",
        "some",
        "through",
        "under",
        "until",
        "up",
        "very",
    ]
)

# (word, replacement) pairs; applied as whole words, case preserved. Deliberately conservative:
# every pair keeps the meaning in ordinary technical and narrative prose.
SYNONYMS: dict[str, str] = {
    "about": "approximately",
    "additional": "extra",
    "approximately": "roughly",
    "assist": "help",
    "attempt": "try",
    "because": "since",
    "begin": "start",
    "began": "started",
    "buy": "purchase",
    "commence": "begin",
    "consequently": "as a result",
    "demonstrate": "show",
    "demonstrated": "showed",
    "difficult": "hard",
    "enough": "sufficient",
    "ensure": "make sure",
    "however": "nevertheless",
    "important": "significant",
    "large": "big",
    "later": "subsequently",
    "many": "numerous",
    "modify": "change",
    "modified": "changed",
    "necessary": "required",
    "obtain": "get",
    "obtained": "got",
    "occurred": "took place",
    "perform": "carry out",
    "performed": "carried out",
    "primary": "main",
    "quickly": "rapidly",
    "received": "got",
    "require": "need",
    "required": "needed",
    "show": "demonstrate",
    "showed": "demonstrated",
    "small": "little",
    "start": "begin",
    "started": "began",
    "therefore": "consequently",
    "use": "employ",
    "used": "employed",
    "using": "employing",
    "utilize": "use",
    "various": "several",
}

_SUBORDINATORS = (
    "After",
    "Before",
    "When",
    "While",
    "Because",
    "Although",
    "Though",
    "Since",
    "If",
    "Once",
    "Until",
    "During",
    "Following",
    "As soon as",
)
_SUBJECT_STARTERS = frozenset(
    [
        "the",
        "a",
        "an",
        "he",
        "she",
        "it",
        "they",
        "we",
        "i",
        "you",
        "this",
        "these",
        "those",
        "his",
        "her",
        "their",
        "our",
        "its",
        "there",
        "one",
        "each",
        "some",
    ]
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; lines (headings, list items) count as boundaries too."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[#>*\-]|\d+\.)\s)", text):
        block = " ".join(block.split())
        block = re.sub(r"^(?:#+|[>*\-]|\d+\.)\s+", "", block)
        if not block:
            continue
        pieces = _SENT_END.split(block)
        merged: list[str] = []
        for piece in pieces:
            if merged and merged[-1].split()[-1] in _ABBREV_SET:
                merged[-1] = merged[-1] + " " + piece
            else:
                merged.append(piece)
        out.extend(p.strip() for p in merged if p.strip())
    return out


def content_words(text: str) -> list[str]:
    return [w.lower().strip(".,") for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


@dataclass(frozen=True)
class Span:
    kind: str  # date | year | quantity | number | name
    text: str
    start: int
    end: int


def find_spans(sentence: str) -> list[Span]:
    """Dates, quantities, numbers and names in a sentence, most specific first, non-overlapping."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def add(kind: str, a: int, b: int) -> None:
        if free(a, b) and sentence[a:b].strip():
            spans.append(Span(kind, sentence[a:b], a, b))
            taken.append((a, b))

    for m in _DATE.finditer(sentence):
        add("date", m.start(), m.end())
    for m in _YEAR.finditer(sentence):
        add("year", m.start(), m.end())
    for m in _NUMBER.finditer(sentence):
        a, b = m.start(), m.end()
        if not any(ch.isdigit() for ch in m.group()):
            continue
        rest = sentence[b:]
        unit = re.match(r"\s*([A-Za-z%]+)", rest)
        if unit and unit.group(1).lower() in UNITS:
            b += unit.end()
            add("quantity", a, b)
        else:
            add("number", a, b)
    first_word_end = len(sentence.split()[0]) if sentence.split() else 0
    for m in _CAPWORD.finditer(sentence):
        a, b = m.start(), m.end()
        words = m.group().split()
        # a sentence-initial capital is a name only with two or more words
        if a < first_word_end and (len(words) < 2 or words[0].lower() in STOPWORDS):
            continue
        if len(words) == 1 and (words[0].lower() in STOPWORDS or len(words[0]) < 3):
            continue
        add("name", a, b)
    order = {"date": 0, "year": 1, "quantity": 2, "number": 3, "name": 4}
    return sorted(spans, key=lambda s: (order[s.kind], s.start))


def _match_case(src: str, repl: str) -> str:
    if src.isupper() and len(src) > 1:
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


def substitute(sentence: str, every: int = 1, offset: int = 0) -> str:
    """Swap words from :data:`SYNONYMS`; ``every``/``offset`` pick a subset, so paraphrase
    variants differ from each other."""
    count = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal count
        word = m.group(0)
        target = SYNONYMS.get(word.lower())
        if target is None:
            return word
        count += 1
        if (count - 1 + offset) % every != 0:
            return word
        return _match_case(word, target)

    return re.sub(r"\b[A-Za-z]+\b", repl, sentence)


def reorder_clause(sentence: str) -> str:
    """'After X, Y.' -> 'Y after X.', only when the sentence plainly opens with a subordinate
    clause: a known subordinator, then a comma followed by what looks like the main clause's subject
    (a determiner or pronoun, or a capitalised name). Commas inside the clause (dates, numbers) are
    skipped over, so 'On April 13, 1970, the crew ...' splits after 1970."""
    text = sentence.strip()
    conj = next((c for c in _SUBORDINATORS if text.startswith(c + " ")), None)
    if conj is None:
        return sentence
    end = text[-1] if text[-1] in ".!?" else "."
    body = text[:-1] if text[-1] in ".!?" else text
    for m in re.finditer(r",\s+", body):
        clause, main = body[len(conj) + 1 : m.start()], body[m.end() :]
        if len(clause) < 3 or not main:
            continue
        first = main.split()[0]
        if first.lower() in _SUBJECT_STARTERS:
            main = main[:1].upper() + main[1:]
        elif first[:1].isupper() and first.lower() not in STOPWORDS:
            pass  # a name as subject keeps its capital
        else:
            continue
        if len(main.split()) < 2 or "," in main and main.index(",") < 3:
            return sentence
        return f"{main.rstrip(',;')} {conj.lower()} {clause}{end}"
    return sentence


def paraphrase(text: str, variant: int = 0) -> str:
    sentences = split_sentences(text)
    out = []
    for i, s in enumerate(sentences):
        t = reorder_clause(s) if (variant % 2 == 0 or i % 2 == 0) else s
        t = substitute(t, every=1 + variant % 3, offset=variant)
        out.append(t)
    return " ".join(out) if out else text.strip()


# ---------------------------------------------------------------------------------------------------
# tasks

_LABEL = {"date": "date", "year": "year", "quantity": "quantity", "number": "number", "name": "name"}


def _facts(text: str) -> list[tuple[str, Span]]:
    """(sentence, span) candidates: each sentence's spans, interleaved so consecutive facts come
    from different sentences."""
    per_sentence = [(s, find_spans(s)) for s in split_sentences(text)]
    per_sentence = [(s, sp) for s, sp in per_sentence if sp and len(s.split()) >= 4]
    facts: list[tuple[str, Span]] = []
    depth = 0
    while True:
        layer = [(s, sp[depth]) for s, sp in per_sentence if len(sp) > depth]
        if not layer:
            break
        facts.extend(layer)
        depth += 1
    return facts


def _cloze(sentence: str, span: Span) -> str:
    return (sentence[: span.start] + "___" + sentence[span.end :]).strip()


def _keywords(sentence: str, span: Span, k: int = 4) -> list[str]:
    rest = sentence[: span.start] + " " + sentence[span.end :]
    seen: list[str] = []
    for w in content_words(rest):
        if w not in seen and not w[0].isdigit():
            seen.append(w)
    return sorted(seen, key=len, reverse=True)[:k]


def make_question(sentence: str, span: Span, difficulty: str) -> str:
    label = _LABEL[span.kind]
    if difficulty == "easy":
        return f'Which {label} completes this statement from the text: "{_cloze(sentence, span)}"?'
    if difficulty == "medium":
        reworded = substitute(reorder_clause(_cloze(sentence, span)))
        return f'According to the passage, which {label} fits in: "{reworded}"?'
    terms = _keywords(sentence, span)
    if not terms:
        return f"Which {label} does the passage mention?"
    return f"Which {label} does the passage give in connection with {', '.join(terms)}?"


def task_questions(inputs: dict[str, Any]) -> dict[str, Any]:
    n = int(inputs.get("n", 1))
    difficulties = list(inputs.get("difficulties") or []) or ["easy"]
    facts = _facts(str(inputs.get("current", "")))
    questions = []
    for i in range(min(n, len(facts))):
        sentence, span = facts[i]
        diff = difficulties[i % len(difficulties)]
        if diff not in ("easy", "medium", "hard"):
            diff = "medium"
        questions.append(
            {
                "question": make_question(sentence, span, diff),
                "answer": span.text,
                "difficulty": diff,
                "evidence": sentence,
            }
        )
    return {"questions": questions}


def task_conversation(inputs: dict[str, Any]) -> dict[str, Any]:
    text = str(inputs.get("text", ""))
    n = max(1, int(inputs.get("n_turns", 2)))
    facts = _facts(text)
    turns: list[dict[str, str]] = []
    used: set[str] = set()
    for sentence, span in facts:
        if sentence in used:
            continue
        used.add(sentence)
        terms = _keywords(sentence, span, k=3)
        topic = ", ".join(terms) if terms else "this"
        ask = (
            f"What does the text say about {topic}?"
            if not turns
            else f"And what is the {_LABEL[span.kind]} given for {topic}?"
        )
        turns += [{"role": "user", "content": ask}, {"role": "assistant", "content": sentence}]
        if len(turns) >= 2 * n:
            break
    sentences = split_sentences(text)
    for sentence in sentences:  # a passage without facts still gets a conversation
        if len(turns) >= 2 * n:
            break
        if sentence in used:
            continue
        used.add(sentence)
        turns += [
            {
                "role": "user",
                "content": "What else does the text say?" if turns else "What is this text about?",
            },
            {"role": "assistant", "content": sentence},
        ]
    if not turns:
        turns = [
            {"role": "user", "content": "What is this text about?"},
            {"role": "assistant", "content": text.strip() or "The text is empty."},
        ]
    return {"turns": turns}


def task_rag_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    question = str(inputs.get("question", ""))
    q_terms = set(content_words(question))
    best: tuple[float, str, str] | None = None
    for ctx in inputs.get("contexts") or []:
        ctx_id = str(ctx.get("id", "")) if isinstance(ctx, dict) else ""
        ctx_text = str(ctx.get("text", "")) if isinstance(ctx, dict) else str(ctx)
        for sentence in split_sentences(ctx_text):
            terms = set(content_words(sentence))
            if not terms:
                continue
            score = len(q_terms & terms) / (len(q_terms) or 1)
            if best is None or score > best[0]:
                best = (score, sentence, ctx_id)
    if best is None or best[0] == 0:
        return {"answer": "The provided context does not answer this question.", "citations": []}
    return {"answer": best[1], "citations": [best[2]] if best[2] else []}


def chunk_properties(text: str) -> dict[str, float]:
    words = text.split()
    letters = sum(ch.isalpha() for ch in text)
    visible = sum(not ch.isspace() for ch in text) or 1
    lines = [ln for ln in text.splitlines() if ln.strip()]
    toc = sum(bool(re.search(r"(\.{3,}|\s{2,})\s*\d+\s*$", ln)) for ln in lines)
    sentences = split_sentences(text)
    lowered = [w.lower() for w in words]
    return {
        "words": float(len(words)),
        "letter_ratio": letters / visible,
        "sentences": float(len(sentences)),
        "toc_line_ratio": toc / (len(lines) or 1),
        "unique_ratio": len(set(lowered)) / (len(lowered) or 1),
    }


def task_chunk_filter(inputs: dict[str, Any]) -> dict[str, Any]:
    p = chunk_properties(str(inputs.get("text", "")))
    problems = []
    if p["words"] < 20:
        problems.append(f"too short ({int(p['words'])} words)")
    if p["letter_ratio"] < 0.6:
        problems.append(f"mostly non-letters ({p['letter_ratio']:.0%} letters)")
    if p["toc_line_ratio"] > 0.3:
        problems.append(
            f"looks like a table of contents ({p['toc_line_ratio']:.0%} of lines end in page numbers)"
        )
    if p["unique_ratio"] < 0.3 and p["words"] >= 20:
        problems.append(f"repetitive ({p['unique_ratio']:.0%} distinct words)")
    if p["sentences"] < 1:
        problems.append("no sentences")
    score = (
        min(1.0, p["words"] / 60)
        * min(1.0, p["letter_ratio"] / 0.75)
        * (1.0 - min(1.0, p["toc_line_ratio"]))
        * min(1.0, p["unique_ratio"] / 0.4)
    )
    score = round(max(0.0, min(1.0, score)), 3)
    keep = not problems
    reason = (
        "; ".join(problems)
        if problems
        else (
            f"substantive prose: {int(p['words'])} words, {int(p['sentences'])} sentences, {p['letter_ratio']:.0%} letters"
        )
    )
    return {"keep": keep, "score": score, "reason": reason}


def _to_5(x: float) -> int:
    return int(max(1, min(5, 1 + round(4 * x))))


def task_judge(inputs: dict[str, Any]) -> dict[str, Any]:
    question = str(inputs.get("question", ""))
    answer = str(inputs.get("answer", ""))
    context = str(inputs.get("context", ""))
    ctx_terms = set(content_words(context))
    ctx_lower = context.lower()
    a_terms = content_words(answer)
    q_terms = content_words(question)
    if answer.strip() and answer.strip().lower() in ctx_lower:
        grounded = 1.0
    else:
        grounded = sum(t in ctx_terms for t in a_terms) / (len(a_terms) or 1)
    relevant = sum(t in ctx_terms for t in q_terms) / (len(q_terms) or 1)
    n_words = len(question.split())
    clarity = 1.0
    if not question.strip().endswith("?"):
        clarity -= 0.25
    if n_words < 5:
        clarity -= 0.5
    elif n_words > 40:
        clarity -= 0.25
    if "___" in question:
        clarity -= 0.25
    r, g, c = _to_5(relevant), _to_5(grounded), _to_5(max(0.0, clarity))
    overall = round((r + g + c) / 3, 2)
    rationale = (
        f"answer terms found in the source: {sum(t in ctx_terms for t in a_terms)}/{len(a_terms)}"
        f"{' (verbatim)' if grounded == 1.0 and a_terms else ''}; question terms in the source: "
        f"{sum(t in ctx_terms for t in q_terms)}/{len(q_terms)}; question of {n_words} words"
    )
    return {"relevance": r, "groundedness": g, "clarity": c, "overall": overall, "rationale": rationale}


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
    if isinstance(t, list):
        t = t[0]
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal_instance(v, defs) for k, v in props.items() if k in schema.get("required", props)}
    if t == "array":
        n = int(schema.get("minItems", 0))
        return [minimal_instance(schema.get("items", {}), defs) for _ in range(n)]
    if t == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if t == "integer":
        return int(schema.get("minimum", 0))
    if t == "number":
        return float(schema.get("minimum", 0))
    if t == "boolean":
        return True
    return None


TASK_RULES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
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
    "rag_answer": "question",
}


def answer(request: LLMRequest) -> str:
    """The offline answer to one request (a JSON string for structured tasks)."""
    inputs = dict(request.inputs or {})
    user = next((m["content"] for m in reversed(request.messages) if m["role"] == "user"), "")
    if request.task in _MAIN_VARIABLE and not inputs:
        inputs[_MAIN_VARIABLE[request.task]] = user
    if request.task == "paraphrase":
        return paraphrase(str(inputs.get("text", "")), int(inputs.get("variant", 0) or 0))
    rule = TASK_RULES.get(request.task)
    if rule is not None:
        return json.dumps(rule(inputs), ensure_ascii=False)
    if request.json_schema is not None:
        return json.dumps(minimal_instance(request.json_schema), ensure_ascii=False)
    sentences = split_sentences(user)
    return " ".join(sentences[:2]) if sentences else user.strip()


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
            except Exception as exc:  # noqa: BLE001 - a rule bug must not take the batch down
                digest = hashlib.sha256(repr(req.messages).encode()).hexdigest()[:8]
                out.append(
                    ProviderError("provider_error", f"offline rules failed on request {digest}: {exc!r}")
                )
                continue
            usage = Usage(estimate_message_tokens(req.messages), estimate_tokens(text), "estimate")
            out.append(Completion(text=text, usage=usage, finish_reason="stop"))
        return out
