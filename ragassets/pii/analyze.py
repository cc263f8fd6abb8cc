"""Find PII in many texts: batched, long texts in windows, overlaps resolved, allow list applied.

- Batches: texts are tokenized with ``nlp.pipe`` and analysed one by one, as Presidio's
  BatchAnalyzerEngine does.
  For large corpora (``pii.parallel_min_chars``) the texts are split among worker processes, each
  with its own engine.
- Long texts: a text longer than ``pii.window_chars`` is analysed in overlapping windows, so memory
  stays bounded and spaCy's ``max_length`` is never hit; offsets are mapped back, and each finding
  is kept by exactly one window.
- Overlaps: recognizers disagree about the same characters (a URL inside an email address, a phone
  number inside an IP address). Overlapping findings become one span covering all of them, typed
  with the most specific entity type (see :data:`SPECIFICITY`).
- Allow list: findings that are an allowed term are dropped; a name that contains an allowed word
  loses that word ("Houston Smith" with ``Houston`` allowed leaves "Smith" a finding).
- Sources: a text cut or written from a document (a chunk, a paraphrase, a question) can be given
  that document's :class:`~ragassets.pii.person.SourceKnowledge`; the PERSON recognizer then judges
  it as it would inside the document (see :mod:`ragassets.pii.residual`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Self

from presidio_analyzer import AnalyzerEngine

from ragassets.pii.engine import DENY_LIST_ENTITY, analyzer_for, deny_list_recognizer
from ragassets.pii.person import SourceKnowledge, attach_source, source_knowledge
from ragassets.settings import PiiSettings

log = logging.getLogger(__name__)

WINDOW_OVERLAP = 1_000  # characters two neighbouring windows share; PII is never this long
MAX_WORKERS = 8
# how specific an entity type is: the winner when findings overlap (ties: higher score, longer span)
SPECIFICITY: dict[str, int] = {
    "CREDIT_CARD": 100,
    "IBAN_CODE": 100,
    "CRYPTO": 95,
    "US_SSN": 90,
    "EMAIL_ADDRESS": 90,
    "IP_ADDRESS": 85,
    "MAC_ADDRESS": 85,
    "UUID": 80,
    "US_BANK_NUMBER": 70,
    "US_PASSPORT": 70,
    "US_DRIVER_LICENSE": 70,
    "US_ITIN": 70,
    "UK_NHS": 70,
    "MEDICAL_LICENSE": 70,
    "PHONE_NUMBER": 60,
    "URL": 50,
    "DATE_TIME": 40,
    DENY_LIST_ENTITY: 35,
    "PERSON": 30,
    "NRP": 20,
    "LOCATION": 20,
    "ORGANIZATION": 20,
}
NAME_LIKE = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP", DENY_LIST_ENTITY})


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of PII: where it is in the text, what it is, how sure, and who said so."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


# --- long texts ------------------------------------------------------------------------------


def split_for_analysis(text: str, window: int, overlap: int = WINDOW_OVERLAP) -> list[tuple[int, int, int]]:
    """Windows of ``text`` as (start, end, owned_until): consecutive windows overlap by ~``overlap``.

    A finding belongs to the window whose owned range ``[owned_from, owned_until)`` holds its
    start, where ``owned_from`` is the previous window's ``owned_until``. Owned ranges stop half an
    overlap before a window's end, so a finding cut by the window's edge is owned by the next
    window, which sees it whole. Cuts fall on whitespace where there is some nearby.
    """
    n = len(text)
    if n <= window:
        return [(0, n, n)]
    if window <= 2 * overlap:
        raise ValueError(f"window ({window}) must be larger than twice the overlap ({overlap})")
    out: list[tuple[int, int, int]] = []
    start = 0
    while True:
        end = min(start + window, n)
        if end < n:
            cut = max(text.rfind(" ", end - overlap // 2, end), text.rfind("\n", end - overlap // 2, end))
            end = cut if cut > start else end
        if end >= n:
            out.append((start, n, n))
            return out
        owned_until = end - overlap // 2
        out.append((start, end, owned_until))
        nxt = owned_until - overlap // 2
        space = text.find(" ", nxt, owned_until)
        start = space + 1 if space >= 0 else nxt


# --- overlaps and allow list -----------------------------------------------------------------------


def resolve_overlaps(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per group of overlapping findings: their union, typed with the most specific type."""
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    out: list[Finding] = []
    group: list[Finding] = []
    group_end = -1
    for f in [*ordered, None]:
        if f is not None and group and f.start < group_end:
            group.append(f)
            group_end = max(group_end, f.end)
            continue
        if group:
            best = max(group, key=lambda g: (SPECIFICITY.get(g.entity_type, 10), g.score, g.end - g.start))
            out.append(Finding(best.entity_type, group[0].start, group_end, best.score, best.recognizer))
        if f is not None:
            group, group_end = [f], f.end
    return out


def _normal(term: str) -> str:
    return " ".join(term.split()).casefold()


def apply_allow_list(text: str, findings: Sequence[Finding], allow_list: Sequence[str]) -> list[Finding]:
    """Drop findings that are an allowed term; cut allowed words out of name-like findings."""
    if not allow_list:
        return list(findings)
    allowed = {_normal(t) for t in allow_list if t.strip()}
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(re.escape(t.strip()) for t in sorted(allow_list, key=len, reverse=True) if t.strip())
        + r")(?!\w)",
        re.IGNORECASE,
    )
    out: list[Finding] = []
    for f in findings:
        value = text[f.start : f.end]
        if _normal(value.strip(" .,;:'\"’()[]<>")) in allowed:
            continue
        if f.entity_type not in NAME_LIKE:
            out.append(f)
            continue
        pos = f.start
        for m in pattern.finditer(text, f.start, f.end):
            out.extend(_piece(text, f, pos, m.start()))
            pos = m.end()
        out.extend(_piece(text, f, pos, f.end))
    return out


def _piece(text: str, f: Finding, start: int, end: int) -> list[Finding]:
    """The part of ``f`` between start and end, trimmed of spaces and punctuation, if any is left."""
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return [Finding(f.entity_type, start, end, f.score, f.recognizer)] if end > start else []


# --- analysis ----------------------------------------------------------------------------------------


def _entities(policy: PiiSettings, entities: Sequence[str] | None) -> list[str]:
    wanted = list(entities if entities is not None else policy.entities)
    if policy.deny_list and DENY_LIST_ENTITY not in wanted:
        wanted.append(DENY_LIST_ENTITY)
    return wanted


def _windows(texts: Sequence[str], window: int) -> list[tuple[int, int, int, int]]:
    """(text index, window start, window end, owned_until) for every window of every non-empty text."""
    return [
        (i, start, end, owned)
        for i, text in enumerate(texts)
        if text and not text.isspace()
        for start, end, owned in split_for_analysis(text, window)
    ]


class _KnowledgeOfSources:
    """Source -> its :class:`SourceKnowledge`, read once per document text and kept for the last
    ``keep`` documents only."""

    def __init__(self, language: str, keep: int = 64) -> None:
        self.language = language
        self.keep = keep
        self._cache: dict[str, SourceKnowledge] = {}

    def get(self, source: SourceKnowledge | str | None) -> SourceKnowledge | None:
        if source is None or isinstance(source, SourceKnowledge):
            return source
        hit = self._cache.get(source)
        if hit is None:
            if len(self._cache) >= self.keep:
                self._cache.pop(next(iter(self._cache)))
            hit = self._cache[source] = source_knowledge(source, self.language)
        return hit


def _analyze_windows(
    analyzer: AnalyzerEngine,
    pieces: Sequence[str],
    policy: PiiSettings,
    entities: list[str],
    sources: Sequence[SourceKnowledge | str | None] | None = None,
) -> list[list[Finding]]:
    """Raw findings per piece of text (offsets within the piece): ``nlp.pipe`` in batches, then
    Presidio's analysis of each piece, with its source's knowledge attached (``sources[k]``; a source
    text is read here, and only the knowledge of the last few documents is kept: the pieces of a
    document come together, so memory does not grow with the corpus)."""
    nlp = analyzer.nlp_engine.nlp[policy.language]
    nlp.max_length = max(nlp.max_length, policy.window_chars + WINDOW_OVERLAP)
    ad_hoc = [deny_list_recognizer(policy.deny_list, policy.language)] if policy.deny_list else None
    known = _KnowledgeOfSources(policy.language)
    out: list[list[Finding]] = []
    # a group of pieces at a time: nlp.pipe batches within it, and memory stays ~ the group's size
    group_chars = max(policy.window_chars, 2_000_000)
    k = 0
    while k < len(pieces):
        first, size = k, 0
        while k < len(pieces) and (k == first or size < group_chars):
            size += len(pieces[k])
            k += 1
        artifacts = analyzer.nlp_engine.process_batch(
            texts=[str(p) for p in pieces[first:k]], language=policy.language, batch_size=policy.batch_size
        )
        for j, (text, nlp_artifacts) in enumerate(artifacts, start=first):
            if sources is not None:
                attach_source(nlp_artifacts, known.get(sources[j]))
            found = analyzer.analyze(
                text=text,
                language=policy.language,
                entities=entities,
                score_threshold=policy.threshold,
                ad_hoc_recognizers=ad_hoc,
                nlp_artifacts=nlp_artifacts,
            )
            out.append(
                [
                    Finding(
                        r.entity_type,
                        r.start,
                        r.end,
                        round(float(r.score), 4),
                        (r.recognition_metadata or {}).get("recognizer_name", ""),
                    )
                    for r in found
                ]
            )
    return out


def _merge(
    texts: Sequence[str],
    windows: Sequence[tuple[int, int, int, int]],
    raw: Sequence[list[Finding]],
    policy: PiiSettings,
) -> list[list[Finding]]:
    """Window findings mapped back to their texts, each kept by the window that owns it; then the
    allow list and overlap resolution per text."""
    per_text: list[list[Finding]] = [[] for _ in texts]
    owned_from: dict[int, int] = {}
    for (i, start, _end, owned), found in zip(windows, raw, strict=True):
        lo = owned_from.get(i, 0)
        for f in found:
            if lo <= start + f.start < owned:
                per_text[i].append(
                    Finding(f.entity_type, start + f.start, start + f.end, f.score, f.recognizer)
                )
        owned_from[i] = owned
    return [
        resolve_overlaps(apply_allow_list(text, found, policy.allow_list))
        for text, found in zip(texts, per_text, strict=True)
    ]


def _worker_analyze(
    pieces: list[str],
    policy: PiiSettings,
    entities: list[str],
    sources: list[SourceKnowledge | None] | None = None,
) -> list[list[Finding]]:
    return _analyze_windows(analyzer_for(policy), pieces, policy, entities, sources)


def _worker_count(policy: PiiSettings) -> int:
    if policy.processes:
        return policy.processes
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class AnalysisWorkers:
    """The processes that analyse one corpus's text, shared by every batch of it: a corpus read in
    batches starts its workers (and each builds its engine) once, not once a batch.

    ``count`` analyses run at once: this process (which has its engine already) and ``count - 1``
    worker processes, so two cores cost one extra engine, not two. ``total_chars``: the size of all the
    text to come; below ``policy.parallel_min_chars`` the analysis stays in this process.
    ``processes`` overrides the choice (as in :func:`analyze_texts`).
    """

    def __init__(self, policy: PiiSettings, total_chars: int, processes: int | None = None) -> None:
        self.count = (
            processes
            if processes is not None
            else (_worker_count(policy) if total_chars >= policy.parallel_min_chars else 1)
        )
        self._pool: ProcessPoolExecutor | None = None

    def pool(self) -> ProcessPoolExecutor:
        """The ``count - 1`` worker processes (started on first use)."""
        if self._pool is None:
            import multiprocessing as mp

            # forkserver: workers start from a clean process (no inherited threads or locks) that has
            # already imported Presidio and spaCy, so each only builds its engine
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["ragassets.pii.engine"])
            self._pool = ProcessPoolExecutor(max_workers=max(1, self.count - 1), mp_context=ctx)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def analyze_texts(
    analyzer: AnalyzerEngine | None,
    texts: Sequence[str],
    policy: PiiSettings,
    entities: Sequence[str] | None = None,
    processes: int | None = None,
    sources: Sequence[SourceKnowledge | str | None] | None = None,
    workers: AnalysisWorkers | None = None,
) -> list[list[Finding]]:
    """Findings at or above ``policy.threshold`` for each text, non-overlapping, sorted by position.

    ``entities`` defaults to ``policy.entities``. ``processes`` overrides the policy's choice of
    serial or parallel analysis (parallel pays off from a few MB of text: every worker builds
    its own engine). Work is shared out by window, so one huge document is parallel too.
    ``sources[i]``: what the document ``texts[i]`` was cut or written from says about its words
    (:meth:`~ragassets.pii.person.NameListPersonRecognizer.knowledge`), or that document's text (its
    knowledge is then read where the piece is analysed, a few documents at a time), or None.
    ``workers``: the processes of a corpus analysed in batches (they decide serial or parallel).
    """
    wanted = _entities(policy, entities)
    texts = list(texts)
    if sources is not None and len(sources) != len(texts):
        raise ValueError(f"{len(sources)} sources for {len(texts)} texts: give one (or None) per text")
    windows = _windows(texts, policy.window_chars)
    pieces = [texts[i][s:e] for i, s, e, _ in windows]
    piece_sources = [sources[i] for i, *_ in windows] if sources is not None else None
    if workers is not None:
        if workers.count <= 1 or len(pieces) < 2:
            raw = _analyze_windows(analyzer or analyzer_for(policy), pieces, policy, wanted, piece_sources)
        else:
            raw = _analyze_parallel(
                analyzer or analyzer_for(policy), pieces, policy, wanted, workers.count, piece_sources, workers.pool()
            )
        return _merge(texts, windows, raw, policy)
    with AnalysisWorkers(policy, sum(map(len, pieces)), processes) as own:
        return analyze_texts(analyzer, texts, policy, entities, sources=sources, workers=own)


def _analyze_parallel(
    analyzer: AnalyzerEngine,
    pieces: list[str],
    policy: PiiSettings,
    entities: list[str],
    workers: int,
    sources: list[SourceKnowledge | None] | None,
    pool: ProcessPoolExecutor,
) -> list[list[Finding]]:
    """Slices of the pieces shared between the worker processes of ``pool`` and this process (with
    ``analyzer``): whoever is free takes the next slice."""
    # slices of about equal size, several per worker so a slow one does not hold up the rest
    n_slices = min(len(pieces), workers * 4)
    target = sum(map(len, pieces)) / n_slices
    slices: list[list[int]] = [[]]
    size = 0.0
    for i, piece in enumerate(pieces):
        if size >= target and len(slices) < n_slices:
            slices.append([])
            size = 0.0
        slices[-1].append(i)
        size += len(piece)
    log.info("analysing %d pieces of text in %d processes", len(pieces), workers)
    out: list[list[Finding]] = [[] for _ in pieces]
    in_pool = max(1, workers - 1) * 2  # slices queued for the workers: one running, one waiting each

    def submit(idx: list[int]) -> Future:
        return pool.submit(
            _worker_analyze,
            [pieces[i] for i in idx],
            policy,
            entities,
            [sources[i] for i in idx] if sources is not None else None,
        )

    def keep(idx: list[int], found: list[list[Finding]]) -> None:
        for i, f in zip(idx, found, strict=True):
            out[i] = f

    running: dict[Future, list[int]] = {}
    todo = iter(slices)
    for idx in todo:
        while len(running) < in_pool:
            running[submit(idx)] = idx
            idx = next(todo, None)
            if idx is None:
                break
        if idx is None:
            break
        # this process takes the next slice itself
        keep(idx, _analyze_windows(analyzer, [pieces[i] for i in idx], policy, entities,
                                   [sources[i] for i in idx] if sources is not None else None))
        for fut in [f for f in running if f.done()]:
            keep(running.pop(fut), fut.result())
    for fut, idx in running.items():
        keep(idx, fut.result())
    return out
