"""PERSON without a NER model: capitalised word sequences scored with name lists, titles and context.

Offline, Presidio has no NER model and so no PERSON entity at all. This recognizer keeps PERSON
detection alive with the evidence a reader would use:

- a title before the words ("Mr. Alvarez", "Colonel Sanders", "Dr. Kranz");
- a known first name followed by a known or unknown surname ("Priya Raman", "Thomas Whitfield"),
  or by a middle initial ("James A. Lovell"); initials before a known surname ("V. S. Whitehead");
- a single known first name in the middle of a sentence ("ask Margaret about it");
- context: a verb of speech after the words ("Lovell said"), a role next to them ("the treasurer,
  Thomas Whitfield"), a greeting or cue before them ("Dear Oleg", "led by ...");
- repetition: once "Daniel Okafor" is found, a later "Okafor" in the same text is a person too.

Evidence against: the words run into an organisation or place word ("Kennedy Space Center", "Quay
Street", "Patrick AFB"), follow a place or ship prefix ("Lake Jennifer", "USS Iwo Jima"), are
ordinary words that happen to be names ("Will", "May", "Green"), are short acronyms ("GDS"), or start
a sentence (so their capital letter says nothing).

Some of the evidence against is the whole text's: the words it writes in lowercase, the names it
gives an article or a prefix. A piece cut or written from a document (a chunk, a paraphrase) lacks
it, so the residual-PII gate hands that document's :class:`SourceKnowledge` to the recognizer
(:func:`attach_source`, on the spaCy Doc Presidio passes along) and the piece is judged as it was
inside the document; see :mod:`ragassets.pii.residual`.

Scores are set so the default threshold of 0.5 keeps two-word names and mid-sentence first names
and drops bare surnames and unknown capitalised pairs without context. Measured precision and
recall are in docs/pii.md (:mod:`ragassets.pii.evaluation`).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from ragassets.pii.names import (
    NAME_PARTICLES,
    NAME_SUFFIXES,
    PERSON_CUES_BEFORE,
    PERSON_ROLES,
    PERSON_VERBS_AFTER,
    PLACE_PREFIXES,
    PLACE_SUFFIXES,
    STRONG_CUES_BEFORE,
    TITLE_ABBREVIATIONS,
    TITLES,
    NameLexicon,
    name_lexicon,
)

_TOKEN = re.compile(r"(?P<w>[^\W\d_]+(?:['’\-][^\W\d_]+)*)(?P<dot>\.)?")
# what between two words means a new sentence, list item, table cell or markup element begins
_SENTENCE_GAP = re.compile(r"[.!?:;|<>]|\n\s*\n|\n\s*(?:[#*+-]|\d+[.)])")
# email addresses, URLs and handles: their lowercase words are names as often as not
_ADDRESS_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b[a-z][\w+.-]*://\S+|\bwww\.\S+|@\w+")
_FIRM_SUFFIX = re.compile(r"\s*(?:and|&)\s+(?:Sons|Daughters|Co\b|Company|Partners|Associates)")
_POSSESSIVE = ("'s", "’s")
_ARTICLES = frozenset({"the", "a", "an"})
MAX_NAME_WORDS = 4
SOURCE_KEY = "ragassets.pii.source"  # Doc.user_data key of a text's SourceKnowledge

SCORE_FIRST_LAST = 0.9
SCORE_TITLE = 0.85
SCORE_FIRST_INITIAL = 0.85
SCORE_INITIAL_LAST = 0.8
SCORE_WEAK_FIRST_LAST = 0.75
SCORE_REPEATED = 0.75
SCORE_FIRST_UNKNOWN = 0.7
SCORE_UNKNOWN_INITIAL = 0.7
SCORE_KNOWN_UNKNOWN = 0.6
SCORE_OTHER_KNOWN_UNKNOWN = 0.5
SCORE_SINGLE_FIRST = 0.55
SCORE_SINGLE_LAST = 0.45
SCORE_UNKNOWN_PAIR = 0.45
SCORE_WEAK_PAIR = 0.4
SCORE_OTHER_SINGLE = 0.35
SCORE_UNKNOWN_SINGLE = 0.3
SENTENCE_START_PENALTY = 0.2
CONTEXT_BONUS = 0.2
ALL_CAPS_FACTOR = 0.8
MAX_SCORE = 0.95


@dataclass(slots=True)
class _Tok:
    start: int
    end: int  # end of the word, without a possessive 's or a trailing period
    full_end: int  # end including the possessive and the trailing period, if any
    word: str  # lowercased, possessive removed
    shape: str  # "cap" (Smith, McCoy), "upper" (SMITH), "initial" (J.), "letter" (A), "lower"
    dot: bool


@dataclass(slots=True)
class _Doc:
    """One text being analysed: its words, and the lexicon as this text extends it."""

    text: str
    toks: list[_Tok]
    lex: NameLexicon
    not_people: set[tuple[str, ...]] = field(default_factory=set)  # "iwo jima" after "the Iwo Jima"


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _shape(word: str, dot: bool) -> str:
    if not word[0].isupper():
        return "lower"
    if len(word) == 1:
        return "initial" if dot else "letter"
    if word.isupper():
        return "upper"
    return "cap"


@dataclass(frozen=True, slots=True)
class SourceKnowledge:
    """What a document says about its words: the evidence against names that only the whole text holds.

    ``ordinary``: the words it writes in lowercase ("cryogenic", "secondary"); ``not_people``: the
    word sequences it names with an article or a place or ship prefix ("the Iwo Jima", "USS Iwo
    Jima"; see :meth:`NameListPersonRecognizer.knowledge`). A piece cut from the document (a chunk), or written from it (a paraphrase, a question),
    is judged with this knowledge so that it gets the verdict the whole document got.
    """

    ordinary: frozenset[str] = frozenset()
    not_people: frozenset[tuple[str, ...]] = frozenset()


def source_knowledge(text: str, language: str = "en") -> SourceKnowledge:
    """What the document ``text`` says about its words (see :class:`SourceKnowledge`)."""
    return NameListPersonRecognizer(language).knowledge(text)


def attach_source(nlp_artifacts: NlpArtifacts, source: SourceKnowledge | None) -> None:
    """Let the recognizer judge the text of ``nlp_artifacts`` with ``source`` (travels on the spaCy Doc)."""
    if source is not None:
        nlp_artifacts.tokens.user_data[SOURCE_KEY] = source


def source_of(nlp_artifacts: NlpArtifacts | None) -> SourceKnowledge | None:
    """The knowledge :func:`attach_source` put on these artifacts, if any."""
    doc = getattr(nlp_artifacts, "tokens", None)
    user_data = getattr(doc, "user_data", None)
    return user_data.get(SOURCE_KEY) if user_data else None


def _lowercase_words(text: str, toks: list[_Tok]) -> set[str]:
    """Words ``text`` writes in lowercase: ordinary words here ("propellant", "tank"), unless part of
    an email address or URL ("daniel.okafor@example.com")."""
    addresses = [m.span() for m in _ADDRESS_LIKE.finditer(text)]
    return {
        t.word for t in toks if t.shape == "lower" and len(t.word) > 2 and not _inside(t.start, addresses)
    }


def tokenize(text: str) -> list[_Tok]:
    """Words of ``text`` with offsets, shape and a trailing period flag."""
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        word = m.group("w")
        end = m.end("w")
        if word.endswith(_POSSESSIVE) and len(word) > 2:
            word = word[:-2]
            end -= 2
        dot = m.group("dot") is not None
        toks.append(_Tok(m.start(), end, m.end(), word.lower(), _shape(word, dot), dot))
    return toks


class NameListPersonRecognizer(EntityRecognizer):
    """Finds PERSON spans from name lists, titles and context; no NER model needed.

    Titles are not part of the span ("Mr. <PERSON>"), so redacted text keeps its grammar.
    """

    ENTITY = "PERSON"

    def __init__(self, supported_language: str = "en", lexicon: NameLexicon | None = None):
        self.lexicon = lexicon or name_lexicon(supported_language)
        super().__init__(
            supported_entities=[self.ENTITY],
            name="NameListPersonRecognizer",
            supported_language=supported_language,
            context=[],  # context is weighed here, not by Presidio's lemma enhancer
        )

    def load(self) -> None:  # the lexicon is built in __init__ (cached per process)
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and self.ENTITY not in entities:
            return []
        source = source_of(nlp_artifacts)
        return [
            RecognizerResult(
                entity_type=self.ENTITY,
                start=start,
                end=end,
                score=score,
                analysis_explanation=AnalysisExplanation(
                    recognizer=self.name, original_score=score, textual_explanation=why
                ),
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for start, end, score, why in self.find_names(text, source)
        ]

    def find_names(
        self, text: str, source: SourceKnowledge | None = None
    ) -> list[tuple[int, int, float, str]]:
        """(start, end, score, reason) for every name candidate with a positive score.

        ``source``: what the document ``text`` was cut or generated from says about its words (see
        :meth:`knowledge`); ``text`` is then judged as it would be inside that document.
        """
        toks = tokenize(text)
        lowercase = _lowercase_words(text, toks)
        if source is not None:
            lowercase |= source.ordinary
        lowercase -= self.lexicon.common
        lex = replace(self.lexicon, common=self.lexicon.common | lowercase) if lowercase else self.lexicon
        d = _Doc(text, toks, lex)
        runs = self._runs(d)
        self._mark_not_people(d, runs)
        if source is not None:
            d.not_people |= source.not_people
        spans: list[tuple[int, int, float, str]] = []  # token indices
        for a, b in runs:
            spans.extend(self._names_in_run(d, a, b))
        spans = self._add_repeats(d, spans)
        return [(toks[s].start, toks[e].end, score, why) for s, e, score, why in spans]

    def knowledge(self, text: str) -> SourceKnowledge:
        """What ``text`` says about its words, for judging pieces cut or generated from it.

        Besides what :meth:`find_names` itself holds against names in ``text``, the names that follow a
        place or ship prefix ("USS Iwo Jima") are recorded, and so are the first two, three, ... words
        of a name after an article or prefix ("the Iwo Jima Command" gives "Iwo Jima"): a piece that
        lost the prefix at its edge then still knows the words as a place or ship. Only sequences of
        two words or more, so that "Lake Jennifer" does not make every "Jennifer" a lake.
        """
        toks = tokenize(text)
        d = _Doc(text, toks, self.lexicon)
        runs = self._runs(d)
        self._mark_not_people(d, runs)
        shielded = set(d.not_people)
        for a, b in runs:
            for k in range(a, b + 1):
                after_article = (
                    k == a and k > 0 and toks[k - 1].word in _ARTICLES and self._joined(d, k - 1, k)
                )
                if not (after_article or self._place_prefixed(d, k)):
                    continue
                words = tuple(t.word for t in toks[k : b + 1] if t.shape in ("cap", "upper"))
                shielded.update(words[:j] for j in range(2, len(words) + 1))
        return SourceKnowledge(frozenset(_lowercase_words(text, toks)), frozenset(shielded))

    def _runs(self, d: _Doc) -> list[tuple[int, int]]:
        """(first, last) token index of every run of capitalised words."""
        toks = d.toks
        runs: list[tuple[int, int]] = []
        i, n = 0, len(toks)
        while i < n:
            if toks[i].shape == "lower":
                i += 1
                continue
            runs.append((i, self._run_end(d, i)))
            i = runs[-1][1] + 1
        return runs

    def _mark_not_people(self, d: _Doc, runs: list[tuple[int, int]]) -> None:
        """Words this text names with an article or a place/ship prefix are not people here."""
        toks = d.toks
        for a, b in runs:
            if (
                a > 0
                and (toks[a - 1].word in _ARTICLES or self._place_prefixed(d, a))
                and self._joined(d, a - 1, a)
            ):
                d.not_people.add(tuple(t.word for t in toks[a : b + 1] if t.shape in ("cap", "upper")))

    # --- word classes ---------------------------------------------------------------------------

    def _is_title(self, d: _Doc, tok: _Tok) -> bool:
        return (
            tok.word in TITLES
            and tok.shape in ("cap", "upper")
            and (not tok.dot or tok.word in TITLE_ABBREVIATIONS)
        )

    def _is_name_word(self, d: _Doc, tok: _Tok) -> bool:
        """Could this token be part of a name (capitalised, not an ordinary non-name word)?"""
        if tok.shape == "initial":
            return True
        if tok.shape in ("lower", "letter") or tok.word in TITLES or tok.word in d.lex.stop_words:
            return False
        if tok.shape == "upper" and len(tok.word) <= 3:
            return False  # acronyms: "GDS", "MSC"
        return not (tok.word in d.lex.common and not d.lex.is_name(tok.word))

    def _is_unknown_word(self, d: _Doc, tok: _Tok, town_like_ok: bool = False) -> bool:
        """A capitalised word no list knows: a name from elsewhere, or a product, town, brand...

        Words ending like towns ("-ton", "-field", "-borough") count only when ``town_like_ok``:
        after a known first name they are surnames ("Thomas Whitfield"), alone they are places.
        """
        w = tok.word
        lex = d.lex
        return (
            tok.shape in ("cap", "upper")
            and self._is_name_word(d, tok)
            and not lex.is_name(w)
            and w not in lex.common
            and w not in lex.places
            and (town_like_ok or not w.endswith(PLACE_SUFFIXES))
        )

    def _is_head(self, d: _Doc, tok: _Tok) -> bool:
        """A word that makes the capitalised words before it an organisation or place."""
        if tok.shape in ("cap", "upper") and tok.word in d.lex.blocking_heads and tok.word not in TITLES:
            return True
        # "Patrick AFB", "Norfolk NAS": an acronym after the words, unless it is "MD", "Jr", ...
        return (
            tok.shape == "upper"
            and 2 <= len(tok.word) <= 5
            and tok.word not in NAME_SUFFIXES
            and not d.lex.is_name(tok.word)
        )

    # --- runs of capitalised words ----------------------------------------------------------------

    def _joined(self, d: _Doc, a: int, b: int) -> bool:
        """True when token b directly continues token a inside one name (only spaces between)."""
        text, toks = d.text, d.toks
        left, right = toks[a], toks[b]
        if left.dot and left.shape != "initial" and not self._is_title(d, left):
            return False  # a sentence ends after the left word
        if left.full_end - left.end > (1 if left.dot else 0):
            return False  # a possessive ("Okafor's") ends a name
        gap = text[left.full_end : right.start]
        return len(gap) <= 3 and (gap == " " or (gap.isspace() and gap.count("\n") <= 1))

    def _run_end(self, d: _Doc, i: int) -> int:
        """Index of the last token of the capitalised run starting at i (particles allowed inside)."""
        toks = d.toks
        j, n = i, len(toks)
        while j + 1 < n and self._joined(d, j, j + 1):
            if toks[j + 1].shape == "lower":
                # particles inside a name: "Ludwig van Beethoven", "Jay van de Velden"
                k = j + 1
                while (
                    k < n
                    and k - j <= 3
                    and toks[k].shape == "lower"
                    and toks[k].word in NAME_PARTICLES
                    and self._joined(d, k - 1, k)
                ):
                    k += 1
                if k > j + 1 and k < n and toks[k].shape in ("cap", "upper") and self._joined(d, k - 1, k):
                    j = k
                    continue
                break
            j += 1
        return j

    def _names_in_run(self, d: _Doc, a: int, b: int) -> list[tuple[int, int, float, str]]:
        """The best-scoring name inside toks[a..b], then the best ones left and right of it."""
        toks = d.toks
        if a > b:
            return []
        heads = [k for k in range(a + 1, b + 1) if self._is_head(d, toks[k])]
        if heads:
            # the words up to the last head are an organisation or place ("Johnson Space Center");
            # words after it may still be a name ("Library volunteer Daniel Okafor")
            return self._names_in_run(d, heads[-1] + 1, b)
        best: tuple[int, int, float, str] | None = None
        for s in range(a, b + 1):
            for e in range(s, min(b, s + MAX_NAME_WORDS + 1) + 1):
                scored = self._score_span(d, s, e)
                if scored is not None and (best is None or (scored[0], e - s) > (best[2], best[1] - best[0])):
                    best = (s, e, *scored)
        if best is None:
            return []
        s, e = best[0], best[1]
        return [*self._names_in_run(d, a, s - 1), best, *self._names_in_run(d, e + 1, b)]

    # --- context -----------------------------------------------------------------------------------

    def _sentence_start(self, d: _Doc, i: int) -> bool:
        """Whether toks[i] starts a sentence, list item, table cell or heading."""
        text, toks = d.text, d.toks
        if i == 0:
            return not text[: toks[0].start].strip(" \t\n\"'“‘*_#>-")
        prev = toks[i - 1]
        if prev.dot and prev.shape != "initial" and not self._is_title(d, prev):
            return True
        return bool(_SENTENCE_GAP.search(text[prev.full_end : toks[i].start]))

    def _speech_verb_after(self, d: _Doc, e: int) -> bool:
        text, toks = d.text, d.toks
        if e + 1 >= len(toks):
            return False
        after = toks[e + 1]
        gap = text[toks[e].full_end : after.start]
        return (
            after.shape == "lower" and after.word in PERSON_VERBS_AFTER and len(gap) <= 3 and "\n" not in gap
        )

    def _cue_before(self, d: _Doc, s: int, cues: frozenset[str]) -> str | None:
        text, toks = d.text, d.toks
        if s == 0:
            return None
        before = toks[s - 1]
        gap = text[before.full_end : toks[s].start]
        return before.word if before.word in cues and len(gap) <= 3 and "\n" not in gap else None

    def _context(self, d: _Doc, s: int, e: int) -> str | None:
        """A reason if the words around toks[s..e] suggest a person, else None."""
        toks = d.toks
        if self._speech_verb_after(d, e):
            return f"followed by '{toks[e + 1].word}'"
        cue = self._cue_before(d, s, PERSON_CUES_BEFORE)
        if cue:
            return f"after '{cue}'"
        for k in range(s - 1, max(-1, s - 4), -1):  # a role before, in the same sentence
            if self._sentence_start(d, k + 1):
                break
            if toks[k].word in PERSON_ROLES and toks[k].shape == "lower":
                return f"next to the role '{toks[k].word}'"
        for k in range(e + 1, min(len(toks), e + 4)):  # or after
            if self._sentence_start(d, k):
                break
            if toks[k].word in PERSON_ROLES and toks[k].shape == "lower":
                return f"next to the role '{toks[k].word}'"
        return None

    def _place_prefixed(self, d: _Doc, s: int) -> bool:
        """ "Lake Jennifer", "USS Benjamin Stoddert": a place or ship prefix joined to the first word."""
        toks = d.toks
        prev = toks[s - 1] if s > 0 else None
        return (
            prev is not None
            and prev.shape in ("cap", "upper")
            and prev.word in PLACE_PREFIXES
            and self._joined(d, s - 1, s)
        )

    # --- scoring ---------------------------------------------------------------------------------------

    def _score_span(self, d: _Doc, s: int, e: int) -> tuple[float, str] | None:
        """(score, reason) if toks[s..e] is a plausible name, else None."""
        text, toks = d.text, d.toks
        span = toks[s : e + 1]
        if span[0].shape == "lower" or span[-1].shape != "cap" and span[-1].shape != "upper":
            return None  # a name starts with a capital and ends with a word, not a particle or initial
        if not all(
            self._is_name_word(d, t) or (t.word in NAME_PARTICLES and t.shape == "lower") for t in span
        ):
            return None
        words = [t for t in span if t.shape in ("cap", "upper")]
        if len(words) > MAX_NAME_WORDS or (len(words) > 1 and len({t.word for t in words}) == 1):
            return None  # too long, or one word repeated ("Moon Moon" in a table)
        if self._place_prefixed(d, s) or words[0].word in PLACE_PREFIXES:
            return None
        if _FIRM_SUFFIX.match(text, toks[e].full_end):
            return None  # "Morgan and Sons"
        if s > 0 and toks[s - 1].word in _ARTICLES and self._joined(d, s - 1, s):
            return None  # "the Iwo Jima", "the Van Allen belt": people do not take an article
        if tuple(t.word for t in words) in d.not_people:
            return None  # "departed Iwo Jima" in a text that also says "the Iwo Jima"
        if s > 0 and self._is_title(d, toks[s - 1]) and self._joined(d, s - 1, s):
            score, why = SCORE_TITLE, f"after the title '{toks[s - 1].word}'"
        elif len(words) >= 2:
            scored = self._score_words(d, s, span, words)
            if scored is None:
                return None
            score, why = scored
        else:
            scored = self._score_word(d, s, e, span, words[0])
            if scored is None:
                return None
            score, why = scored
        if all(t.shape == "upper" for t in words):
            score *= ALL_CAPS_FACTOR
        cue = self._context(d, s, e)
        if cue:
            score += CONTEXT_BONUS
            why = f"{why}; {cue}"
        return min(score, MAX_SCORE), why

    def _score_words(self, d: _Doc, s: int, span: list[_Tok], words: list[_Tok]) -> tuple[float, str] | None:
        """Two to four capitalised words (plus initials and particles)."""
        lex = d.lex
        first, last = words[0].word, words[-1].word
        has_initial = any(t.shape == "initial" for t in span)
        unknown_first, unknown_last = self._is_unknown_word(d, words[0]), self._is_unknown_word(d, words[-1])
        surname_after_first = self._is_unknown_word(d, words[-1], town_like_ok=True)
        if (
            lex.is_strong_first(first)
            and lex.is_known(last)
            or lex.is_known(first)
            and lex.is_strong_last(last)
        ):
            return SCORE_FIRST_LAST, "known first and last name"
        if lex.is_strong_first(first) and has_initial:
            return SCORE_FIRST_INITIAL, "known first name and a middle initial"
        if (lex.is_first(first) or first in lex.first_extended) and lex.is_strong_last(last):
            return SCORE_WEAK_FIRST_LAST, "ambiguous or rare first name and a known last name"
        if lex.is_known(first) and lex.is_known(last):
            return SCORE_WEAK_FIRST_LAST, "first and last name from other languages' lists"
        if lex.is_strong_first(first) and surname_after_first:
            return SCORE_FIRST_UNKNOWN, "known first name and a capitalised surname"
        if has_initial and (unknown_first or lex.is_known(first)) and (unknown_last or lex.is_known(last)):
            return SCORE_UNKNOWN_INITIAL, "capitalised words around a middle initial"
        if (
            (lex.is_strong_first(first) or lex.is_strong_last(first))
            and unknown_last
            or (unknown_first and (lex.is_strong_last(last) or lex.is_strong_first(last)))
        ):
            return SCORE_KNOWN_UNKNOWN, "a known name next to a capitalised word"
        if (lex.is_known(first) and unknown_last) or (unknown_first and lex.is_known(last)):
            return SCORE_OTHER_KNOWN_UNKNOWN, "a name from another language's list next to a capitalised word"
        if first in lex.first_extended and unknown_last:
            return SCORE_WEAK_PAIR, "rare first name and a capitalised word"
        if len(words) <= 3 and all(self._is_unknown_word(d, t) for t in words):
            if self._sentence_start(d, s):
                return (
                    SCORE_UNKNOWN_PAIR - SENTENCE_START_PENALTY,
                    "capitalised words at the start of a sentence",
                )
            return SCORE_UNKNOWN_PAIR, "capitalised words no list knows"
        return None

    def _score_word(self, d: _Doc, s: int, e: int, span: list[_Tok], word: _Tok) -> tuple[float, str] | None:
        """One capitalised word, maybe after initials ("J. R. Tolkien")."""
        lex = d.lex
        w = word.word
        if len(span) > 1:  # initials before the word
            if lex.is_known(w) or lex.is_strong_last(w):
                return SCORE_INITIAL_LAST, "initials and a known last name"
            if self._is_unknown_word(d, word, town_like_ok=True) and not self._sentence_start(d, s):
                return SCORE_KNOWN_UNKNOWN, "initials and a capitalised surname"
            return None
        speaker = self._speech_verb_after(d, e)
        if lex.is_strong_first(w) and not lex.is_last(w):
            score, why = SCORE_SINGLE_FIRST, "known first name"
        elif lex.is_strong_first(w) or lex.is_strong_last(w):
            score, why = SCORE_SINGLE_LAST, "known name"
        elif lex.is_known(w):
            score, why = SCORE_OTHER_SINGLE, "a name from another language's list"
        elif self._is_unknown_word(d, word) and (speaker or self._cue_before(d, s, STRONG_CUES_BEFORE)):
            if self._sentence_start(d, s):
                return None
            return SCORE_UNKNOWN_SINGLE, "capitalised word in a person's context"
        else:
            return None
        if not speaker and self._sentence_start(d, s):
            score -= SENTENCE_START_PENALTY
            why += " at the start of a sentence"
        return score, why

    def _add_repeats(
        self, d: _Doc, spans: list[tuple[int, int, float, str]]
    ) -> list[tuple[int, int, float, str]]:
        """Later mentions of a confidently found name's words ("Okafor" after "Daniel Okafor")."""
        toks = d.toks
        lex = d.lex
        strong = {
            toks[k].word
            for s, e, score, _ in spans
            if score >= SCORE_FIRST_UNKNOWN and e > s
            for k in range(s, e + 1)
            if toks[k].shape in ("cap", "upper") and not lex.is_ambiguous(toks[k].word)
        }
        if not strong:
            return spans
        out: list[tuple[int, int, float, str]] = []
        covered: set[int] = set()
        for s, e, score, why in spans:
            covered.update(range(s, e + 1))
            if score < SCORE_REPEATED and any(toks[k].word in strong for k in range(s, e + 1)):
                score, why = SCORE_REPEATED, why + "; repeats a name found in this text"
            out.append((s, e, score, why))
        for k, t in enumerate(toks):
            if k in covered or t.shape != "cap" or t.word not in strong:
                continue
            if k + 1 < len(toks) and self._is_head(d, toks[k + 1]) and self._joined(d, k, k + 1):
                continue  # "Victoria Road" after "Victoria Okonkwo"
            if self._place_prefixed(d, k):
                continue
            out.append((k, k, SCORE_REPEATED, "repeats a name found in this text"))
        return sorted(out)
