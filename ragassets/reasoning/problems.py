"""Problem sets: read math and coding problems in the public schemas, give them ids, drop duplicates.

A problem set is a folder ``data/problem_sets/<name>/`` of ``.jsonl`` and ``.parquet`` files (any
names, sub-folders included), one problem per line or row, in one of three public schemas
(recognised per row by its keys):

======  ===================================================================================
MATH    ``problem``, ``solution`` (a worked solution ending in ``\\boxed{answer}``), ``level``
        (``Level 1`` .. ``Level 5``), ``type`` (``Algebra``, ``Geometry``, ...); an ``answer``
        key, as in MATH-500, is used as the reference when present
AIME    ``problem``, ``answer`` (an integer 0-999), optional ``year``/``id``
APPS    ``question``, ``input_output`` (JSON, or a JSON string: ``inputs``, ``outputs``, optional
        ``fn_name``), ``starter_code``, ``difficulty`` (introductory / interview / competition),
        ``fn_name`` also accepted at the top level
======  ===================================================================================

Every problem gets ``problem_id``, a content hash of its domain and whitespace-normalised text, so
ids are stable across runs and files; the second copy of a problem is dropped and counted. A row
that fits no schema is rejected with its file, line and what it lacks, never silently skipped.

``source`` in a problem set's ``reasoning:`` block names a Hugging Face dataset loaded with
``datasets.load_dataset`` (only where a hub is reachable: ``HF_HUB_OFFLINE`` unset or 0) or a local
builder such as ``json`` with ``source_data_files``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

PROBLEM_FILE_SUFFIXES = (".jsonl", ".parquet")

#: unified difficulty, easiest first
DIFFICULTY_ORDER = ("easy", "medium", "hard", "competition")

PROBLEM_COLUMNS = {
    "problem_set": pl.String,
    "problem_id": pl.String,
    "domain": pl.String,
    "problem": pl.String,
    "reference_answer": pl.String,
    "tests": pl.String,
    "fn_name": pl.String,
    "starter_code": pl.String,
    "difficulty": pl.String,
    "level": pl.String,
    "subject": pl.String,
    "source": pl.String,
    "origin": pl.String,
}


class ProblemSetError(ValueError):
    """A problem set that cannot be read, said so that a person can fix it."""


@dataclass
class Rejected:
    origin: str
    reason: str


@dataclass
class ProblemLoad:
    problems: pl.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    by_schema: Counter = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)
    hub: dict[str, Any] = field(default_factory=dict)


def problem_id(domain: str, text: str) -> str:
    norm = " ".join(text.split())
    return hashlib.sha256(f"{domain}\0{norm}".encode()).hexdigest()[:16]


def math_difficulty(level: Any) -> str:
    """MATH ``Level 1``..``Level 5``: 1-2 easy, 3-4 medium, 5 hard (unknown: medium)."""
    m = re.search(r"(\d)", str(level or ""))
    if not m:
        return "medium"
    n = int(m.group(1))
    return "easy" if n <= 2 else "medium" if n <= 4 else "hard"


def apps_difficulty(level: Any) -> str:
    return {"introductory": "easy", "interview": "medium", "competition": "competition"}.get(
        str(level or "").strip().lower(), "medium"
    )


def _input_output(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"input_output is not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(raw, dict):
        raise ValueError("input_output must be an object with inputs and outputs")  # noqa: TRY004 - reported as a row error
    inputs, outputs = raw.get("inputs"), raw.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs:
        raise ValueError("input_output needs non-empty lists 'inputs' and 'outputs'")
    if len(inputs) != len(outputs):
        raise ValueError(f"input_output has {len(inputs)} inputs but {len(outputs)} outputs")
    return raw


def normalize_row(row: dict[str, Any], origin: str, source: str | None = None) -> dict[str, Any]:
    """One row in MATH, AIME or APPS schema -> a problem record; ValueError says what is missing."""
    from ragassets.reasoning.extract import reference_from_solution

    if row.get("question") and row.get("input_output") is not None:
        io = _input_output(row["input_output"])
        fn_name = row.get("fn_name") or io.get("fn_name")
        tests = {"inputs": io["inputs"], "outputs": io["outputs"]}
        text = str(row["question"]).strip()
        return {
            "domain": "code",
            "problem": text,
            "reference_answer": None,
            "tests": json.dumps(tests, ensure_ascii=False),
            "fn_name": str(fn_name) if fn_name else None,
            "starter_code": str(row.get("starter_code") or "") or None,
            "difficulty": apps_difficulty(row.get("difficulty")),
            "level": str(row.get("difficulty") or "") or None,
            "subject": None,
            "source": source or "APPS",
            "origin": origin,
        }
    if row.get("problem"):
        text = str(row["problem"]).strip()
        if row.get("solution") is not None or row.get("level") is not None:
            answer = row.get("answer")
            ref = str(answer).strip() if answer not in (None, "") else reference_from_solution(str(row.get("solution") or ""))
            if not ref:
                raise ValueError("MATH row: the solution has no \\boxed{answer} and there is no 'answer' key")
            return {
                "domain": "math",
                "problem": text,
                "reference_answer": ref,
                "tests": None,
                "fn_name": None,
                "starter_code": None,
                "difficulty": math_difficulty(row.get("level")),
                "level": str(row.get("level") or "") or None,
                "subject": str(row.get("type") or row.get("subject") or "") or None,
                "source": source or "MATH",
                "origin": origin,
            }
        if row.get("answer") is not None and str(row.get("answer")).strip() != "":
            ans = row["answer"]
            try:
                ref = str(int(str(ans).strip()))
            except ValueError:
                raise ValueError(f"AIME row: answer must be an integer, got {ans!r}") from None
            return {
                "domain": "math",
                "problem": text,
                "reference_answer": ref,
                "tests": None,
                "fn_name": None,
                "starter_code": None,
                "difficulty": "competition",
                "level": str(row.get("year") or "") or None,
                "subject": None,
                "source": source or "AIME",
                "origin": origin,
            }
        raise ValueError("a 'problem' row needs 'solution' with \\boxed{} (MATH) or an integer 'answer' (AIME)")
    keys = ", ".join(sorted(map(str, row))) or "none"
    raise ValueError(
        f"fits no known schema (keys: {keys}); use MATH (problem, solution, level, type), "
        "AIME (problem, answer) or APPS (question, input_output, starter_code)"
    )


def problem_files(folder: Path) -> list[Path]:
    """Problem files under ``folder`` (sub-folders included, hidden files and ``prompts/`` skipped)."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or rel.parts[0] == "prompts":
            continue
        if path.is_file() and path.suffix.lower() in PROBLEM_FILE_SUFFIXES:
            found.append(path)
    return found


def read_rows(path: Path, root: Path | None = None) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(origin, row, error) for every line of a JSONL file or row of a Parquet file."""
    name = path.relative_to(root).as_posix() if root else path.name
    if path.suffix.lower() == ".parquet":
        try:
            df = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any reader error makes the whole file unreadable
            yield f"{name}", None, f"unreadable Parquet file: {exc}"
            return
        for i, row in enumerate(df.iter_rows(named=True), start=1):
            yield f"{name}:{i}", row, None
        return
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{name}:{i}", None, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(row, dict):
                yield f"{name}:{i}", None, "a line must be a JSON object"
                continue
            yield f"{name}:{i}", row, None


def hub_available() -> tuple[bool, str]:
    """Whether ``datasets.load_dataset`` may reach a hub from here (HF_HUB_OFFLINE not set)."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if offline:
        return False, "HF_HUB_OFFLINE=1 (set HF_HUB_OFFLINE=0 where the hub is reachable)"
    return True, ""


def load_hub_rows(
    path: str,
    *,
    name: str | None = None,
    split: str = "test",
    data_files: Any = None,
    limit: int | None = None,
) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """Rows of a dataset through ``datasets.load_dataset`` (a hub name, or a local builder such as
    ``json`` with ``data_files``)."""
    import datasets

    ds = datasets.load_dataset(path, name=name, split=split, data_files=data_files)
    for i, row in enumerate(ds):
        if limit is not None and i >= limit:
            break
        yield f"{path}[{split}]:{i}", dict(row), None


def _records(rows: Iterable[tuple[str, dict[str, Any] | None, str | None]], source: str | None,
             out: list[dict[str, Any]], rejected: list[Rejected], by_schema: Counter) -> None:
    for origin, row, error in rows:
        if error is not None or row is None:
            rejected.append(Rejected(origin, error or "empty row"))
            continue
        try:
            rec = normalize_row(row, origin, source)
        except ValueError as exc:
            rejected.append(Rejected(origin, str(exc)))
            continue
        by_schema[rec["source"] if source is None else "hub"] += 1
        out.append(rec)


def load_problem_set(
    folder: Path,
    name: str,
    *,
    source: str | None = None,
    source_config: str | None = None,
    source_split: str = "test",
    source_data_files: Any = None,
    source_limit: int | None = None,
) -> ProblemLoad:
    """Read every problem file in ``folder`` (and ``source`` when set); drop and count duplicates."""
    if not folder.is_dir():
        raise ProblemSetError(f"no problem set folder {folder}: create it and put .jsonl or .parquet files in it")
    files = problem_files(folder)
    records: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    by_schema: Counter = Counter()
    for path in files:
        _records(read_rows(path, folder), None, records, rejected, by_schema)
    hub: dict[str, Any] = {}
    if source:
        local_builder = source_data_files is not None
        ok, why = (True, "") if local_builder else hub_available()
        hub = {"source": source, "loaded": False}
        if ok:
            try:
                before = len(records)
                _records(
                    load_hub_rows(source, name=source_config, split=source_split, data_files=source_data_files,
                                  limit=source_limit),
                    source, records, rejected, by_schema,
                )
                hub.update(loaded=True, rows=len(records) - before)
            except Exception as exc:  # noqa: BLE001 - reported, and fatal only when nothing else is there
                why = f"{type(exc).__name__}: {exc}"
        if not hub["loaded"]:
            hub["why_not"] = why[:300]
            if not files:
                raise ProblemSetError(
                    f"problem set {name!r}: source {source!r} could not be loaded ({why}) and the folder "
                    f"{folder} has no problem files; download the dataset as JSONL/Parquet into the folder, "
                    "or run where the hub is reachable"
                )
    if not files and not source:
        raise ProblemSetError(
            f"problem set {name!r}: no .jsonl or .parquet files in {folder}; add problems in the MATH, "
            "AIME or APPS schema (see README, 'Reasoning data')"
        )
    seen: set[str] = set()
    rows = []
    duplicates = 0
    for rec in records:
        pid = problem_id(rec["domain"], rec["problem"])
        if pid in seen:
            duplicates += 1
            continue
        seen.add(pid)
        rows.append({"problem_set": name, "problem_id": pid, **rec})
    df = pl.DataFrame(rows, schema=PROBLEM_COLUMNS) if rows else pl.DataFrame(schema=PROBLEM_COLUMNS)
    return ProblemLoad(df, rejected, duplicates, by_schema, [p.relative_to(folder).as_posix() for p in files], hub)


def limit_per_domain(problems: pl.DataFrame, n: int | None) -> pl.DataFrame:
    """At most ``n`` problems of each domain, spread over difficulties (easiest first, round-robin
    in file order), so a small demo still runs from easy to hard."""
    if n is None:
        return problems
    keep: list[str] = []
    for domain in sorted(problems["domain"].unique().to_list()):
        sub = problems.filter(pl.col("domain") == domain)
        buckets = [
            sub.filter(pl.col("difficulty") == d)["problem_id"].to_list()
            for d in [*DIFFICULTY_ORDER, *sorted(set(sub["difficulty"].to_list()) - set(DIFFICULTY_ORDER))]
        ]
        picked: list[str] = []
        while len(picked) < n and any(buckets):
            for b in buckets:
                if b and len(picked) < n:
                    picked.append(b.pop(0))
        keep += picked
    return problems.filter(pl.col("problem_id").is_in(keep))
