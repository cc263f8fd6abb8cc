"""One Presidio AnalyzerEngine per process, built offline.

No spaCy model can be installed from the package registries, so by default the engine runs on a
blank spaCy pipeline (tokenizer only): Presidio's pattern recognizers (EMAIL_ADDRESS, PHONE_NUMBER,
CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS, URL, ...) work unchanged, and PERSON comes from
:class:`ragassets.pii.person.NameListPersonRecognizer` instead of a NER model. When the policy
names an installed spaCy model (``pii.spacy_model: en_core_web_lg``), that model is loaded instead
and its NER entities (PERSON, LOCATION, ORGANIZATION, NRP, DATE_TIME) join in. Nothing is ever
downloaded: a model that is not installed is an error that says so.

Two additions to Presidio's defaults:

- a phone recognizer for formatted numbers that ``phonenumbers`` rejects (fictional 555 area codes,
  numbers newer than its metadata), so a number written like a phone number is found without a
  context word;
- context words lift a candidate to at least the default threshold (0.5), instead of 0.4: a
  bare nine-digit number after "SSN" is then redacted. With the blank pipeline the "lemmas" Presidio
  compares context words to are the lowercased tokens.
"""

from __future__ import annotations

# ragassets/pii/__init__.py has set TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS and PRESIDIO_DEVICE by now
import bisect
import logging
import re
import threading
from pathlib import Path
from typing import ClassVar

import phonenumbers
import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)
from spacy.tokens import Doc

from ragassets.pii.person import NameListPersonRecognizer
from ragassets.settings import PiiSettings

log = logging.getLogger(__name__)

BLANK = "blank"
DENY_LIST_ENTITY = "DENY_LIST"
# the pattern types every language gets, whatever Presidio's registry loads for it
CORE_RECOGNIZERS = (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)
CONTEXT_MIN_SCORE = 0.5


class PiiEngineError(ValueError):
    """The engine cannot be built as configured; the message names the setting to change."""


class OfflineSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine that never downloads: a blank pipeline, or an installed model.

    ``models`` as in Presidio (``[{"lang_code": "en", "model_name": "blank"}]``); ``model_name``
    is ``"blank"``, an installed spaCy package name, or a path to a saved pipeline.
    """

    def load(self) -> None:
        self.nlp = {}
        self._has_ner = None
        for model in self.models:
            lang, name = model["lang_code"], model["model_name"]
            if name == BLANK:
                nlp = spacy.blank(lang)
            else:
                if not (spacy.util.is_package(name) or Path(name).exists()):
                    raise PiiEngineError(
                        f"pii.spacy_model: spaCy model {name!r} is not installed and ragassets never "
                        "downloads models; install its wheel into this environment (pip install "
                        f"<path to {name} wheel>), give the path of a saved pipeline, or remove the key "
                        "to use the offline engine (pattern recognizers + name lists)"
                    )
                nlp = spacy.load(name)
            self.nlp[lang] = nlp

    @property
    def has_ner(self) -> bool:
        if self._has_ner is None:
            self._has_ner = any("ner" in nlp.pipe_names for nlp in (self.nlp or {}).values())
        return self._has_ner

    _has_ner: bool | None = None

    def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
        if self.has_ner:
            return super()._doc_to_nlp_artifact(doc, language)
        # A blank pipeline has no lemmatizer and no entities: context words are compared to the
        # lowercased tokens, stop words included ("call" is one, and a phone context word).
        # One pass over the tokens instead of Presidio's four.
        rows = [(t.idx, t.lower_, t.is_punct or t.is_space) for t in doc]
        artifacts = NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[r[0] for r in rows],
            lemmas=[r[1] for r in rows],
            nlp_engine=None,  # skips Presidio's stop-word filtering of keywords
            language=language,
        )
        artifacts.keywords = [r[1] for r in rows if not r[2]]
        artifacts.nlp_engine = self
        return artifacts


class FormattedPhoneRecognizer(PatternRecognizer):
    """Phone numbers by their written shape: ``(555) 310-8842``, ``555.318.2290``, ``+44 20 7946 0958``, ``020 7946 0958``.

    ``phonenumbers`` (Presidio's PhoneRecognizer) validates numbers against its metadata, so the
    fictional 555 numbers of examples and documentation, or new area codes, are missed; and its
    matches score 0.4, below the default threshold, unless a context word is near. A number
    written with the separators of a phone number is strong evidence on its own.
    """

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "North American (3-3-4 with separators)",
            r"(?<![\w+.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|\.\d)",
            0.6,
        ),
        Pattern(
            "national with trunk prefix (020 7946 0958, 030 901820)",
            r"(?<![\w+.-])(?:\(0\d{1,4}\)|0\d{1,4})[ .-]\d{3,4}(?:[ .-]?\d{2,4}){1,2}(?![\w-]|\.\d)",
            0.55,
        ),
        Pattern(
            "international (+country code, groups separated by spaces or dashes)",
            r"(?<![\w+])\+\d{1,3}(?:[ -]?(?:\(\d{1,5}\)|\d{1,5})){2,6}(?![\w-]|\.\d)",
            0.6,
        ),
        Pattern(
            "international (+country code, groups separated by dots)",
            r"(?<![\w+])\+\d{1,3}(?:\.\d{1,5}){2,6}(?![\w-]|\.\d)",
            0.6,
        ),
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            supported_entity="PHONE_NUMBER",
            name="FormattedPhoneRecognizer",
            supported_language=supported_language,
            patterns=self.PATTERNS,
            context=PhoneRecognizer.CONTEXT,
        )

    def invalidate_result(self, pattern_text: str) -> bool | None:
        digits = sum(c.isdigit() for c in pattern_text)
        return not 8 <= digits <= 15


class PrefilteredPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer, run only where the text has seven or more digits close together.

    ``phonenumbers`` scans the whole text once per region (eight of them) and parses every number
    it meets: the most expensive recognizer by far on prose full of years and counts. Here only the
    candidate spans (digits with phone separators) are scanned, region by region until one finds a
    number (numbers with a country code: once). The result differs from Presidio's only in the
    region named in a finding's explanation.
    """

    _CANDIDATE = re.compile(r"\+?\(?\d[\d ().\-/]{5,}\d(?:\s*(?:x|ext\.?)\s*\d+)?")
    MARGIN = 3

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_language=supported_language, name="PhoneRecognizer")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None):
        results: list[RecognizerResult] = []
        for m in self._CANDIDATE.finditer(text):
            digits = [int(c) for c in m.group() if c.isdigit()]
            if len(digits) < 7 or _claimed_elsewhere(m.group(), digits):
                continue
            lo, hi = max(0, m.start() - self.MARGIN), min(len(text), m.end() + self.MARGIN)
            window = text[lo:hi]
            # "+44 ..." parses the same in every region; national numbers are tried region by
            # region until one matches
            for region in self.supported_regions[:1] if m.group().startswith("+") else self.supported_regions:
                found = [
                    self._get_recognizer_result(match, window, region, None)
                    for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=self.leniency)
                ]
                for r in found:
                    r.start += lo
                    r.end += lo
                results.extend(found)
                if found:
                    break
        return EntityRecognizer.remove_duplicates(results)


_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _luhn_valid(digits: list[int]) -> bool:
    total = 0
    for k, d in enumerate(reversed(digits)):
        if k % 2:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return total % 10 == 0


def _claimed_elsewhere(candidate: str, digits: list[int]) -> bool:
    """An IPv4 address or a Luhn-valid card number: more specific recognizers win these anyway."""
    return bool(_DOTTED_QUAD.fullmatch(candidate.strip())) or (
        13 <= len(digits) <= 19 and _luhn_valid(digits)
    )


class FastLemmaContextAwareEnhancer(LemmaContextAwareEnhancer):
    """Presidio's context enhancer with the token of a match found by bisection, not a linear scan."""

    @staticmethod
    def _find_index_of_match_token(word: str, start: int, tokens, tokens_indices: list[int]) -> int:
        i = bisect.bisect_right(tokens_indices, start) - 1
        if i < 0 or start >= tokens_indices[i] + len(tokens[i]):
            i += 1
        if i >= len(tokens_indices):
            raise ValueError(
                f"Did not find word '{word}' in the list of tokens although it is expected to be found"
            )
        return i


def deny_list_recognizer(terms: list[str] | tuple[str, ...], language: str) -> PatternRecognizer:
    """Terms a corpus always redacts (whole words, any case), as entity ``DENY_LIST``."""
    return PatternRecognizer(
        supported_entity=DENY_LIST_ENTITY,
        name="DenyListRecognizer",
        supported_language=language,
        deny_list=list(terms),
    )


def build_analyzer(
    language: str = "en", spacy_model: str | None = None, name_lists: bool = True
) -> AnalyzerEngine:
    """A new AnalyzerEngine for one language: the blank pipeline, or ``spacy_model`` when given.

    Prefer :func:`analyzer_for`, which keeps one engine per process.
    """
    nlp_engine = OfflineSpacyNlpEngine(models=[{"lang_code": language, "model_name": spacy_model or BLANK}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=[language])
    presidio_log = logging.getLogger("presidio-analyzer")
    level = presidio_log.level
    presidio_log.setLevel(logging.ERROR)  # one warning per recognizer of other languages: noise
    try:
        registry.load_predefined_recognizers(languages=[language], nlp_engine=nlp_engine)
    finally:
        presidio_log.setLevel(level)
    if not nlp_engine.has_ner:
        # a blank pipeline finds no entities; PERSON comes from the name lists instead
        registry.remove_recognizer("SpacyRecognizer")
    # The registry's YAML config compiles every pattern with IGNORECASE; the IBAN pattern then reads
    # the next word as one more lowercase group ("ES48 ... 1652 before"), the checksum fails and
    # the IBAN is missed. Presidio's own constructor keeps the pattern case-sensitive.
    registry.remove_recognizer("IbanRecognizer")
    registry.remove_recognizer("PhoneRecognizer")  # replaced by PrefilteredPhoneRecognizer
    registry.add_recognizer(PrefilteredPhoneRecognizer(supported_language=language))
    loaded = {type(r) for r in registry.recognizers if r.supported_language == language}
    for cls in CORE_RECOGNIZERS:
        if not any(issubclass(have, cls) for have in loaded):
            registry.add_recognizer(cls(supported_language=language))
    registry.add_recognizer(FormattedPhoneRecognizer(supported_language=language))
    if name_lists or not nlp_engine.has_ner:
        registry.add_recognizer(NameListPersonRecognizer(supported_language=language))
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[language],
        context_aware_enhancer=FastLemmaContextAwareEnhancer(
            min_score_with_context_similarity=CONTEXT_MIN_SCORE
        ),
    )


_ENGINES: dict[tuple[str, str | None, bool], AnalyzerEngine] = {}
_LOCK = threading.Lock()


def analyzer_for(policy: PiiSettings) -> AnalyzerEngine:
    """The process's engine for this policy's language and model (built on first use, ~1 s)."""
    key = (policy.language, policy.spacy_model, policy.name_lists)
    engine = _ENGINES.get(key)
    if engine is None:
        with _LOCK:
            engine = _ENGINES.get(key)
            if engine is None:
                engine = build_analyzer(*key)
                _ENGINES[key] = engine
    return engine


def supported_entities(analyzer: AnalyzerEngine, language: str) -> set[str]:
    """Entity types this engine can find in ``language`` (plus DENY_LIST, which a policy adds)."""
    return set(analyzer.get_supported_entities(language=language)) | {DENY_LIST_ENTITY}


def validate_entities(analyzer: AnalyzerEngine, policy: PiiSettings) -> None:
    """Fail early, naming the key, when a policy asks for an entity type the engine cannot find."""
    known = supported_entities(analyzer, policy.language)
    for key, values in (
        ("pii.entities", policy.entities),
        ("pii.check_entities", policy.check_entities or []),
    ):
        unknown = sorted(set(values) - known)
        if unknown:
            hint = ""
            if any(e in {"LOCATION", "ORGANIZATION", "NRP"} for e in unknown):
                hint = " (LOCATION, ORGANIZATION and NRP need a NER model: set pii.spacy_model)"
            raise PiiEngineError(
                f"{key}: {', '.join(unknown)} cannot be detected by this engine{hint}; "
                f"choose from {', '.join(sorted(known))}"
            )
