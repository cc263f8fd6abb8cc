"""FAISS indexes over chunk embeddings: build, measure, write atomically, load and verify.

Vectors are unit length, so inner product is cosine similarity. The index type follows the corpus
size: exact search (``IndexFlatIP``) while it is cheap; above ``approx_threshold`` vectors, HNSW
(graph search, no training) or IVF (clustered lists, trained on the vectors). An approximate index
records its recall@10 against exact search on a sample of the corpus's own vectors, so a reader of
the metadata knows what it gave up.

Artifact layout (``<data root>/artifacts/chunk_index/<corpus>/``)::

    index.faiss     faiss.write_index format; row i of the index is ids[i]
    ids.json        the chunk_id of every row, in order
    embedder.json   provider, model, dimension, prefixes: what to embed queries with
    manifest.json   index type, counts, recall, and SHA-256 of the three files above

Every file is written to a temporary name and renamed; manifest.json is written last and names the
hashes of the others, so a reader that finds files from two different builds (a crash between
renames) notices and says to rebuild instead of answering from a mismatched id map.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ragassets.storage import atomic_write_file, atomic_write_text, copy_dir_atomic, file_sha256

INDEX_FILE = "index.faiss"
IDS_FILE = "ids.json"
EMBEDDER_FILE = "embedder.json"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


class IndexArtifactError(RuntimeError):
    """An index artifact is missing or inconsistent; the message says what to rebuild."""


@dataclass(frozen=True)
class IndexConfig:
    """How to choose and tune the index (fields mirror EmbedderSettings)."""

    index_type: str = "auto"  # auto | flat | hnsw | ivf
    approx_threshold: int = 20000
    hnsw_m: int = 32
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 128
    ivf_nlist: int | None = None
    ivf_nprobe: int = 16
    recall_sample: int = 200
    seed: int = 0

    @classmethod
    def from_settings(cls, s: Any) -> IndexConfig:
        return cls(
            index_type=s.index_type,
            approx_threshold=s.approx_threshold,
            hnsw_m=s.hnsw_m,
            hnsw_ef_construction=s.hnsw_ef_construction,
            hnsw_ef_search=s.hnsw_ef_search,
            ivf_nlist=s.ivf_nlist,
            ivf_nprobe=s.ivf_nprobe,
            recall_sample=s.recall_sample,
        )


def choose_index_type(n: int, cfg: IndexConfig) -> str:
    """flat up to ``approx_threshold`` vectors, HNSW above (unless a type is forced)."""
    if cfg.index_type != "auto":
        return cfg.index_type
    return "flat" if n <= cfg.approx_threshold else "hnsw"


def new_index(n: int, d: int, cfg: IndexConfig | None = None) -> tuple[faiss.Index, dict[str, Any]]:
    """An empty inner-product index for ``n`` vectors of ``d`` dimensions (the type follows ``n``) and
    facts about it. IVF must be trained before vectors are added (:func:`build_index` does it)."""
    cfg = cfg or IndexConfig()
    kind = choose_index_type(n, cfg)
    info: dict[str, Any] = {"index_type": kind, "n_vectors": int(n), "dimension": int(d), "metric": "inner_product"}
    if kind == "flat" or n == 0:
        index: faiss.Index = faiss.IndexFlatIP(d)
        info["index_type"] = "flat"
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = cfg.hnsw_ef_construction
        index.hnsw.efSearch = cfg.hnsw_ef_search
        info.update(hnsw_m=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction, ef_search=cfg.hnsw_ef_search)
    elif kind == "ivf":
        nlist = cfg.ivf_nlist or max(1, min(int(4 * math.sqrt(n)), n // 39 or 1))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = cfg.seed
        index.nprobe = min(cfg.ivf_nprobe, nlist)
        info.update(nlist=int(nlist), nprobe=int(index.nprobe))
    else:
        raise ValueError(f"unknown index type {kind!r}; use auto, flat, hnsw or ivf")
    return index, info


def measure_recall(index: faiss.Index, info: dict[str, Any], vectors: np.ndarray, cfg: IndexConfig | None = None) -> None:
    """Add ``recall_at_10`` (and the sample size) to ``info`` for an approximate index of ``vectors``."""
    cfg = cfg or IndexConfig()
    n = int(vectors.shape[0])
    if info["index_type"] != "flat" and n:
        info["recall_at_10"] = recall_at_k(index, vectors, k=10, sample=cfg.recall_sample, seed=cfg.seed)
        info["recall_sample"] = int(min(cfg.recall_sample, n))


def stored_vectors(index: faiss.Index) -> np.ndarray | None:
    """The vectors a flat or HNSW-flat index holds, as a read-only view of its own memory (no copy);
    None for other types."""
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(flat, faiss.IndexFlat) or flat.ntotal == 0:
        return None
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return view


def build_index(vectors: np.ndarray, cfg: IndexConfig | None = None) -> tuple[faiss.Index, dict[str, Any]]:
    """An inner-product index over ``vectors`` (n x d float32, unit rows) and facts about it.

    Facts: ``index_type``, ``n_vectors``, ``dimension``, parameters, and for approximate types
    ``recall_at_10`` measured against exact search on up to ``recall_sample`` of the vectors.
    """
    cfg = cfg or IndexConfig()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected an (n, d) array of vectors, got shape {x.shape}")
    n, d = x.shape
    index, info = new_index(n, d, cfg)
    if info["index_type"] == "ivf":
        index.train(x)
    if n:
        index.add(x)
    measure_recall(index, info, x, cfg)
    return index, info


def recall_at_k(index: faiss.Index, vectors: np.ndarray, k: int = 10, sample: int = 200, seed: int = 0) -> float:
    """Mean share of the exact top-k neighbours that ``index`` also returns, over sampled vectors.

    The exact neighbours come from a brute-force search over ``vectors`` in place (no second copy of
    them in memory)."""
    n = vectors.shape[0]
    if n == 0:
        return 1.0
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(sample, n), replace=False)
    queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    k = min(k, n)
    _, truth = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, k)
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist()))
    return hits / (len(rows) * k)


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_index_artifact(
    directory: Path,
    index: faiss.Index,
    ids: list[str],
    embedder_spec: dict[str, Any],
    info: dict[str, Any],
) -> dict[str, Any]:
    """Write index.faiss, ids.json, embedder.json, then manifest.json; return the manifest.

    Each file is replaced atomically; the manifest (last) records the hashes that tie them together.
    """
    if index.ntotal != len(ids):
        raise ValueError(f"index has {index.ntotal} vectors but {len(ids)} ids")
    directory.mkdir(parents=True, exist_ok=True)
    # straight to the file: a serialised copy of a 100k-vector index is hundreds of MB
    atomic_write_file(directory / INDEX_FILE, lambda tmp: faiss.write_index(index, tmp))
    atomic_write_text(directory / IDS_FILE, json.dumps(ids))
    atomic_write_text(directory / EMBEDDER_FILE, _json(embedder_spec))
    files = {}
    for name in (INDEX_FILE, IDS_FILE, EMBEDDER_FILE):
        p = directory / name
        files[name] = {"sha256": file_sha256(p), "bytes": p.stat().st_size}
    manifest = {"format_version": FORMAT_VERSION, **info, "n_ids": len(ids), "files": files}
    atomic_write_text(directory / MANIFEST_FILE, _json(manifest))
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise IndexArtifactError(
            f"no index at {directory} ({MANIFEST_FILE} missing); materialize chunk_index for this corpus first"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_index_artifact(directory: Path, verify: bool = True) -> tuple[faiss.Index, list[str], dict[str, Any], dict[str, Any]]:
    """Read (index, ids, embedder spec, manifest), checking the files against the manifest's hashes."""
    manifest = read_manifest(directory)
    files = manifest.get("files", {})
    for name in files:
        if not (directory / name).is_file():
            raise IndexArtifactError(f"{directory / name} is missing; rematerialize chunk_index")
    for name, meta in files.items():
        p = directory / name
        if verify and file_sha256(p) != meta["sha256"]:
            raise IndexArtifactError(
                f"{p} does not match {directory / MANIFEST_FILE} (an interrupted write?); rematerialize chunk_index"
            )
    index = faiss.read_index(str(directory / INDEX_FILE))
    ids = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
    spec = json.loads((directory / EMBEDDER_FILE).read_text(encoding="utf-8"))
    if index.ntotal != len(ids):
        raise IndexArtifactError(f"{directory}: index has {index.ntotal} vectors but ids.json {len(ids)}; rematerialize")
    if manifest.get("index_type") == "hnsw" and "ef_search" in manifest:
        faiss.downcast_index(index).hnsw.efSearch = int(manifest["ef_search"])
    if manifest.get("index_type") == "ivf" and "nprobe" in manifest:
        faiss.extract_index_ivf(index).nprobe = int(manifest["nprobe"])
    return index, ids, spec, manifest


def export_faiss_dir(artifact: Path, export: Path) -> Path:
    """Copy index.faiss, ids.json and embedder.json to ``export`` (``<exports>/<corpus>/faiss_index/``),
    swapped in whole so readers never see half an export."""
    return copy_dir_atomic(artifact, export, (INDEX_FILE, IDS_FILE, EMBEDDER_FILE))
