"""RAG training lines as axolotl ``input_output`` segments, with the loss mask in the labels.

Items (one question/answer pair each, with the context its retrieval simulation showed) are put in
groups of ``num_items_per_group`` (a seeded shuffle, so a re-run groups the same way). Each group
gives one line per item ``i``::

    {"segments": [
      {"label": false, "text": bos + system_format(prompt with item i's context in {data})},
      {"label": false, "text": user_format(question of item 0)},
      {"label": false, "text": assistant_format(answer of item 0)},
      ...
      {"label": true,  "text": user_format(question of item i)},
      {"label": true,  "text": assistant_format(answer of item i)},
      ...  (the other items of the group, unlabelled)
    ]}

so the model reads the whole group but is trained on item i's pair only, the one whose context is
in the system prompt. Axolotl must keep ``train_on_inputs: false`` for the labels to count.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragassets.rag.chat_format import ChatFormat
from ragassets.rag.ids import stable_id

DATA_PLACEHOLDER = "{data}"
#: text that must never reach training data: unfilled placeholders and template syntax
PLACEHOLDERS = ("{data}", "{context}", "{{", "{%")


@dataclass(frozen=True)
class ContextChunk:
    """A chunk as the simulated retrieval shows it."""

    chunk_id: str
    source: str
    text: str


@dataclass(frozen=True)
class RagItem:
    """One question/answer pair with the context it was written against."""

    item_id: str
    chunk_id: str
    rag_failed: bool
    question: str
    answer: str
    context: tuple[ContextChunk, ...]


def stringify_chunks(chunks: Sequence[ContextChunk]) -> str:
    """The retrieved chunks as the system prompt shows them: numbered blocks of
    ``Chunk k`` / ``Source: ...`` / text, separated by ``---``."""
    if not chunks:
        return "No relevant information was retrieved."
    blocks = [f"Chunk {k}\nSource: {c.source}\n---\n{c.text.strip()}\n---" for k, c in enumerate(chunks, 1)]
    return "\n\n".join(blocks)


def fill_prompt(prompt: str, chunks: Sequence[ContextChunk]) -> str:
    """``prompt`` with ``{data}`` replaced by the stringified chunks (plain replacement: braces
    elsewhere in the prompt stay as written)."""
    if DATA_PLACEHOLDER not in prompt:
        raise ValueError(f"a final assistant prompt has no {DATA_PLACEHOLDER} placeholder: {prompt!r}")
    return prompt.replace(DATA_PLACEHOLDER, stringify_chunks(chunks)).strip()


def group_items(items: Sequence[RagItem], size: int, seed: int) -> list[list[RagItem]]:
    """Items shuffled with ``seed`` (after sorting by item_id, so the input order does not matter)
    and cut into groups of ``size`` (the last one may be smaller)."""
    if size < 1:
        raise ValueError(f"num_items_per_group must be at least 1, got {size}")
    ordered = sorted(items, key=lambda it: it.item_id)
    random.Random(f"group:{seed}").shuffle(ordered)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


@dataclass(frozen=True)
class SegmentLine:
    """One training line: the item it trains on, its group, its system prompt and segments."""

    item: RagItem
    group_id: str
    position: int
    system_prompt: str
    segments: list[dict[str, Any]]

    def messages(self) -> list[dict[str, str]]:
        """The item as OpenAI messages: the system prompt with its context, its question, its answer."""
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": self.item.question},
            {"role": "assistant", "content": self.item.answer},
        ]


def group_lines(
    group: Sequence[RagItem], group_id: str, fmt: ChatFormat, prompts: Sequence[str], rng: random.Random
) -> list[SegmentLine]:
    """The lines of one group: line i is labelled on item i's pair and carries item i's context."""
    turns = [(fmt.user(it.question), fmt.assistant(it.answer)) for it in group]
    lines = []
    for i, item in enumerate(group):
        system_prompt = fill_prompt(rng.choice(list(prompts)), item.context)
        segments: list[dict[str, Any]] = [{"label": False, "text": fmt.bos + fmt.system(system_prompt)}]
        for j, (user, assistant) in enumerate(turns):
            segments.append({"label": j == i, "text": user})
            segments.append({"label": j == i, "text": assistant})
        lines.append(SegmentLine(item, group_id, i, system_prompt, segments))
    return lines


def build_lines(
    items: Sequence[RagItem], fmt: ChatFormat, prompts: Sequence[str], size: int, seed: int
) -> list[SegmentLine]:
    """Every line of every group, groups in their seeded order. The prompt of each line is picked
    with a generator seeded by ``seed``."""
    if not prompts:
        raise ValueError("rag.final_assistant_prompts is empty: give at least one prompt containing {data}")
    rng = random.Random(f"prompt:{seed}")
    out: list[SegmentLine] = []
    for group in group_items(items, size, seed):
        group_id = stable_id("rag_group", seed, *(it.item_id for it in group))
        out.extend(group_lines(group, group_id, fmt, prompts, rng))
    return out


# --- validation (the segments_valid check) --------------------------------------------------------


def _strip_known(text: str, known: Sequence[str]) -> str:
    """``text`` without the quoted pieces that themselves hold placeholder-like text."""
    for piece in sorted((k for k in known if k and any(p in k for p in PLACEHOLDERS)), key=len, reverse=True):
        text = text.replace(piece, " ")
    return text


def segment_line_problems(line: Any, bos: str = "", known_texts: Sequence[str] = ()) -> list[str]:
    """What is wrong with one line (``[]`` when nothing): it must be ``{"segments": [...]}`` of
    ``{"label": bool, "text": non-empty str}``; the first segment unlabelled and starting with
    ``bos`` (when one is set); exactly one user+assistant pair labelled, adjacent, after the system
    segment; no unfilled placeholder or template syntax (``{data}``, ``{context}``, ``{{``, ``{%``)
    outside ``known_texts`` (the chunk texts, questions and answers the line quotes, which may
    legitimately contain braces)."""
    if not isinstance(line, dict) or set(line) != {"segments"} or not isinstance(line["segments"], list):
        return ['not an object of the form {"segments": [...]}']
    segs = line["segments"]
    if len(segs) < 3:
        return [f"{len(segs)} segment(s): a line needs a system segment and at least one user+assistant pair"]
    problems = []
    for k, seg in enumerate(segs):
        if not isinstance(seg, dict) or set(seg) != {"label", "text"}:
            problems.append(f"segment {k} is not {{label, text}}")
        elif not isinstance(seg["label"], bool) or not isinstance(seg["text"], str):
            problems.append(f"segment {k}: label must be a bool and text a string")
        elif not seg["text"].strip():
            problems.append(f"segment {k} has empty text")
    if problems:
        return problems
    if segs[0]["label"]:
        problems.append("the first (system) segment is labelled: the context prompt would be trained on")
    if bos and not segs[0]["text"].startswith(bos):
        problems.append(f"the first segment does not start with bos {bos!r}")
    if (len(segs) - 1) % 2:
        problems.append("the turns after the system segment are not user+assistant pairs")
    labelled = [k for k, s in enumerate(segs) if s["label"]]
    if len(labelled) != 2 or labelled[1] != labelled[0] + 1 or labelled[0] % 2 != 1:
        problems.append(f"{len(labelled)} labelled segment(s) at {labelled}: exactly one user+assistant pair must be")
    for k, seg in enumerate(segs):
        rest = _strip_known(seg["text"], known_texts)
        found = [p for p in PLACEHOLDERS if p in rest]
        if found:
            problems.append(f"segment {k} has unfilled placeholder(s) {found}")
    return problems


# --- the loss mask, as a trainer applies it ------------------------------------------------------


def tokenize_segments(tokenizer: Any, segments: Sequence[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of a line as axolotl's ``input_output`` builds them: each segment tokenized
    on its own without added special tokens, concatenated; labels are the ids on labelled segments
    and -100 (ignored by the loss) on the others."""
    ids: list[int] = []
    labels: list[int] = []
    for seg in segments:
        part = tokenizer(seg["text"], add_special_tokens=False)["input_ids"]
        ids.extend(part)
        labels.extend(part if seg["label"] else [-100] * len(part))
    return ids, labels


SCAFFOLDING = re.compile(
    r"\bchunk\s*\d+\b|\bground truth\b|\bthe (?:passage|context|chunk|excerpt|retrieved (?:text|information|chunks?))\b"
    r"|\bsource:|\{data\}|\{context\}|\bprovided (?:text|context|passages?)\b|\baccording to the (?:text|document)\b",
    re.IGNORECASE,
)


def scaffolding_in(answer: str, source: str = "") -> list[str]:
    """The prompt scaffolding an answer carries ("Chunk 1", "Ground Truth", "the passage",
    "the context", template words): words a user would never see from a deployed model. Phrases the
    ``source`` text itself uses (a ferry timetable may well say "the passage") do not count."""
    in_source = {m.group(0).lower() for m in SCAFFOLDING.finditer(source)}
    return sorted({m.group(0).lower() for m in SCAFFOLDING.finditer(answer)} - in_source)
