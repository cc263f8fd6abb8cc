"""Guess a text's language well enough to warn when it does not match the PII policy's language.

Recognizers and name lists are chosen for the policy's language; a German document under an
English policy is still analysed (the pattern recognizers do not care), but names are found less
well, so the redaction step warns. The guess counts stop words of the supported languages (spaCy
ships the lists; no model, no download) and notices non-Latin scripts.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from functools import cache, lru_cache

from ragassets.settings import SUPPORTED_LANGUAGES

_WORD = re.compile(r"[^\W\d_]+")
SAMPLE_CHARS = 20_000
MIN_WORDS = 20


@cache
def _stop_words(language: str) -> frozenset[str]:
    module = importlib.import_module(f"spacy.lang.{language}.stop_words")
    return frozenset(w.lower() for w in module.STOP_WORDS)


@lru_cache(maxsize=1)
def _distinctive() -> dict[str, frozenset[str]]:
    """Each language's stop words minus those of the others ("de", "la", "a" count for no one)."""
    words = {lang: _stop_words(lang) for lang in SUPPORTED_LANGUAGES}
    out = {}
    for lang, ws in words.items():
        others = frozenset().union(*(v for k, v in words.items() if k != lang))
        out[lang] = ws - others
    return out


def _script(text: str) -> str | None:
    """The dominant non-Latin script of ``text`` ("ARABIC", "CYRILLIC", "CJK" ...), or None if Latin."""
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            if ord(ch) < 0x250:
                continue
            name = unicodedata.name(ch, "")
            script = (
                "CJK" if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) else name.split(" ")[0]
            )
            counts[script] = counts.get(script, 0) + 1
    if not letters or not counts:
        return None
    script, n = max(counts.items(), key=lambda kv: kv[1])
    return script if n / letters > 0.3 else None


def guess_language(text: str) -> str | None:
    """A language code from SUPPORTED_LANGUAGES, a script name ("ARABIC") for non-Latin text, or None.

    None means too little text to tell. Only the first 20,000 characters are read.
    """
    sample = text[:SAMPLE_CHARS]
    script = _script(sample)
    if script:
        return script
    words = [w.lower() for w in _WORD.findall(sample)]
    if len(words) < MIN_WORDS:
        return None
    scores = {lang: sum(w in ws for w in words) for lang, ws in _distinctive().items()}
    best, hits = max(scores.items(), key=lambda kv: kv[1])
    return best if hits >= 3 else None


def language_mismatch(text: str, policy_language: str) -> str | None:
    """What the text looks like when that is clearly not ``policy_language``, else None."""
    guess = guess_language(text)
    return guess if guess is not None and guess != policy_language else None
