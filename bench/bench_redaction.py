"""PII analysis speed: Presidio's batch engine (nlp.pipe) vs a plain loop of analyze() calls, in one run.

1,000 generated paragraphs of about 1 kB, each with names and planted PII of every pattern type,
under the default policy (email, phone, card, SSN, IBAN, IP, PERSON; threshold 0.5) with the
offline engine (blank spaCy pipeline, pattern recognizers, name lists). Four ways:

- loop: ``analyzer.analyze(text)`` per paragraph, as most Presidio examples do;
- batch: :func:`ragassets.pii.analyze.analyze_texts` in one process (BatchAnalyzerEngine, nlp.pipe,
  overlap resolution, allow list);
- batch, 2 processes: the same, split among two worker processes (each builds its engine; the
  startup is included);
- redact: the whole redaction of the 1,000 paragraphs (analysis + replacement), one process.

Wall-clock docs/s are given with CPU-time docs/s (of this process): on a busy machine the second
shows what the code does, the first what the machine allowed. Run from the repository root:
``.venv/bin/python -m bench.bench_redaction``.
"""

from __future__ import annotations

import os
import time

from bench._results import machine, peak_rss_mb, write_section

N_DOCS = 1000
REPEATS = 2


def _timed(fn) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) of REPEATS runs."""
    best = (float("inf"), float("inf"))
    for _ in range(REPEATS):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def _stock_presidio():
    """Presidio's own recognizers and context enhancer on the same blank pipeline: what the changes
    in ragassets.pii.engine (prefiltered phonenumbers, bisected context lookup, one-pass tokens) are
    measured against. It has no PERSON recognizer, so it does less work than the engine."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from ragassets.pii.engine import OfflineSpacyNlpEngine

    nlp = OfflineSpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    # Presidio's artifact building, not the one-pass version
    nlp._doc_to_nlp_artifact = lambda doc, language: SpacyNlpEngine._doc_to_nlp_artifact(nlp, doc, language)
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    registry.remove_recognizer("SpacyRecognizer")
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def main() -> None:
    from ragassets.pii.analyze import analyze_texts
    from ragassets.pii.engine import analyzer_for
    from ragassets.pii.redact import redact_corpus
    from ragassets.pii.synthetic import benchmark_paragraphs
    from ragassets.settings import PiiSettings

    policy = PiiSettings()
    started = time.perf_counter()
    analyzer = analyzer_for(policy)
    build_s = time.perf_counter() - started
    paragraphs = benchmark_paragraphs(N_DOCS, seed=1)
    mean_chars = sum(map(len, paragraphs)) / len(paragraphs)
    analyze_texts(analyzer, paragraphs[:50], policy, processes=1)  # warm caches

    def loop() -> None:
        for text in paragraphs:
            analyzer.analyze(text, language="en", entities=policy.entities, score_threshold=policy.threshold)

    stock = _stock_presidio()
    pattern_entities = [e for e in policy.entities if e != "PERSON"]

    def stock_loop() -> None:
        for text in paragraphs:
            stock.analyze(text, language="en", entities=pattern_entities, score_threshold=policy.threshold)

    rows = {
        "stock Presidio recognizers, loop, no PERSON (reference)": _timed(stock_loop),
        "loop of analyze() calls": _timed(loop),
        "batch engine, 1 process": _timed(lambda: analyze_texts(analyzer, paragraphs, policy, processes=1)),
        "batch engine, 2 processes (startup included)": _timed(
            lambda: analyze_texts(analyzer, paragraphs, policy, processes=2)
        ),
        "redact (analyse + replace), 1 process": _timed(
            lambda: redact_corpus(
                "bench",
                [(str(i), t) for i, t in enumerate(paragraphs)],
                policy.model_copy(update={"processes": 1}),
                analyzer,
            )
        ),
    }
    loop_wall = rows["loop of analyze() calls"][0]
    stock_cpu, engine_cpu = (
        rows["stock Presidio recognizers, loop, no PERSON (reference)"][1],
        rows["loop of analyze() calls"][1],
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## PII redaction (offline engine)",
        "",
        (
            f"{N_DOCS} generated paragraphs of {mean_chars:.0f} characters on average (names and planted PII of every "
            "pattern type), default policy, offline engine (blank spaCy pipeline + pattern recognizers + name "
            f"lists). Engine build: {build_s:.1f} s. Best of {REPEATS} runs. CPU docs/s counts this process only "
            "(the 2-process row's work is in its workers)."
        ),
        "",
        "| way | docs/s (wall) | docs/s (CPU of this process) | vs loop (wall) |",
        "|---|---|---|---|",
    ]
    for name, (wall, cpu) in rows.items():
        cpu_rate = f"{N_DOCS / cpu:.0f}" if "2 processes" not in name else "n/a"
        lines.append(f"| {name} | {N_DOCS / wall:.0f} | {cpu_rate} | {loop_wall / wall:.2f}x |")
    lines += [
        "",
        (
            f"Load average during the run: {load:.1f} on {os.cpu_count()} cores (the machine is shared; wall-clock "
            f"figures fall as load rises). Peak RSS {peak_rss_mb():.0f} MiB. Target: >= 250 docs/s on 2 cores."
        ),
        "",
        (
            f"Per CPU second the engine's loop analyses {stock_cpu / engine_cpu:.2f}x as many paragraphs as stock "
            "Presidio on the same pipeline, and finds PERSON besides: the phone recognizer runs only where seven or "
            "more digits stand "
            "together, the context lookup bisects instead of scanning tokens, and tokens are read in one pass. "
            "With a blank pipeline spaCy only tokenizes, so batching nlp.pipe gains little over the loop; the time "
            "is in the recognizers."
        ),
    ]
    write_section("redaction", "\n".join(lines))
    print(machine())


if __name__ == "__main__":
    main()
