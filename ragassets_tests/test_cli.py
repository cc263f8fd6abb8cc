"""End to end through the `ragassets` command, in a temporary data root."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ragassets_tests.conftest import SAMPLE

pytestmark = pytest.mark.slow


def ragassets(*args: str, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAGASSETS_DATA_DIR": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "RAGASSETS_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "ragassets.cli", *args], env=env, capture_output=True, text=True, check=False,
                          timeout=600)


def test_materialize_documents_then_duckdb_answers(data_root):
    shutil.copytree(SAMPLE, data_root / "corpora" / "sample")
    (data_root / "corpora" / "Bad Name").mkdir()
    proc = ragassets("materialize", "--corpus", "sample", "--select", "documents", root=data_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "registered corpus partitions: sample" in proc.stdout
    assert "documents" in proc.stdout and "checks 2/2 passed" in proc.stdout
    assert "not a valid corpus name" in proc.stderr
    con = duckdb.connect(str(data_root / "ragassets.duckdb"), read_only=True)
    rows = con.execute("select corpus, count(*) from documents group by 1").fetchall()
    assert rows == [("sample", 9)]
    formats = {r[0] for r in con.execute("select distinct format from documents").fetchall()}
    assert formats == {"md", "txt", "pdf", "docx", "jsonl", "html"}
    con.close()
    listing = ragassets("corpora", root=data_root)
    assert listing.returncode == 0
    assert "sample" in listing.stdout and "documents" in listing.stdout and "invalid corpus name" in listing.stdout


def test_blocking_check_failure_exits_nonzero(data_root):
    empty = data_root / "corpora" / "nothing-good"
    empty.mkdir()
    (empty / "a.pptx").write_bytes(b"slides")
    proc = ragassets("materialize", "--corpus", "nothing-good", "--select", "documents", root=data_root)
    assert proc.returncode == 1
    assert "has_documents (ERROR)" in proc.stdout


def test_bad_corpus_yaml_fails_with_key_and_file(data_root):
    corpus = data_root / "corpora" / "typo"
    corpus.mkdir()
    (corpus / "a.txt").write_text("hello there")
    (corpus / "corpus.yaml").write_text("documents: {max_file_mbb: 3}\n")
    proc = ragassets("materialize", "--corpus", "typo", "--select", "documents", root=data_root)
    assert proc.returncode == 1
    assert "unknown key 'documents.max_file_mbb'" in proc.stdout and "corpus.yaml" in proc.stdout


def test_unknown_corpus_and_asset_are_clear_errors(data_root):
    shutil.copytree(SAMPLE, data_root / "corpora" / "sample")
    proc = ragassets("materialize", "--corpus", "nope", root=data_root)
    assert proc.returncode == 2 and "corpora found: sample" in proc.stderr
    proc = ragassets("materialize", "--corpus", "sample", "--select", "documentz", root=data_root)
    assert proc.returncode != 0 and "unknown asset(s) documentz" in proc.stderr


def test_parallel_backfill_of_three_corpora_multiprocess(data_root):
    """Three corpora at once with the multiprocess executor: no DuckDB lock error, all succeed."""
    for name in ("alpha", "beta", "gamma"):
        shutil.copytree(SAMPLE, data_root / "corpora" / name)
    proc = ragassets("materialize", "--jobs", "3", "--select", "documents", root=data_root)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "lock" not in (proc.stdout + proc.stderr).lower()
    con = duckdb.connect(str(data_root / "ragassets.duckdb"), read_only=True)
    rows = dict(con.execute("select corpus, count(*) from documents group by 1").fetchall())
    con.close()
    assert rows == {"alpha": 9, "beta": 9, "gamma": 9}


def test_show_prints_rows_and_names_missing_tables(data_root):
    shutil.copytree(SAMPLE, data_root / "corpora" / "sample")
    assert ragassets("materialize", "--corpus", "sample", "--select", "documents", root=data_root).returncode == 0
    proc = ragassets("show", "documents", "--corpus", "sample", "--columns", "source_path,format", "-n", "9",
                     root=data_root)
    assert proc.returncode == 0 and "documents for corpus sample: 9 rows" in proc.stdout
    assert "germination-report.pdf" in proc.stdout and "docx" in proc.stdout
    proc = ragassets("show", "documents", "--corpus", "sample", "--columns", "nope", root=data_root)
    assert proc.returncode == 2 and "no column(s) nope" in proc.stderr
    proc = ragassets("show", "chunks", "--corpus", "sample", root=data_root)
    assert proc.returncode == 2 and "ragassets materialize --corpus sample --select chunks" in proc.stderr
