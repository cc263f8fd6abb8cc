"""Redact a corpus: find PII in every document, replace it, and describe what was done without the values.

The output is three plain structures the Dagster asset turns into tables and metadata:

- one row per document: ``corpus, doc_id, text`` (redacted), ``n_findings``, ``findings_by_type``
  (a JSON string such as ``{"EMAIL_ADDRESS": 1, "PERSON": 2}``);
- one row per finding: ``corpus, doc_id, entity_type, start, end`` (in the original text),
  ``score, recognizer``, and ``redacted_start, redacted_end, replacement`` (where the replacement
  sits in the redacted text, and what it is: a placeholder, fake, mask or keyed hash; never the
  original);
- a summary: counts by type, documents whose language does not look like the policy's, timings.

Original values exist only in memory while a document is processed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from presidio_analyzer import AnalyzerEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import ConflictResolutionStrategy, OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerInput

from ragassets.pii.analyze import Finding, analyze_texts
from ragassets.pii.engine import analyzer_for, validate_entities
from ragassets.pii.language import language_mismatch
from ragassets.pii.operators import Pseudonymizer, corpus_key, make_operator
from ragassets.settings import PiiSettings


@dataclass
class Replacement:
    """A finding and what it became in the redacted text."""

    finding: Finding
    redacted_start: int
    redacted_end: int
    replacement: str


@dataclass
class RedactionResult:
    documents: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    counts_by_type: dict[str, int] = field(default_factory=dict)
    language_warnings: list[dict] = field(default_factory=list)  # {"doc_id", "looks_like"}
    empty_doc_ids: list[str] = field(default_factory=list)
    n_chars: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return len(self.documents) / self.seconds if self.seconds else 0.0


_ANONYMIZER: AnonymizerEngine | None = None


def _anonymizer() -> AnonymizerEngine:
    global _ANONYMIZER
    if _ANONYMIZER is None:
        _ANONYMIZER = AnonymizerEngine()
    return _ANONYMIZER


def replace_findings(text: str, findings: Sequence[Finding], operate) -> tuple[str, list[Replacement]]:
    """``text`` with each finding replaced by ``operate(entity_type, original)``.

    ``findings`` must not overlap (see :func:`ragassets.pii.analyze.resolve_overlaps`).
    """
    if not findings:
        return text, []
    operators = {
        et: OperatorConfig("custom", {"lambda": (lambda value, et=et: operate(et, value))})
        for et in {f.entity_type for f in findings}
    }
    result = _anonymizer().anonymize(
        text=text,
        analyzer_results=[AnonymizerInput(f.entity_type, f.start, f.end, f.score) for f in findings],
        operators=operators,
        conflict_resolution=ConflictResolutionStrategy.REMOVE_INTERSECTIONS,  # a no-op: none overlap
        merge_entities_with_spaces=False,
    )
    items = sorted(result.items, key=lambda item: item.start)
    ordered = sorted(findings, key=lambda f: f.start)
    if len(items) != len(ordered):  # pragma: no cover - guarded by resolve_overlaps
        raise RuntimeError("the anonymizer merged or dropped findings; findings must not overlap")
    return result.text, [
        Replacement(f, item.start, item.end, item.text) for f, item in zip(ordered, items, strict=True)
    ]


def redact_corpus(
    corpus: str,
    docs: Sequence[tuple[str, str]],
    policy: PiiSettings,
    analyzer: AnalyzerEngine | None = None,
    processes: int | None = None,
) -> RedactionResult:
    """Redact ``docs`` (doc_id, text) of ``corpus`` under ``policy``."""
    started = time.perf_counter()
    analyzer = analyzer or analyzer_for(policy)
    validate_entities(analyzer, policy)
    key = corpus_key(corpus, policy.secret_env)
    texts = [text or "" for _, text in docs]
    found = analyze_texts(analyzer, texts, policy, processes=processes)

    pseudonymizer = None
    if policy.operator == "pseudonym":
        # every original value of the corpus, so that no fake equals (or names like) a real one
        pseudonymizer = Pseudonymizer(
            key,
            policy.language,
            (
                (f.entity_type, text[f.start : f.end])
                for text, fs in zip(texts, found, strict=True)
                for f in fs
            ),
        )
    operate = make_operator(policy.operator, key, pseudonymizer)

    result = RedactionResult()
    counts: Counter[str] = Counter()
    for (doc_id, _), text, fs in zip(docs, texts, found, strict=True):
        result.n_chars += len(text)
        if not text.strip():
            result.empty_doc_ids.append(doc_id)
        else:
            looks_like = language_mismatch(text, policy.language)
            if looks_like:
                result.language_warnings.append({"doc_id": doc_id, "looks_like": looks_like})
        redacted, replacements = replace_findings(text, fs, operate)
        by_type = Counter(f.entity_type for f in fs)
        counts.update(by_type)
        result.documents.append(
            {
                "corpus": corpus,
                "doc_id": doc_id,
                "text": redacted,
                "n_findings": len(fs),
                "findings_by_type": json.dumps(dict(sorted(by_type.items()))),
            }
        )
        for r in replacements:
            f = r.finding
            result.findings.append(
                {
                    "corpus": corpus,
                    "doc_id": doc_id,
                    "entity_type": f.entity_type,
                    "start": f.start,
                    "end": f.end,
                    "score": f.score,
                    "recognizer": f.recognizer,
                    "redacted_start": r.redacted_start,
                    "redacted_end": r.redacted_end,
                    "replacement": r.replacement,
                }
            )
    result.counts_by_type = dict(sorted(counts.items()))
    result.seconds = time.perf_counter() - started
    return result
