"""Tables written in row groups and read in batches; the IO manager hands them to streaming stages."""

import dagster as dg
import polars as pl
import pytest

from ragassets import paths
from ragassets.resources.storage import ParquetIOManager, StorageResource
from ragassets.storage import StagedTable, StoredTable, TableWriter, atomic_text_writer

SCHEMA = {"corpus": pl.String, "doc_id": pl.String, "n": pl.Int64}


def _frame(start: int, stop: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"n": list(range(start, stop)), "doc_id": [f"d{i}" for i in range(start, stop)], "corpus": "c"}
    )


def test_a_table_written_in_batches_reads_back_whole_and_in_batches(tmp_path):
    dest = tmp_path / "t" / "data.parquet"
    with TableWriter(dest, SCHEMA) as out:
        for start in range(0, 1000, 100):
            out.write(_frame(start, start + 100))  # columns in another order: selected to the schema
    staged = out.close()
    assert not dest.exists() and staged.path.exists() and staged.path.name.startswith(".")
    staged.commit(dest)
    table = StoredTable(dest)
    assert table.num_rows == 1000 and table.columns == ["corpus", "doc_id", "n"]
    assert table.read()["n"].to_list() == list(range(1000))
    batches = list(table.batches(rows=300, columns=["n"]))
    assert [b.height for b in batches] == [300, 300, 300, 100]
    assert pl.concat(batches)["n"].to_list() == list(range(1000))
    assert table.rows_where("doc_id", ["d5", "d999"])["n"].to_list() == [5, 999]
    # about BATCH_BYTES a batch: a small target gives small batches, every row once
    small = list(table.batches(target_bytes=table.uncompressed_bytes() // 10))
    assert len(small) >= 8 and sum(b.height for b in small) == 1000


def test_an_empty_table_keeps_its_columns(tmp_path):
    dest = tmp_path / "data.parquet"
    with TableWriter(dest, SCHEMA) as out:
        out.write(_frame(0, 0))
    out.close().commit(dest)
    assert StoredTable(dest).num_rows == 0
    assert pl.read_parquet(dest).schema == pl.Schema(SCHEMA)


def test_a_failure_while_writing_leaves_the_old_table_and_no_file_behind(tmp_path):
    dest = tmp_path / "data.parquet"
    _frame(0, 3).select(list(SCHEMA)).write_parquet(dest)
    with pytest.raises(RuntimeError, match="boom"), TableWriter(dest, SCHEMA) as out:
        out.write(_frame(10, 20))
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet"]
    assert pl.read_parquet(dest)["n"].to_list() == [0, 1, 2]


def test_a_batch_without_a_column_of_the_schema_is_refused(tmp_path):
    with TableWriter(tmp_path / "data.parquet", SCHEMA) as out, pytest.raises(ValueError, match="doc_id"):
        out.write(pl.DataFrame({"corpus": ["c"], "n": [1]}))


def test_atomic_text_writer_renames_only_on_success(tmp_path):
    path = tmp_path / "x.jsonl"
    with atomic_text_writer(path) as fh:
        fh.write("a\n")
        assert not path.exists()
    assert path.read_text() == "a\n"
    with pytest.raises(KeyError), atomic_text_writer(path) as fh:
        fh.write("b\n")
        raise KeyError("x")
    assert path.read_text() == "a\n" and [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]


def test_the_io_manager_streams_a_staged_table_in_and_hands_a_stored_table_out(tmp_path):
    """An asset writes row groups and returns the staged file; a downstream input annotated StoredTable
    gets the file, one annotated DataFrame the whole table."""
    parts = dg.StaticPartitionsDefinition(["c"])
    seen: dict = {}

    @dg.asset(partitions_def=parts)
    def upstream(context: dg.AssetExecutionContext, storage: StorageResource) -> StagedTable:
        with storage.table_writer("upstream", context.partition_key, SCHEMA) as out:
            for start in range(0, 50, 10):
                out.write(_frame(start, start + 10))
        return out.close()

    @dg.asset(partitions_def=parts)
    def streamed(upstream: StoredTable) -> pl.DataFrame:
        seen["type"] = type(upstream)
        seen["batches"] = [b.height for b in upstream.batches(rows=20)]
        return pl.DataFrame({"corpus": ["c"], "rows": [upstream.num_rows]})

    @dg.asset(partitions_def=parts)
    def whole(upstream: pl.DataFrame) -> pl.DataFrame:
        seen["whole"] = upstream.height
        return upstream.head(1)

    resources = {
        "io_manager": ParquetIOManager(data_dir=str(tmp_path)),
        "storage": StorageResource(data_dir=str(tmp_path)),
    }
    result = dg.materialize([upstream, streamed, whole], resources=resources, partition_key="c")
    assert result.success
    assert seen == {"type": StoredTable, "batches": [20, 20, 10], "whole": 50}
    path = paths.table_path("upstream", "c", tmp_path)
    assert pl.read_parquet(path)["n"].to_list() == list(range(50))
    assert [p.name for p in path.parent.iterdir()] == ["data.parquet"]  # nothing staged left behind
    meta = result.asset_materializations_for_node("upstream")[0].metadata
    assert meta["dagster/row_count"].value == 50 and "d0" in meta["preview"].value
