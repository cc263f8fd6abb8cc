"""Parquet tables per (asset, corpus) and the DuckDB views over them. No Dagster import.

Writers only write Parquet, atomically (temporary name, fsync, rename), so a crash never leaves half
a partition and parallel backfills never contend for a lock. The DuckDB file holds only views; it is
opened briefly by :func:`refresh_views` (after runs, from the CLI and a run-status sensor), never
by a step.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import polars as pl

from ragassets import paths


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_dir_atomic(source: Path, dest: Path, files: tuple[str, ...] | list[str]) -> Path:
    """Copy ``files`` of folder ``source`` into folder ``dest``, swapping the whole folder in.

    The copy is built in a hidden sibling and renamed into place, so a reader never sees half an
    export (the old folder is moved aside for the instant of the swap, then removed).
    """
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp"
    old = dest.parent / f".{dest.name}.old"
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    tmp.mkdir()
    for name in files:
        shutil.copyfile(source / name, tmp / name)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    if old.exists():
        shutil.rmtree(old)
    return dest


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_table(df: pl.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet (zstd) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".data.", suffix=".parquet.tmp")
    os.close(fd)
    try:
        df.write_parquet(tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_table(asset: str, corpus: str, root: Path | None = None) -> pl.DataFrame:
    """Read one (asset, corpus) partition; a clear error names what to materialize when missing."""
    path = paths.table_path(asset, corpus, root)
    if not path.exists():
        raise FileNotFoundError(
            f"no table for asset '{asset}', corpus '{corpus}' at {path}; "
            f"materialize it first: ragassets materialize --corpus {corpus} --select {asset}"
        )
    return pl.read_parquet(path)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tabular_assets(root: Path | None = None) -> list[str]:
    """Assets with at least one partition written under the warehouse."""
    wh = paths.warehouse_dir(root)
    if not wh.exists():
        return []
    return sorted(p.name for p in wh.iterdir() if p.is_dir() and any(p.glob("corpus=*/data.parquet")))


def _view_sql(asset: str, root: Path) -> str:
    pattern = (paths.warehouse_dir(root) / asset / "corpus=*" / "data.parquet").as_posix().replace("'", "''")
    # the files carry their own `corpus` column; hive partitioning would add it a second time
    return (
        f'CREATE OR REPLACE VIEW "{asset}" AS SELECT * FROM '
        f"read_parquet('{pattern}', union_by_name = true, hive_partitioning = false)"
    )


def refresh_views(root: Path | None = None, attempts: int = 20, wait_s: float = 0.25) -> list[str]:
    """(Re)create one view per tabular asset in ``ragassets.duckdb``; returns the view names.

    The file is opened for milliseconds. If another process holds it (a user's DuckDB CLI), retry
    for a few seconds, then raise an error that says who to close.
    """
    import duckdb

    root = root or paths.data_root()
    assets = tabular_assets(root)
    db = paths.duckdb_path(root)
    db.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for _ in range(attempts):
        try:
            con = duckdb.connect(str(db))
        except duckdb.IOException as exc:  # locked by another process
            last = exc
            time.sleep(wait_s)
            continue
        try:
            existing = {r[0] for r in con.execute("select view_name from duckdb_views() where not internal").fetchall()}
            for asset in assets:
                con.execute(_view_sql(asset, root))
            for stale in existing - set(assets):
                con.execute(f'DROP VIEW IF EXISTS "{stale}"')
        finally:
            con.close()
        return assets
    raise RuntimeError(f"{db} is locked by another process ({last}); close DuckDB sessions on it and rerun "
                       "`ragassets views`")
