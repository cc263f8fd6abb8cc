"""The ``llm_usage`` table: one row per (run, asset, corpus, role) of LLM work, across all runs.

Rows are appended to the ``llm_usage`` table of the response cache's SQLite file (safe with many
writers), then the corpus's rows are exported to ``<data root>/warehouse/llm_usage/corpus=<corpus>/
data.parquet`` so the DuckDB view ``llm_usage`` shows them beside the assets' tables::

    select asset, model, sum(sent), sum(cache_hits), sum(cost_usd) from llm_usage group by all;

The export is rewritten under a file lock, so two processes finishing at once cannot leave a file
that misses the other's row.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

import polars as pl

from ragassets import paths
from ragassets.llm.cache import ResponseCache
from ragassets.storage import write_table

TABLE = "llm_usage"

SCHEMA = {
    "corpus": pl.String,
    "asset": pl.String,
    "run_id": pl.String,
    "role": pl.String,
    "provider": pl.String,
    "model": pl.String,
    "requests": pl.Int64,
    "sent": pl.Int64,
    "cache_hits": pl.Int64,
    "failures": pl.Int64,
    "failures_by_reason": pl.String,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
    "wall_s": pl.Float64,
    "created_at": pl.Float64,
}


def usage_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The rows as a table; ``created_at`` (epoch seconds in SQLite) becomes a UTC timestamp."""
    df = pl.DataFrame([{k: r.get(k) for k in SCHEMA} for r in rows], schema=SCHEMA)
    return df.with_columns(
        pl.from_epoch((pl.col("created_at") * 1_000_000).cast(pl.Int64), time_unit="us")
        .dt.replace_time_zone("UTC")
        .alias("created_at")
    )


def export_usage(cache: ResponseCache, corpus: str, root: Path | None = None) -> Path:
    """Rewrite the corpus's Parquet export from the SQLite rows; returns its path."""
    path = paths.table_path(TABLE, corpus, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / ".lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            write_table(usage_frame(cache.usage_rows(corpus)), path)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return path


def append_usage(cache: ResponseCache, row: dict[str, Any], root: Path | None = None) -> Path:
    """Append ``row`` (see :func:`ragassets.llm.accounting.usage_row`) and refresh the export."""
    row = dict(row)
    if not isinstance(row.get("failures_by_reason"), str):
        row["failures_by_reason"] = json.dumps(row.get("failures_by_reason") or {}, sort_keys=True)
    cache.append_usage(row)
    return export_usage(cache, row["corpus"], root)
