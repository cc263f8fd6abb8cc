"""Shared fixtures: a temporary data root with the sample corpus, and a helper that materializes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "corpora" / "sample"
SHARED_CORPORA = REPO.parent / "shared" / "corpora"


def shared_corpus(name: str) -> Path:
    """A folder of ../shared/corpora, or skip the test with the reason."""
    path = SHARED_CORPORA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the shared test corpora live beside the repository")
    return path


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data root (RAGASSETS_DATA_DIR) with its own DAGSTER_HOME."""
    root = tmp_path / "data"
    (root / "corpora").mkdir(parents=True)
    monkeypatch.setenv("RAGASSETS_DATA_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    (root / "dagster_home").mkdir()
    shutil.copyfile(REPO / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    return root


@pytest.fixture
def sample_root(data_root: Path) -> Path:
    """A data root holding a copy of the bundled sample corpus."""
    shutil.copytree(SAMPLE, data_root / "corpora" / "sample")
    return data_root


def materialize(corpus: str, select: str | None = None, expect_success: bool = True, run_config: dict | None = None):
    """Materialize ``select`` for ``corpus`` in the ephemeral-free test instance; returns the result.

    ``run_config``: per asset, its typed run config, e.g. ``{"chunks": {"chunks": {"chunk_size": 64}}}``."""
    import dagster as dg

    from ragassets.cli import resolve_selection
    from ragassets.definitions import defs
    from ragassets.partitions import corpus_partitions

    instance = dg.DagsterInstance.get()
    if corpus not in instance.get_dynamic_partitions(corpus_partitions.name):
        instance.add_dynamic_partitions(corpus_partitions.name, [corpus])
    job = defs.resolve_job_def("corpus_job")
    result = job.execute_in_process(
        instance=instance,
        partition_key=corpus,
        asset_selection=resolve_selection(select, defs),
        run_config={"ops": {op: {"config": cfg} for op, cfg in (run_config or {}).items()}},
        raise_on_error=False,
    )
    if expect_success:
        assert result.success, [str(e.event_specific_data) for e in result.all_events if e.is_failure]
    return result


def check_results(result) -> dict[str, object]:
    """check name -> AssetCheckEvaluation, from an execute_in_process result."""
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
