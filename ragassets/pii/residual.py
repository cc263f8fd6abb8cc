"""The residual-PII gate: analyse already-redacted text again and report what is still there.

The same policy is used (threshold, allow list, deny list, language); the entity types are
``policy.gate_entities()``: the redacted ones plus the pattern types, so a policy that stops
redacting phone numbers fails the gate instead of leaking them quietly.

Pseudonyms look like PII on purpose ("Jane Roe", a Luhn-valid card number). The values the
redaction wrote (``pii_findings.replacement``) are passed in as ``known_replacements``; findings
that are one of them (or, for names, a word of one) are not residue. Only counts by type and the
ids of affected rows are reported, never the text found.

**Derived text is judged in its source document.** Chunks, paraphrases and questions are cut or
written from a redacted document. The pattern types (email, phone, card, ...) look the same
wherever they stand. A PERSON verdict of the name lists does not: some evidence against a name is
only in the whole document. A word the document also writes in lowercase is an ordinary word
("Cryogenic Oxygen Tank" in a heading of a report that speaks of the cryogenic oxygen tank); words
the document gives an article or a ship or place prefix are not a person ("USS Iwo Jima", then
"aboard Iwo Jima"). A chunk without those sentences seems to hold names that the redaction, which
read the whole document, rightly left alone: the gate and the redaction disagreed, and the gate
blocked a clean corpus. So each derived text can be given the document it comes from
(``sources``); the recognizer then judges it with that document's
:class:`~ragassets.pii.person.SourceKnowledge` (its lowercase words and its not-people names). The
question the gate asks is the one the redaction answered: would this be called a name inside its
document? All positive evidence is still read from the derived text itself: titles, known first and
last names, initials, context words, repetition. A name that survives in a chunk, or that a model
writes into a paraphrase ("Priya Raman", "Dr. Reyes", "Commander Lovell"), fails the gate as before.

The knowledge only ever speaks against a name: a text whose source is unknown is judged alone,
which finds as much or more. Not chosen: judging derived text on context-free evidence only (titles,
names both of whose words are listed) would stop finding names the lists know half of ("Thomas
Whitfield") and surnames found by repetition ("Okafor" after "Daniel Okafor") in generated text,
where nothing else looks; analysing a chunk with its neighbouring text works only for verbatim
chunks (paraphrases and questions have no offsets), and the deciding evidence can be anywhere in
the document, not only nearby.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl
from presidio_analyzer import AnalyzerEngine

from ragassets.pii.analyze import AnalysisWorkers, analyze_texts
from ragassets.pii.engine import analyzer_for, validate_entities
from ragassets.pii.operators import normalise
from ragassets.pii.sources import CHUNKS_TABLE, SOURCE_TABLE, batch_sources, row_sources  # noqa: F401
from ragassets.settings import PiiSettings
from ragassets.storage import StoredTable

MAX_IDS = 50


@dataclass
class ResidualReport:
    """What the gate found: counts by entity type and the ids of rows with residual PII."""

    n_texts: int
    entities_checked: list[str]
    threshold: float
    counts_by_type: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    ignored_pseudonyms: int = 0
    n_judged_in_source: int = 0  # texts judged with their source document's knowledge

    @property
    def n_findings(self) -> int:
        return sum(self.counts_by_type.values())

    @property
    def passed(self) -> bool:
        return self.n_findings == 0

    def add(self, other: ResidualReport) -> None:
        """Fold in the report of another batch of rows (row ids differ between batches)."""
        self.n_texts += other.n_texts
        counts = Counter(self.counts_by_type)
        counts.update(other.counts_by_type)
        self.counts_by_type = dict(sorted(counts.items()))
        self.ids.extend(other.ids)
        self.ignored_pseudonyms += other.ignored_pseudonyms
        self.n_judged_in_source += other.n_judged_in_source

    def describe(self) -> str:
        if self.passed:
            in_source = (
                f"; {self.n_judged_in_source} judged in their source document"
                if self.n_judged_in_source
                else ""
            )
            return (
                f"no PII at or above {self.threshold} in {self.n_texts} texts "
                f"(checked {', '.join(self.entities_checked)}{in_source})"
            )
        kinds = ", ".join(f"{n} {t}" for t, n in sorted(self.counts_by_type.items()))
        return (
            f"{self.n_findings} findings at or above {self.threshold} left in {len(self.ids)} of "
            f"{self.n_texts} texts: {kinds}. Add the types to pii.entities (or lower pii.threshold) "
            "and re-materialize, or list accepted types in pii.check_entities."
        )


@dataclass
class KnownValues:
    """Values the redaction wrote, in the forms a finding is compared in."""

    values: set[str] = field(default_factory=set)  # casefolded, and words of each
    compact: list[str] = field(default_factory=list)  # digits and letters only

    @classmethod
    def of(cls, replacements: Iterable[str]) -> KnownValues:
        known = cls()
        compact: set[str] = set()
        for value in replacements:
            if not value:
                continue
            known.values.add(" ".join(value.split()).casefold())
            known.values.update(w.casefold() for w in re.findall(r"[^\W\d_]+", value))
            compact.add(normalise("PHONE_NUMBER", value))
        known.compact = sorted(compact)
        return known

    def __bool__(self) -> bool:
        return bool(self.values)

    def holds(self, entity_type: str, value: str) -> bool:
        """Is ``value`` one of the written values, or a piece of one ("1460 3055" of "713 1460 3055")?"""
        if " ".join(value.split()).casefold() in self.values:
            return True
        piece = normalise("PHONE_NUMBER", value)
        return len(piece) >= 6 and any(piece in c for c in self.compact)


def residual_pii(
    texts: Sequence[str],
    ids: Sequence[str],
    policy: PiiSettings,
    known_replacements: Iterable[str] | KnownValues = (),
    analyzer: AnalyzerEngine | None = None,
    sources: Sequence[str | None] | None = None,
    workers: AnalysisWorkers | None = None,
) -> ResidualReport:
    """Analyse ``texts`` (already redacted) with ``policy``; ``ids[i]`` names ``texts[i]`` in the report.

    ``sources[i]``: the redacted document ``texts[i]`` was cut or written from (None: unknown, or
    the text is a whole document); see the module docstring. A table checked in batches passes
    ``known_replacements`` once as :class:`KnownValues` and its ``workers`` (see
    :class:`~ragassets.pii.analyze.AnalysisWorkers`), and folds the reports with :meth:`ResidualReport.add`.
    """
    analyzer = analyzer or analyzer_for(policy)
    validate_entities(analyzer, policy)
    entities = policy.gate_entities()
    known = known_replacements if isinstance(known_replacements, KnownValues) else KnownValues.of(known_replacements)
    if sources is not None and len(sources) != len(texts):
        raise ValueError(f"{len(sources)} sources for {len(texts)} texts: give one (or None) per text")
    # the source texts go to the analysis as they are: each document's knowledge is read where its pieces
    # are analysed (in the worker processes, a few documents at a time), never held for the whole corpus
    found = analyze_texts(
        analyzer,
        [t or "" for t in texts],
        policy,
        entities=entities,
        sources=list(sources) if sources else None,
        workers=workers,
    )
    report = ResidualReport(n_texts=len(texts), entities_checked=entities, threshold=policy.threshold)
    report.n_judged_in_source = sum(s is not None for s in sources) if sources else 0
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    for text, row_id, findings in zip(texts, ids, found, strict=True):
        for f in findings:
            value = text[f.start : f.end]
            if known and known.holds(f.entity_type, value):
                report.ignored_pseudonyms += 1
                continue
            counts[f.entity_type] += 1
            if row_id not in seen:
                seen.add(row_id)
                report.ids.append(row_id)
    report.counts_by_type = dict(sorted(counts.items()))
    return report


def residual_pii_in_table(
    asset: str,
    table: StoredTable,
    columns: Sequence[str],
    id_column: str | None,
    policy: PiiSettings,
    known: KnownValues,
    documents: StoredTable | None,
    chunk_doc: pl.DataFrame | None,
    analyzer: AnalyzerEngine | None = None,
    workers: AnalysisWorkers | None = None,
) -> tuple[ResidualReport, str]:
    """:func:`residual_pii` over ``columns`` of ``asset``'s stored ``table``, a batch of rows at a time, each
    judged with only the redacted ``documents`` it comes from (:func:`~ragassets.pii.sources.batch_sources`;
    ``chunk_doc``: chunk_id -> doc_id). Rows are named by ``id_column``, else by row number. Returns the
    folded report and how the source documents were found."""
    wanted = list(dict.fromkeys([*columns, *([id_column] if id_column else []),
                                 *(c for c in ("doc_id", "chunk_id", "source_chunk_ids") if c in table.columns)]))
    report: ResidualReport | None = None
    source_how = ""
    offset = 0
    for batch in table.batches(columns=wanted):
        row_ids = (
            batch[id_column].cast(pl.String).to_list()
            if id_column
            else [str(i) for i in range(offset, offset + batch.height)]
        )
        offset += batch.height
        per_row, source_how = batch_sources(asset, batch, documents, chunk_doc)
        texts: list[str] = []
        ids: list[str] = []
        sources: list[str | None] | None = [] if per_row is not None else None
        for col in columns:
            texts.extend(v or "" for v in batch[col].to_list())
            ids.extend(row_ids)
            if sources is not None:
                sources.extend(per_row)
        part = residual_pii(texts, ids, policy, known, analyzer, sources=sources, workers=workers)
        if report is None:
            report = part
        else:
            report.add(part)
    if report is None:  # no rows
        report = residual_pii([], [], policy, known, analyzer)
        source_how = batch_sources(asset, pl.DataFrame(schema=table.schema), documents, chunk_doc)[1]
    return report, source_how
