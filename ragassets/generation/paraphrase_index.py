"""The paraphrase index: FAISS over the paraphrases' embeddings, with an id map back to the chunks.

Same artifact layout as the chunk index (``ragassets.retrieval.index``: index.faiss, ids.json with
the ``paraphrase_id`` of every row, embedder.json, manifest.json) plus ``id_map.json``, the
``paraphrase_id``, ``chunk_id`` and ``variant`` of every row, so a hit on a paraphrase leads to its
original chunk. The manifest records the id map's SHA-256 next to the other files' hashes, and
:func:`load_paraphrase_index` refuses an id map that does not match it.

The embedder is the chunk index's own (rebuilt from its embedder.json), so paraphrase vectors and
chunk vectors live in one space.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import polars as pl

from ragassets.retrieval.index import (
    EMBEDDER_FILE,
    IDS_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    IndexArtifactError,
    IndexConfig,
    build_index,
    load_index_artifact,
    write_index_artifact,
)
from ragassets.storage import atomic_write_text, copy_dir_atomic, file_sha256

ID_MAP_FILE = "id_map.json"
EXPORT_FILES = (INDEX_FILE, IDS_FILE, EMBEDDER_FILE, ID_MAP_FILE, MANIFEST_FILE)


def id_map_records(paraphrases: pl.DataFrame) -> list[dict[str, Any]]:
    """Row i of the index -> its paraphrase_id, chunk_id and variant."""
    cols = ["paraphrase_id", "chunk_id"] + (["variant"] if "variant" in paraphrases.columns else [])
    return [dict(zip(cols, row)) for row in paraphrases.select(cols).iter_rows()]


def write_paraphrase_index(
    directory: Path,
    paraphrases: pl.DataFrame,
    vectors: np.ndarray,
    embedder_spec: dict[str, Any],
    cfg: IndexConfig | None = None,
) -> dict[str, Any]:
    """Build the index over ``vectors`` (row i = paraphrases row i) and write the artifact; returns
    the manifest."""
    if vectors.shape[0] != paraphrases.height:
        raise ValueError(f"{paraphrases.height} paraphrases but {vectors.shape[0]} vectors")
    index, info = build_index(vectors, cfg)
    directory.mkdir(parents=True, exist_ok=True)
    id_map = directory / ID_MAP_FILE
    atomic_write_text(id_map, json.dumps(id_map_records(paraphrases), ensure_ascii=False) + "\n")
    info = {**info, "id_map": {"file": ID_MAP_FILE, "sha256": file_sha256(id_map), "bytes": id_map.stat().st_size}}
    return write_index_artifact(directory, index, paraphrases["paraphrase_id"].to_list(), embedder_spec, info)


def load_paraphrase_index(directory: Path) -> tuple[faiss.Index, list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(index, id map rows, embedder spec, manifest), verified against the manifest's hashes."""
    index, ids, spec, manifest = load_index_artifact(directory)
    path = directory / ID_MAP_FILE
    expected = (manifest.get("id_map") or {}).get("sha256")
    if not path.is_file() or expected is None:
        raise IndexArtifactError(f"{path} is missing; rematerialize paraphrase_index")
    if file_sha256(path) != expected:
        raise IndexArtifactError(f"{path} does not match {directory / MANIFEST_FILE}; rematerialize paraphrase_index")
    rows = json.loads(path.read_text(encoding="utf-8"))
    if [r["paraphrase_id"] for r in rows] != ids:
        raise IndexArtifactError(f"{path} and {directory / IDS_FILE} disagree; rematerialize paraphrase_index")
    return index, rows, spec, manifest


def export_index_dir(artifact: Path, export: Path, files: tuple[str, ...] = EXPORT_FILES) -> Path:
    """Copy ``files`` of the artifact to ``export``, swapped in whole (see :func:`copy_dir_atomic`)."""
    return copy_dir_atomic(artifact, export, files)
