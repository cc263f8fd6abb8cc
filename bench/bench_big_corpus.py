"""A big corpus in bounded memory: documents -> redacted_documents -> chunks -> chunk_index on 50 MB.

Builds a corpus of generated Markdown documents (200 per MB, about 5 kB each: paragraphs of the
Apollo 13 mission report in ../shared/corpora, shuffled, with numbers varied and a contact line of
personal data in each, so redaction has work), then runs the four stages through the real CLI with
Dagster's multiprocess executor (a process per step, as in the UI) and samples the whole process
tree with psutil:

- peak memory of the tree, as the sum of PSS (proportional set size: pages shared between the
  forkserver's children counted once) and, for reference, the sum of RSS (shared pages counted in
  every process); target: at most 2 GB;
- seconds per MB of a 10 MB and of a 50 MB run, per stage from the run's step timings; target: the
  50 MB run within 1.2x of the 10 MB run's seconds per MB (linear).

Run: ``.venv/bin/python -m bench.bench_big_corpus`` (``--sizes 10,50``; ``--sizes 10,50,100`` to see
memory stay flat; ``--sizes 2,10`` for a quick look). Each size runs in a fresh data root under a temporary folder, so every cache is cold.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench._results import shared_corpora, write_section

DOCS_PER_MB = 200
STAGES = ("documents", "redaction", "chunks", "chunk_index")
FIRST = ("Maria", "John", "Aisha", "Kenji", "Olga", "Pedro", "Fatima", "Liam", "Chen", "Sofia")
LAST = ("Jensen", "Okafor", "Tanaka", "Novak", "Silva", "Haddad", "Murphy", "Wei", "Rossi", "Keller")
GiB = 1024**3


def source_paragraphs(base: Path) -> list[str]:
    """Paragraphs of the Apollo 13 report, HTML tables left out (they are one huge line each)."""
    text = (base / "apollo13" / "mission_report.md").read_text(encoding="utf-8")
    paras = [p.strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paras if 40 <= len(p) <= 3000 and not p.startswith("<")]


def build_corpus(folder: Path, megabytes: int, base: Path, seed: int = 13) -> tuple[int, int]:
    """Write ``megabytes`` x 200 documents into ``folder``; returns (files, bytes)."""
    rng = random.Random(seed)
    paras = source_paragraphs(base)
    target = 1024 * 1024 // DOCS_PER_MB
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    n_docs = megabytes * DOCS_PER_MB
    for i in range(n_docs):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        parts = [f"# Field report {i}: {rng.choice(paras)[:60].strip('# ')}",
                 (f"Filed by {first} {last} ({first.lower()}.{last.lower()}@example.org, "
                 f"+1 713 555 {rng.randint(1000, 9999)}).")]
        size = sum(len(p) for p in parts)
        while size < target:
            p = rng.choice(paras)
            # vary the numbers so no two documents are the same text
            p = re.sub(r"\d", lambda _m: str(rng.randint(0, 9)), p) if rng.random() < 0.5 else p
            if rng.random() < 0.2:
                p = f"## Section {rng.randint(1, 40)}\n\n{p}"
            parts.append(p)
            size += len(p) + 2
        body = "\n\n".join(parts) + "\n"
        (folder / f"report-{i:05d}.md").write_text(body, encoding="utf-8")
        total += len(body.encode("utf-8"))
    return n_docs, total


class TreeSampler(threading.Thread):
    """Samples the memory of a process and all its descendants until stopped; keeps the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.peak_pss = self.peak_rss = 0
        self.peak_procs = 0
        self.samples: list[tuple[float, int]] = []  # (time.time(), tree PSS)
        self.at_peak: list[tuple[int, int, str]] = []  # (PSS, pid, end of its command line)
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            pss = rss = 0
            each = []
            for p in procs:
                try:
                    info = p.memory_full_info()
                    role = " ".join(p.cmdline())[-70:]
                except (psutil.NoSuchProcess, psutil.AccessDenied):  # gone (or a zombie) meanwhile
                    continue
                pss += info.pss
                rss += info.rss
                each.append((info.pss, p.pid, role))
            if pss > self.peak_pss:  # who held the memory at the peak, largest first
                self.at_peak = sorted(each, reverse=True)[:6]
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.peak_procs = max(self.peak_procs, len(procs))
            self.samples.append((time.time(), pss))
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def step_seconds(root: Path) -> tuple[dict[str, float], dict[str, int], dict[str, tuple[float, float]]]:
    """Seconds per stage step, rows per table and (start, end) of each stage step, of the (single) run
    in ``root``'s instance."""
    import dagster as dg
    import polars as pl

    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        step_stats = instance.get_run_step_stats(run.run_id)
        stats = {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in step_stats}
        windows = {s.step_key: (s.start_time or 0, s.end_time or 0) for s in step_stats if s.step_key in STAGES}
    rows = {}
    for table in ("documents", "redacted_documents", "chunks", "chunk_index"):
        path = root / "warehouse" / table / "corpus=big" / "data.parquet"
        rows[table] = pl.scan_parquet(path).select(pl.len()).collect().item() if path.exists() else -1
    return {s: round(stats.get(s, float("nan")), 1) for s in STAGES}, rows, windows


def run_size(megabytes: int, base: Path, workdir: Path, select: str = "*chunk_index",
             extra_env: dict[str, str] | None = None) -> dict:
    root = workdir / f"mb{megabytes}"
    (root / "dagster_home").mkdir(parents=True)
    shutil.copyfile(Path(__file__).resolve().parents[1] / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    n_docs, n_bytes = build_corpus(root / "corpora" / "big", megabytes, base)
    env = {**os.environ, "RAGASSETS_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "RAGASSETS_LOG_LEVEL": "WARNING", **(extra_env or {})}
    cmd = [str(Path(sys.executable).parent / "ragassets"), "materialize", "--corpus", "big",
           "--select", select, "--executor", "multiprocess"]
    start = time.perf_counter()
    with open(root / "run.log", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        code = proc.wait()
        sampler.stop()
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"the {megabytes} MB run failed (exit {code}); see {root / 'run.log'}:\n"
                         + (root / "run.log").read_text(errors="replace")[-3000:])
    steps, rows, windows = step_seconds(root)
    # peak tree PSS while each stage's step ran (its checks may run beside the next step)
    step_peak = {st: max((p for t, p in sampler.samples if w[0] <= t <= w[1]), default=0)
                 for st, w in windows.items()}
    mb = n_bytes / 1024 / 1024
    return {"mb": mb, "docs": n_docs, "wall": wall, "steps": steps, "rows": rows,
            "peak_pss": sampler.peak_pss, "peak_rss": sampler.peak_rss, "procs": sampler.peak_procs, "step_peak": step_peak,
            "at_peak": [(round(p / 2**20), pid, cmd) for p, pid, cmd in sampler.at_peak]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="corpus sizes in MB, smallest first (default 10,50)")
    parser.add_argument("--keep", action="store_true", help="keep the data roots (printed) for inspection")
    parser.add_argument("--select", default="*chunk_index",
                        help="the assets to run (default *chunk_index); e.g. *chunks leaves out the embedding")
    parser.add_argument("--embedder", choices=("minilm", "server"), default="minilm",
                        help="minilm: the default, on these CPUs; server: an OpenAI-compatible embedding server (the "
                        "test server, hash vectors) as a deployment with a TEI/vLLM box would use")
    args = parser.parse_args()
    base = shared_corpora()
    if base is None:
        print("../shared/corpora is absent: nothing to measure")
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="ragassets-big-"))
    load_before = os.getloadavg()
    try:
        with contextlib.ExitStack() as stack:
            extra_env: dict[str, str] = {}
            if args.embedder == "server":
                from ragassets_tests.llm_server import LLMTestServer

                srv = stack.enter_context(LLMTestServer.subprocess(embedding_dim=384))
                # MiniLM's window, so the chunks are cut as with the default embedder
                extra_env = {"RAGASSETS_EMBEDDER_PROVIDER": "openai", "RAGASSETS_EMBEDDER_BASE_URL": srv.base_url,
                             "RAGASSETS_EMBEDDER_MODEL": "test-embedder", "RAGASSETS_EMBEDDER_MAX_INPUT_TOKENS": "256"}
            results = []
            for mb in sizes:
                print(f"== {mb} MB", flush=True)
                r = run_size(mb, base, workdir, args.select, extra_env)
                print(r, flush=True)
                results.append(r)
    finally:
        if args.keep:
            print(f"data roots kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    small, big = results[0], results[-1]
    stages = [st for st in STAGES if big["steps"][st] == big["steps"][st]]  # NaN: not selected
    ratio = (big["wall"] / big["mb"]) / (small["wall"] / small["mb"])
    lines = [
        "## A big corpus in bounded memory (`bench_big_corpus`"
        + ("" if args.select == "*chunk_index" else f" --select '{args.select}'")
        + ("" if args.embedder == "minilm" else f" --embedder {args.embedder}") + ")",
        "",
        (f"Generated Markdown corpora ({DOCS_PER_MB} documents per MB from the Apollo 13 report, numbers varied, "
        "a contact line of PII in each), documents -> redacted_documents -> chunks -> chunk_index through "
        "`ragassets materialize --executor multiprocess` (a process per step). Memory of the whole process "
        "tree sampled every 0.5 s with psutil: PSS sums count the forkserver's shared pages once; RSS sums "
        "count them in every process."
        + (" Embeddings from an OpenAI-compatible server in its own process (the LLM test server's hash vectors, "
           "384 dimensions, batches of 64), the way a deployment with an embedding box (TEI, vLLM) runs; MiniLM "
           "on these two CPUs embeds about 30 chunks/s, linear by construction (fixed batches), which would add "
           "about an hour at 50 MB." if args.embedder == "server" else "")),
        "",
        "| corpus | documents | chunks | wall s | s/MB | " + " | ".join(f"{st} s" for st in stages)
        + " | peak tree PSS | peak tree RSS (sum) | peak PSS while each stage ran |",
        "|---|---|---|---|---|" + "---|" * len(stages) + "---|---|---|",
    ]
    for r in results:
        s = r["steps"]
        lines.append(
            f"| {r['mb']:.1f} MB | {r['docs']:,} | {r['rows']['chunks']:,} | {r['wall']:.0f} | "
            f"{r['wall'] / r['mb']:.2f} | " + " | ".join(str(s[st]) for st in stages) + " | "
            f"{r['peak_pss'] / GiB:.2f} GiB | {r['peak_rss'] / GiB:.2f} GiB | "
            + ", ".join(f"{st} {r['step_peak'].get(st, 0) / GiB:.2f}" for st in stages) + " GiB |"
        )
    per_stage = " · ".join(
        f"{st} {(big['steps'][st] / big['mb']) / (small['steps'][st] / small['mb']):.2f}x"
        for st in stages if small["steps"][st]
    )
    lines += [
        "",
        *(f"- seconds per MB, {r['mb']:.0f} MB vs {small['mb']:.0f} MB: "
          f"**{(r['wall'] / r['mb']) / (small['wall'] / small['mb']):.2f}x** (target <= 1.2)"
          for r in results[1:-1]),
        (f"- seconds per MB, {big['mb']:.0f} MB vs {small['mb']:.0f} MB: **{ratio:.2f}x** (target <= 1.2); "
        f"per stage: {per_stage}"),
        (f"- peak memory of the tree at {big['mb']:.0f} MB: **{big['peak_pss'] / GiB:.2f} GiB PSS** "
        f"({big['peak_rss'] / GiB:.2f} GiB RSS summed over {big['procs']} processes); target <= 2 GB"),
        (f"- growth of the peak from {small['mb']:.0f} to {big['mb']:.0f} MB: "
        f"{(big['peak_pss'] - small['peak_pss']) / GiB * 1024 / (big['mb'] - small['mb']):+.1f} MiB per MB of corpus"
        if big["mb"] > small["mb"] else "- one size: no growth measured"),
        (f"- load average (1/5/15 min) before: {' / '.join(f'{x:.1f}' for x in load_before)}, after: "
        f"{' / '.join(f'{x:.1f}' for x in load_after)} on {os.cpu_count()} cores"),
    ]
    name = "big_corpus" if args.select == "*chunk_index" else "big_corpus_" + re.sub(r"\W+", "_", args.select).strip("_")
    if args.embedder != "minilm":
        name += f"_{args.embedder}_embedder"
    write_section(name, "\n".join(lines))


if __name__ == "__main__":
    main()
