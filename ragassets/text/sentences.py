"""The package's one sentence splitter: spaCy's rule-based ``sentencizer`` after its English tokenizer
(a blank English pipeline: no model, no download), built once per process. spaCy proposes the
boundaries; two small adjustments keep what the chunker and the question tools rely on:

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
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc

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
def sentencizer() -> Callable[[str], Doc]:
    """spaCy's English tokenizer followed by its ``sentencizer``, built once per process.

    The same as ``spacy.blank("en")`` with the sentencizer added, built from the parts: creating a
    ``Language`` loads every installed spaCy plugin (Presidio's pulls in transformers), 5 s of CPU
    per process that the splitter does not need.
    """
    from spacy.lang.en import English
    from spacy.pipeline import Sentencizer
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    from spacy.vocab import create_vocab

    d = English.Defaults
    tokenizer = Tokenizer(
        create_vocab("en", d),
        # spaCy's own dotted exceptions ("g.", "p.m.", "Fla.") would hide a sentence end inside a
        # token; whether a period after a word ends a sentence is decided by ABBREVIATIONS instead
        rules={k: v for k, v in d.tokenizer_exceptions.items() if not k.endswith(".")},
        prefix_search=compile_prefix_regex(d.prefixes).search,
        suffix_search=compile_suffix_regex([*d.suffixes, rf"[{re.escape(LATIN_END + WIDE_END)}]"]).search,
        infix_finditer=compile_infix_regex([*d.infixes, rf"[{WIDE_END}]"]).finditer,
        token_match=d.token_match,
        url_match=d.url_match,
    )
    runs = ["".join(p) for n in (1, 2, 3) for p in itertools.product(LATIN_END, repeat=n)]  # "?!", ".."
    sentencize = Sentencizer(punct_chars=[*Sentencizer.default_punct_chars, *runs])
    return lambda text: sentencize(tokenizer(text))


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
