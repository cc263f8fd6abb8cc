"""FAISS index choice, recall measurement, atomic artifact round trip and tamper detection."""

import json

import numpy as np
import pytest

from ragassets.retrieval.index import (
    IDS_FILE,
    INDEX_FILE,
    IndexArtifactError,
    IndexConfig,
    build_index,
    choose_index_type,
    export_faiss_dir,
    load_index_artifact,
    write_index_artifact,
)


def unit_vectors(n, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_index_type_follows_size():
    cfg = IndexConfig(approx_threshold=100)
    assert choose_index_type(100, cfg) == "flat"
    assert choose_index_type(101, cfg) == "hnsw"
    assert choose_index_type(5, IndexConfig(index_type="ivf")) == "ivf"


def test_flat_index_is_exact_and_has_no_recall_figure():
    x = unit_vectors(50)
    index, info = build_index(x)
    assert info["index_type"] == "flat" and "recall_at_10" not in info
    _, rows = index.search(x, 1)
    assert rows[:, 0].tolist() == list(range(50))


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_record_recall_against_exact(kind):
    x = unit_vectors(2000)
    index, info = build_index(x, IndexConfig(index_type=kind, recall_sample=100, ivf_nprobe=8))
    assert info["index_type"] == kind and info["recall_sample"] == 100
    assert 0.5 <= info["recall_at_10"] <= 1.0
    assert index.ntotal == 2000


def test_auto_goes_hnsw_above_the_threshold():
    _, info = build_index(unit_vectors(300), IndexConfig(approx_threshold=200, recall_sample=50))
    assert info["index_type"] == "hnsw" and info["recall_at_10"] > 0.9


def test_artifact_round_trip_and_manifest(tmp_path):
    x = unit_vectors(400)
    ids = [f"id{i}" for i in range(400)]
    index, info = build_index(x, IndexConfig(index_type="hnsw", hnsw_ef_search=77, recall_sample=50))
    manifest = write_index_artifact(tmp_path / "idx", index, ids, {"model": "m", "dimension": 32}, info)
    assert set(manifest["files"]) == {"index.faiss", "ids.json", "embedder.json"}
    assert not list((tmp_path / "idx").glob(".*tmp"))  # no temporary files left behind
    loaded, ids2, spec, manifest2 = load_index_artifact(tmp_path / "idx")
    assert ids2 == ids and spec["dimension"] == 32 and manifest2 == manifest
    assert loaded.hnsw.efSearch == 77
    q = x[:10]
    assert np.array_equal(loaded.search(q, 5)[1], index.search(q, 5)[1])


def test_files_from_different_builds_are_detected(tmp_path):
    x = unit_vectors(20)
    index, info = build_index(x)
    write_index_artifact(tmp_path, index, [f"a{i}" for i in range(20)], {"model": "m"}, info)
    (tmp_path / IDS_FILE).write_text(json.dumps([f"b{i}" for i in range(20)]))
    with pytest.raises(IndexArtifactError, match="rematerialize"):
        load_index_artifact(tmp_path)
    (tmp_path / INDEX_FILE).unlink()
    with pytest.raises(IndexArtifactError, match="missing"):
        load_index_artifact(tmp_path)
    with pytest.raises(IndexArtifactError, match="materialize chunk_index"):
        load_index_artifact(tmp_path / "nothing")


def test_ids_must_match_vectors(tmp_path):
    index, info = build_index(unit_vectors(5))
    with pytest.raises(ValueError, match="5 vectors but 4 ids"):
        write_index_artifact(tmp_path, index, ["a", "b", "c", "d"], {}, info)


def test_export_folder_is_replaced_whole(tmp_path):
    index, info = build_index(unit_vectors(5))
    write_index_artifact(tmp_path / "a", index, list("abcde"), {"model": "m", "dimension": 32}, info)
    out = tmp_path / "exports" / "faiss_index"
    export_faiss_dir(tmp_path / "a", out)
    (out / "stale.txt").write_text("old")
    export_faiss_dir(tmp_path / "a", out)
    assert sorted(p.name for p in out.iterdir()) == ["embedder.json", "ids.json", "index.faiss"]
    assert json.loads((out / "embedder.json").read_text())["dimension"] == 32
