"""Documents throughput on ../shared/corpora: files/s, MB/s and peak memory of ingest_corpus.

Run: python -m bench.bench_documents
"""

from __future__ import annotations

import time

from bench._results import peak_rss_mb, shared_corpora, write_section
from ragassets.ingest.corpus import ingest_corpus
from ragassets.settings import DocumentsSettings

REPEAT = 5


def main() -> None:
    base = shared_corpora()
    if base is None:
        print("../shared/corpora is absent: nothing to measure")
        return
    rows = []
    total_files = total_bytes = 0
    total_s = 0.0
    for corpus in sorted(p for p in base.iterdir() if p.is_dir()):
        settings = DocumentsSettings(pdf_password="openpassword")
        ingest_corpus(corpus, settings)  # warm imports and caches
        start = time.perf_counter()
        for _ in range(REPEAT):
            result = ingest_corpus(corpus, settings)
        elapsed = (time.perf_counter() - start) / REPEAT
        mb = result.bytes_read / 1024 / 1024
        rows.append(
            f"| {corpus.name} | {result.files_seen} | {len(result.documents)} | {result.files_rejected} | "
            f"{mb:.2f} | {elapsed * 1000:.0f} | {result.files_seen / elapsed:.1f} | {mb / elapsed:.2f} |"
        )
        total_files += result.files_seen
        total_bytes += result.bytes_read
        total_s += elapsed
    md = [
        "## documents: ingestion throughput",
        "",
        f"`ingest_corpus` on each folder of `../shared/corpora`, mean of {REPEAT} runs after a warm-up.",
        "",
        "| corpus | files | documents | rejected | MB | ms | files/s | MB/s |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        (f"| **all** | {total_files} | | | {total_bytes / 1048576:.2f} | {total_s * 1000:.0f} | "
        f"{total_files / total_s:.1f} | {total_bytes / 1048576 / total_s:.2f} |"),
        "",
        f"Peak memory of the process: {peak_rss_mb():.0f} MiB.",
    ]
    write_section("documents", "\n".join(md))


if __name__ == "__main__":
    main()
