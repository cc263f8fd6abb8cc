"""Words of a text for comparing texts (dedup, grounding, the offline stand-in): tokens, normal form,
content words. The stopwords are spaCy's English list, less its number words ("one", "third"):
a number is a fact that grounding must see, not filler. No Dagster import."""

from __future__ import annotations

import functools
import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:[.,'’\-][^\W_]+)*", re.UNICODE)


@functools.cache
def stopwords() -> frozenset[str]:
    """spaCy's English stop words without the number words (loaded on first use: importing spaCy
    takes seconds)."""
    from spacy.lang.en.lex_attrs import like_num
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(w for w in STOP_WORDS if not like_num(w))


def normalize(text: str) -> str:
    """Unicode NFKC, lower case, punctuation dropped, whitespace collapsed: the form two texts are
    compared in when 'the same words' is what matters."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_WORD.findall(text))


def words(text: str) -> list[str]:
    """Lower-cased word tokens; a number keeps its inner separators dropped ("1,970" -> "1970")."""
    out = []
    for w in _WORD.findall(unicodedata.normalize("NFKC", text or "").casefold()):
        if w[0].isdigit():
            w = w.replace(",", "")
        out.append(w)
    return out


def loose_words(text: str) -> list[str]:
    """:func:`words` with joined tokens split into their parts as well ("555-0134" -> "555", "0134";
    "U.S." -> "u", "s"), for matching a short answer inside a longer text."""
    out = []
    for w in words(text):
        out.extend(p for p in re.split(r"[.,'’\-]", w) if p)
    return out


def content_words(text: str) -> list[str]:
    """Words of ``text`` that carry meaning (stopwords dropped); all words when none is left."""
    ws = words(text)
    stop = stopwords()
    content = [w for w in ws if w not in stop]
    return content or ws
