"""The data root as a resource, and the IO manager that stores Polars tables as Parquet."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl

from ragassets import paths
from ragassets.storage import read_table, write_table


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


def _asset_name(context: dg.OutputContext | dg.InputContext) -> str:
    return "__".join(context.asset_key.path)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Polars DataFrames as ``<data root>/warehouse/<asset>/corpus=<corpus>/data.parquet``.

    Writes are atomic. Each output gets row count, column schema and path as metadata for free.
    """

    data_dir: str | None = None

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        if not context.has_partition_key:
            raise dg.Failure(f"asset {context.asset_key.to_user_string()} must be partitioned by corpus")
        return paths.table_path(_asset_name(context), context.partition_key, paths.data_root(self.data_dir))

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a polars DataFrame, got {type(obj)}")
        path = self._path(context)
        write_table(obj, path)
        from ragassets.metadata import table_metadata

        context.add_output_metadata({**table_metadata(obj), "path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        path = self._path(context)
        if not path.exists():
            raise dg.Failure(
                f"{path} is missing: materialize {context.asset_key.to_user_string()} for corpus "
                f"'{context.partition_key}' first"
            )
        return pl.read_parquet(path)
