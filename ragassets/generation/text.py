"""Small text helpers shared by dedup, grounding and paraphrase cleaning: words, sentences, normal form."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:[.,'’\-][^\W_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+")

STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "may", "might", "more", "most", "no", "nor", "not", "of", "on", "or", "our", "she", "should", "so", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "about", "after", "also", "all", "any", "before", "between", "both", "during", "each", "few", "into", "just", "many", "much", "must", "only", "other", "over", "same", "some", "through", "under", "until", "up", "very"]
)


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
    content = [w for w in ws if w not in STOPWORDS]
    return content or ws


def sentences(text: str) -> list[str]:
    """Sentences of ``text``; line breaks between blocks (headings, list items, rows) split too."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*(?:[#>*\-|]|\d+[.)])\s)", text or ""):
        block = " ".join(block.split())
        if not block:
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(block) if s.strip())
    return out
