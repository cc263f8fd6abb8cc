"""The data root as a resource, and the IO manager that stores Polars tables as Parquet."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from ragassets import paths
from ragassets.storage import StagedTable, StoredTable, TableWriter, read_table, write_table


class StorageResource(dg.ConfigurableResource):
    """Where ragassets keeps its data. ``data_dir`` unset means ``$RAGASSETS_DATA_DIR`` or ``./data``."""

    data_dir: str | None = None

    @property
    def root(self) -> Path:
        return paths.data_root(self.data_dir)

    def corpus_dir(self, corpus: str) -> Path:
        return paths.corpus_dir(corpus, self.root)

    def artifact_dir(self, asset: str, corpus: str) -> Path:
        return paths.artifact_dir(asset, corpus, self.root)

    def export_dir(self, corpus: str) -> Path:
        return paths.export_dir(corpus, self.root)

    def read_table(self, asset: str, corpus: str) -> pl.DataFrame:
        return read_table(asset, corpus, self.root)

    def stored_table(self, asset: str, corpus: str) -> StoredTable:
        """``asset``'s partition on disk, to read in batches (FileNotFoundError names what to materialize)."""
        path = paths.table_path(asset, corpus, self.root)
        if not path.exists():
            raise FileNotFoundError(
                f"no table for asset '{asset}', corpus '{corpus}' at {path}; "
                f"materialize it first: ragassets materialize --corpus {corpus} --select {asset}"
            )
        return StoredTable(path)

    def table_writer(self, asset: str, corpus: str, schema: dict[str, pl.DataType]) -> TableWriter:
        """A writer for ``asset``'s partition: the step writes batches, returns ``writer.close()`` (a
        :class:`StagedTable`), and the IO manager puts it in place."""
        return TableWriter(paths.table_path(asset, corpus, self.root), schema)


def _asset_name(context: dg.OutputContext | dg.InputContext) -> str:
    return "__".join(context.asset_key.path)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Polars DataFrames as ``<data root>/warehouse/<asset>/corpus=<corpus>/data.parquet``.

    Writes are atomic. Each output gets row count, column schema and path as metadata for free.

    Streaming stages: an input annotated :class:`~ragassets.storage.StoredTable` gets the file to read
    in batches instead of a DataFrame; an output may be a :class:`~ragassets.storage.StagedTable` (a
    table the step wrote in row groups, see ``StorageResource.table_writer``), which is renamed into place.
    """

    data_dir: str | None = None

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        if not context.has_partition_key:
            raise dg.Failure(f"asset {context.asset_key.to_user_string()} must be partitioned by corpus")
        return paths.table_path(_asset_name(context), context.partition_key, paths.data_root(self.data_dir))

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | StagedTable | None) -> None:
        if obj is None:
            return
        from ragassets.metadata import stored_table_metadata, table_metadata

        path = self._path(context)
        if isinstance(obj, StagedTable):
            obj.commit(path)
            context.add_output_metadata(
                {**stored_table_metadata(StoredTable(path)), "path": dg.MetadataValue.path(str(path))}
            )
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame or a StagedTable, got {type(obj)}"
            )
        write_table(obj, path)
        context.add_output_metadata({**table_metadata(obj), "path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | StoredTable:
        path = self._path(context)
        if not path.exists():
            raise dg.Failure(
                f"{path} is missing: materialize {context.asset_key.to_user_string()} for corpus "
                f"'{context.partition_key}' first"
            )
        if context.dagster_type.typing_type is StoredTable:
            return StoredTable(path)
        return pl.read_parquet(path)
