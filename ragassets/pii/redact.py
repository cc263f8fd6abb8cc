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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

from presidio_analyzer import AnalyzerEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import ConflictResolutionStrategy, OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerInput

from ragassets.pii.analyze import AnalysisWorkers, Finding, analyze_texts
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
    n_documents: int = 0
    n_documents_with_findings: int = 0
    n_findings: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return self.n_documents / self.seconds if self.seconds else 0.0


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


Batch = Sequence[tuple[str, str]]  # (doc_id, text) pairs


class CorpusRedactor:
    """Redact a corpus read in batches, without holding its texts.

    :meth:`batches` takes a function that reads the corpus's (doc_id, text) pairs, a batch at a time,
    in the same order each time it is called, and reads it twice: first to find the PII of every
    document (kept: offsets and types, a few bytes a finding) and to tell the pseudonymizer every
    original value (no fake may equal one, wherever in the corpus it is), then to write each batch's
    redacted documents and findings. ``summary`` has the counts, warnings and timings when done.
    """

    def __init__(
        self,
        corpus: str,
        policy: PiiSettings,
        analyzer: AnalyzerEngine | None = None,
        processes: int | None = None,
    ) -> None:
        self.corpus = corpus
        self.policy = policy
        self.analyzer = analyzer or analyzer_for(policy)
        validate_entities(self.analyzer, policy)
        self.processes = processes
        self.key = corpus_key(corpus, policy.secret_env)
        self.summary = RedactionResult()

    def batches(
        self, read_batches: Callable[[], Iterable[Batch]], total_chars: int | None = None
    ) -> Iterator[tuple[list[dict], list[dict]]]:
        """(document rows, finding rows) per batch, in the order read. ``total_chars`` (the corpus's
        size, when known up front) decides whether the analysis uses worker processes."""
        started = time.perf_counter()
        policy = self.policy
        pseudonymizer = Pseudonymizer(self.key, policy.language) if policy.operator == "pseudonym" else None
        found: list[list[Finding]] = []
        ids: list[str] = []
        # size unknown (and no override): each batch decides by its own size
        sized = total_chars is not None or self.processes is not None
        with AnalysisWorkers(policy, total_chars or 0, self.processes) if sized else nullcontext() as workers:
            for batch in read_batches():
                texts = [text or "" for _, text in batch]
                batch_found = analyze_texts(self.analyzer, texts, policy, processes=self.processes, workers=workers)
                if pseudonymizer is not None:  # every original value of the corpus, before any fake is drawn
                    for text, fs in zip(texts, batch_found, strict=True):
                        for f in fs:
                            pseudonymizer.forbid(f.entity_type, text[f.start : f.end])
                found.extend(batch_found)
                ids.extend(doc_id for doc_id, _ in batch)
        operate = make_operator(policy.operator, self.key, pseudonymizer)

        counts: Counter[str] = Counter()
        k = 0
        for batch in read_batches():
            documents: list[dict] = []
            findings: list[dict] = []
            for doc_id, text in batch:
                if k >= len(ids) or ids[k] != doc_id:
                    raise RuntimeError(
                        f"the documents of '{self.corpus}' changed while they were redacted (document {k} is "
                        f"{doc_id}, was {ids[k] if k < len(ids) else 'absent'}); run the redaction again"
                    )
                self._redact_one(doc_id, text or "", found[k], operate, counts, documents, findings)
                found[k] = []  # done: let the findings go
                k += 1
            yield documents, findings
        if k != len(ids):
            raise RuntimeError(
                f"the documents of '{self.corpus}' changed while they were redacted ({len(ids)} analysed, "
                f"{k} read again); run the redaction again"
            )
        self.summary.counts_by_type = dict(sorted(counts.items()))
        self.summary.seconds = time.perf_counter() - started
        self.summary.n_documents = len(ids)

    def _redact_one(self, doc_id, text, fs, operate, counts, documents, findings) -> None:
        summary = self.summary
        summary.n_chars += len(text)
        if not text.strip():
            summary.empty_doc_ids.append(doc_id)
        else:
            looks_like = language_mismatch(text, self.policy.language)
            if looks_like:
                summary.language_warnings.append({"doc_id": doc_id, "looks_like": looks_like})
        redacted, replacements = replace_findings(text, fs, operate)
        by_type = Counter(f.entity_type for f in fs)
        counts.update(by_type)
        summary.n_findings += len(fs)
        summary.n_documents_with_findings += bool(fs)
        documents.append(
            {
                "corpus": self.corpus,
                "doc_id": doc_id,
                "text": redacted,
                "n_findings": len(fs),
                "findings_by_type": json.dumps(dict(sorted(by_type.items()))),
            }
        )
        for r in replacements:
            f = r.finding
            findings.append(
                {
                    "corpus": self.corpus,
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


def redact_corpus(
    corpus: str,
    docs: Sequence[tuple[str, str]],
    policy: PiiSettings,
    analyzer: AnalyzerEngine | None = None,
    processes: int | None = None,
) -> RedactionResult:
    """Redact ``docs`` (doc_id, text) of ``corpus`` under ``policy``, all in memory (one batch)."""
    docs = list(docs)
    redactor = CorpusRedactor(corpus, policy, analyzer, processes)
    result = redactor.summary
    for documents, findings in redactor.batches(lambda: [docs], total_chars=sum(len(t or "") for _, t in docs)):
        result.documents.extend(documents)
        result.findings.extend(findings)
    return result
