"""The embedding cache: an unchanged chunk is never embedded twice by the same model.

Vectors are stored in SQLite (``<data root>/embedding_cache.sqlite``), keyed by the embedder's
:meth:`~ragassets.embed.providers.Embedder.cache_key` (provider, model, dimension, document or query
side, prefix, weights fingerprint) and the SHA-256 of the text. A re-materialization after an edit to
one document embeds only that document's changed chunks; a second corpus sharing text with the first
reuses its vectors. WAL mode and a busy timeout let parallel backfills (one process per corpus) read
and write at once.

The file holds vectors and text hashes only: no text, no secrets. Deleting it only costs time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ragassets.embed.providers import Embedder
from ragassets.paths import data_root
from ragassets.sqlite_wal import connect_wal

CACHE_FILE = "embedding_cache.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_key TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_key, text_hash)
) WITHOUT ROWID;
"""
_LOOKUP_BATCH = 500  # stays under SQLite's bound-parameter limit


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CacheStats:
    """How many texts were served from the cache and how many had to be embedded."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class EmbeddingCache:
    """A (model key, text hash) -> float32 vector store in one SQLite file."""

    def __init__(self, path: Path | None = None, timeout_s: float = 60.0):
        self.path = Path(path) if path else data_root() / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._timeout_s = timeout_s
        self._con()  # creates the table

    @classmethod
    def under(cls, root: Path) -> EmbeddingCache:
        """The cache file of a data root."""
        return cls(Path(root) / CACHE_FILE)

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = connect_wal(self.path, timeout_s=self._timeout_s, schema=_SCHEMA)
            self._local.con = con
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes`` (missing ones are absent from the result)."""
        out: dict[str, np.ndarray] = {}
        con = self._con()
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), _LOOKUP_BATCH):
            part = unique[i : i + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            rows = con.execute(
                f"SELECT text_hash, dim, vector FROM embeddings WHERE model_key = ? AND text_hash IN ({marks})",
                [model_key, *part],
            ).fetchall()
            for h, dim, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    out[h] = vec
        return out

    def put_many(self, model_key: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (one transaction); existing entries are kept."""
        vectors = np.asarray(vectors, dtype=np.float32)
        con = self._con()
        with con:
            con.executemany(
                "INSERT OR IGNORE INTO embeddings (model_key, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
                [(model_key, h, int(v.shape[0]), v.tobytes()) for h, v in zip(hashes, vectors)],
            )

    def count(self, model_key: str | None = None) -> int:
        con = self._con()
        if model_key is None:
            return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        return con.execute("SELECT count(*) FROM embeddings WHERE model_key = ?", [model_key]).fetchone()[0]


def embed_documents_cached(
    embedder: Embedder,
    texts: Sequence[str],
    cache: EmbeddingCache | None,
    stats: CacheStats | None = None,
) -> np.ndarray:
    """Document embeddings of ``texts`` (unit length, float32), embedding only what the cache lacks.

    Identical texts in one call are embedded once. New vectors are stored as soon as they are made,
    batch by batch, so an interrupted run keeps what it paid for.
    """
    stats = stats if stats is not None else CacheStats()
    texts = list(texts)
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    if cache is None:
        stats.misses += len(texts)
        return embedder.embed_documents(texts)
    key = embedder.cache_key("document")
    hashes = [text_hash(t) for t in texts]
    found = cache.get_many(key, hashes)
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in found and h not in todo:
            todo[h] = t
    stats.hits += sum(1 for h in hashes if h in found)
    stats.misses += len(texts) - sum(1 for h in hashes if h in found)
    if todo:
        todo_hashes = list(todo)
        step = max(embedder.batch_size * 8, 256)
        for i in range(0, len(todo_hashes), step):
            part = todo_hashes[i : i + step]
            vecs = embedder.embed_documents([todo[h] for h in part])
            cache.put_many(key, part, vecs)
            found.update(zip(part, vecs))
    out = np.stack([found[h] for h in hashes]).astype(np.float32, copy=False)
    if out.shape[1] != embedder.dim:
        raise RuntimeError(
            f"cached vectors have {out.shape[1]} dims but {embedder.model} makes {embedder.dim}; "
            f"delete {cache.path} and rerun"
        )
    return out
