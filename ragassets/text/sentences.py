"""The package's one sentence splitter: spaCy's rule-based ``sentencizer`` on a blank English pipeline.

The pipeline is built once per process (no model, no download). spaCy proposes the boundaries; two
small adjustments keep what the chunker and the question tools rely on:

- the tokenizer splits every terminator off the end of a word ("4-I." -> "4-I" ".") and splits
  inside a word at the full-width terminators of CJK text (``。！？``), which need no space after
  them, so the sentencizer sees each candidate end;
- a proposed boundary is dropped where a period does not end a sentence: after a known abbreviation
  ("Nov. 7", "Fig. 3"), an initial ("J. A. Lovell"), a leading list number ("1. The first item"),
  before a lower-case word, or with no space after it ("3.5", "e.g.,"). Opening quotes and brackets
  after a boundary start the next sentence instead of ending the previous one.

Spans are character offsets; whitespace between sentences belongs to neither. No Dagster import.
"""

from __future__ import annotations

import functools
import itertools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language

# Abbreviations after which a period does not end a sentence (compared lower-cased, without dots).
ABBREVIATIONS = frozenset(
    [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "vs", "etc", "eg", "ie", "cf", "al",
        "approx", "ca", "no", "nos", "vol", "fig", "figs", "eq", "eqs", "ref", "refs", "sec", "secs", "ch",
        "chap", "pp", "p", "para", "art", "col", "cols", "dept", "est", "inc", "ltd", "co", "corp", "gen",
        "gov", "lt", "sgt", "capt", "cmdr", "adm", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
        "sept", "oct", "nov", "dec", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "univ", "min", "max",
        "avg", "hr", "hrs", "deg", "lb", "lbs", "oz", "in", "yr", "yrs", "resp", "incl",
    ]
)  # fmt: skip
LATIN_END = ".!?…"
WIDE_END = "。！？｡؟۔।॥"  # CJK, Arabic/Urdu and Devanagari terminators: no space needed after them
CLOSERS = "\"'”’)]»」』）"
OPENERS = "\"'“‘([«「『（"
_TERMINAL_RUN = re.compile(rf"[{re.escape(LATIN_END + WIDE_END)}]+[{re.escape(CLOSERS)}]*$")
# a new block: a blank line, or a line that starts a heading, list item, quote or table row
_BLOCK_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:[#>*\-+|•]|\d+[.)])\s)")


@functools.cache
def sentencizer() -> Language:
    """The blank English pipeline with the sentencizer, built once per process."""
    import spacy
    from spacy.pipeline import Sentencizer
    from spacy.util import compile_infix_regex, compile_suffix_regex

    nlp = spacy.blank("en")
    nlp.max_length = 50_000_000  # rule-based: memory grows with the text, no model limit applies
    nlp.tokenizer.suffix_search = compile_suffix_regex(
        [*nlp.Defaults.suffixes, rf"[{re.escape(LATIN_END + WIDE_END)}]"]
    ).search
    nlp.tokenizer.infix_finditer = compile_infix_regex([*nlp.Defaults.infixes, rf"[{WIDE_END}]"]).finditer
    # spaCy's own dotted exceptions ("g.", "p.m.", "Fla.") would hide a sentence end inside a token;
    # whether a period after a word ends a sentence is decided by ABBREVIATIONS below instead
    nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items() if not k.endswith(".")}
    runs = ["".join(p) for n in (1, 2, 3) for p in itertools.product(LATIN_END, repeat=n)]  # "?!", ".."
    punct = [*Sentencizer.default_punct_chars, *runs]
    nlp.add_pipe("sentencizer", config={"punct_chars": punct})
    return nlp


def _ends_sentence(text: str, s: int, e: int, nxt: int) -> bool:
    """Whether ``text[s:e]`` (stripped) ends a sentence before the next one starting at ``nxt``."""
    run = _TERMINAL_RUN.search(text, s, e)
    if run is None:
        return False
    if any(c in WIDE_END for c in run.group(0)):
        return True
    if e == nxt or text[nxt].islower():
        return False  # "3.5", "e.g.,", "U.S. policy"
    if run.group(0).rstrip(CLOSERS) == ".":
        ws = run.start()
        while ws > s and not text[ws - 1].isspace():
            ws -= 1
        word = text[ws : run.start()].replace(".", "").lower()
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
        if word.isdigit() and ws == s:
            return False  # "1. The first item"
    return True


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text[start:end]``, in offsets of ``text``."""
    end = len(text) if end is None else end
    piece = text[start:end]
    if not piece.strip():
        return []
    starts = [start + sent.start_char for sent in sentencizer()(piece).sents][1:]
    spans: list[tuple[int, int]] = []
    s = start
    for b in starts:
        while b < end and text[b].isspace():
            b += 1
        if b >= end:
            break
        q = b
        while q > s and text[q - 1] in OPENERS:
            q -= 1
        if q < b and q > s and text[q - 1].isspace():
            b = q  # an opening quote or bracket begins the next sentence
        e = b
        while e > s and text[e - 1].isspace():
            e -= 1
        while s < e and text[s].isspace():
            s += 1
        if e > s and _ends_sentence(text, s, e, b):
            spans.append((s, e))
            s = b
    while s < end and text[s].isspace():
        s += 1
    e = end
    while e > s and text[e - 1].isspace():
        e -= 1
    if e > s:
        spans.append((s, e))
    return spans


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` with whitespace collapsed; blank lines and lines that start a heading,
    list item, quote or table row end a sentence too."""
    out: list[str] = []
    for block in _BLOCK_BREAK.split(text or ""):
        block = " ".join(block.split())
        out.extend(block[s:e] for s, e in sentence_spans(block))
    return out
