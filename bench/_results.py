"""Write one benchmark's section of bench/RESULTS.md, leaving the other sections as they are.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = "# Benchmark results\n\nWritten by the scripts in `bench/` (`make bench`). Ratios are taken within one run.\n"


def shared_corpora() -> Path | None:
    """``../shared/corpora`` beside the repository, or None when it is absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
    return path if path.is_dir() else None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, markdown: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    stamp = time.strftime("%Y-%m-%d")
    block = f"<!-- bench:{name} -->\n{markdown.strip()}\n\n_{machine()}; {stamp}_\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(markdown)
