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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TextIO

import polars as pl

from ragassets import paths


@contextmanager
def _atomic_name(path: Path) -> Iterator[str]:
    """A temporary name beside ``path`` to write to; when the block ends the file is fsynced and renamed
    to ``path`` (readers see the old file or the new one, never a mix), and removed if the block fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix."""
    with _atomic_name(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def atomic_write_file(path: Path, write: Callable[[str], object]) -> None:
    """``write(name)`` writes a file at a temporary name beside ``path``; it is fsynced and renamed to
    ``path`` (removed if ``write`` fails). For libraries that write files themselves (faiss.write_index)."""
    with _atomic_name(path) as tmp:
        write(tmp)


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


@contextmanager
def atomic_text_writer(path: Path) -> Iterator[TextIO]:
    """A text file written piece by piece under a hidden name and renamed to ``path`` when the
    ``with`` block ends without error (removed when it fails)."""
    with _atomic_name(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        yield fh


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


# --- tables too big to hold: read in batches, written as row groups ------------------------------------

#: How much uncompressed table a streaming stage takes at a time (a batch of documents, their chunks...):
#: memory grows with this, not with the corpus.
BATCH_BYTES = 8 << 20


def _fsync_file(path: str | Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class StoredTable:
    """A Parquet table on disk, read a piece at a time: what a streaming stage gets for its upstream.

    ``batches()`` yields polars DataFrames of about ``BATCH_BYTES`` uncompressed (or ``rows`` rows), in
    file order; ``read(columns)`` reads only the columns asked for; ``rows_where`` only the rows.
    """

    path: Path

    def _file(self):
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path)

    @property
    def num_rows(self) -> int:
        return self._file().metadata.num_rows

    @property
    def schema(self) -> pl.Schema:
        return pl.read_parquet_schema(self.path)

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    def uncompressed_bytes(self) -> int:
        meta = self._file().metadata
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))

    def rows_per_batch(self, target_bytes: int | None = None) -> int:
        """Rows that hold about ``target_bytes`` (default ``BATCH_BYTES``) of the table (at least one)."""
        target_bytes = target_bytes or BATCH_BYTES
        rows, size = self.num_rows, self.uncompressed_bytes()
        return max(1, int(rows * target_bytes / size)) if rows and size else max(1, rows)

    def scan(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.path)

    def read(self, columns: Iterable[str] | None = None) -> pl.DataFrame:
        return pl.read_parquet(self.path, columns=list(columns) if columns is not None else None)

    def batches(
        self, rows: int | None = None, columns: Iterable[str] | None = None, target_bytes: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The table in file order, ``rows`` rows at a time (default: about ``target_bytes`` a batch)."""
        rows = rows or self.rows_per_batch(target_bytes)
        wanted = list(columns) if columns is not None else None
        for batch in self._file().iter_batches(batch_size=rows, columns=wanted):
            yield pl.from_arrow(batch)

    def rows_where(self, column: str, values: Iterable, columns: Iterable[str] | None = None) -> pl.DataFrame:
        """The rows whose ``column`` is one of ``values`` (the file is scanned, only those rows kept)."""
        lf = self.scan().filter(pl.col(column).is_in(list(values)))
        return (lf.select(list(columns)) if columns is not None else lf).collect()


@dataclass(frozen=True)
class StagedTable:
    """A complete table written beside its destination under a hidden name, waiting to be put in
    place by :meth:`commit` (the IO manager does it when the step returns it)."""

    path: Path
    rows: int

    def commit(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, dest)
        return dest

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class TableWriter:
    """Write a table batch by batch (each batch one or more Parquet row groups, zstd) to a hidden file
    beside ``dest``; :meth:`close` fsyncs it and returns a :class:`StagedTable`. A failure inside
    ``with`` removes the file: readers see the old table or, after the commit, the new one.

    ``schema`` fixes the columns and their types (a batch is selected and cast to it), so an empty
    table still has them.
    """

    def __init__(self, dest: Path, schema: Mapping[str, pl.DataType]):
        import pyarrow.parquet as pq

        self.schema = pl.Schema(schema)
        self._arrow_schema = pl.DataFrame(schema=self.schema).to_arrow().schema
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".data.", suffix=".parquet.tmp")
        os.close(fd)
        self.path = Path(tmp)
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, self._arrow_schema, compression="zstd")

    def write(self, batch: pl.DataFrame) -> None:
        if self._writer is None:
            raise RuntimeError("this TableWriter is closed")
        if batch.height == 0:
            return
        missing = [c for c in self.schema if c not in batch.columns]
        if missing:
            raise ValueError(f"batch lacks column(s) {missing}; the table's columns are {list(self.schema)}")
        frame = batch.select(list(self.schema)).cast(dict(self.schema))
        self._writer.write_table(frame.to_arrow().cast(self._arrow_schema))
        self.rows += batch.height

    def close(self) -> StagedTable:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            _fsync_file(self.path)
        return StagedTable(self.path, self.rows)

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


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
