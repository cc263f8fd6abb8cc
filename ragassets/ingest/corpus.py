"""Ingest a corpus folder: every file becomes documents or a rejection, and nothing goes missing.

``ingest_corpus`` walks ``data/corpora/<corpus>/`` (without following symlinked folders), reads each
file with the reader for its extension, folds files with identical bytes into one document, and
accounts for every file it saw. No Dagster import.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragassets.ingest.readers import (
    DUPLICATE,
    HIDDEN,
    SYMLINK_OUTSIDE,
    TOO_LARGE,
    UNREADABLE,
    Document,
    Rejection,
    content_hash,
    read_file,
)
from ragassets.settings import CORPUS_FILE, DocumentsSettings

# Configuration that lives in a corpus folder and is not a document.
CONFIG_FILES = {CORPUS_FILE}
CONFIG_DIRS = {"prompts"}


def list_corpus_files(root: Path) -> list[Path]:
    """Every file (or symlink) in a corpus folder except its configuration, sorted.

    Symlinked folders are not descended into: a link is one entry, judged by where it points.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in CONFIG_DIRS]
        # symlinked directories are entries too
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                found.append(here / d)
        for name in filenames:
            if here == root and name in CONFIG_FILES:
                continue
            found.append(here / name)
    return sorted(found)


@dataclass
class IngestResult:
    """What reading a corpus folder gave: documents (unless they were handed out as they were read,
    see :func:`ingest_corpus`), rejections, and counts that cover every document either way."""

    documents: list[Document] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    files_seen: int = 0
    bytes_read: int = 0
    sources: set[str] = field(default_factory=set)  # files that gave at least one document
    documents_read: int = 0

    @property
    def ingested_sources(self) -> set[str]:
        return self.sources | {d.source_path for d in self.documents}

    @property
    def files_ingested(self) -> int:
        return len(self.ingested_sources)

    @property
    def duplicates(self) -> int:
        return sum(1 for r in self.rejections if r.reason == DUPLICATE)

    @property
    def files_rejected(self) -> int:
        """Files with no document at all that are not duplicates (a JSONL file with some good lines is ingested)."""
        return len({r.source_path for r in self.rejections if r.reason != DUPLICATE} - self.ingested_sources)

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.reason for r in self.rejections if r.reason != DUPLICATE))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def ingest_corpus(
    root: Path, settings: DocumentsSettings, on_document: Callable[[Document], None] | None = None
) -> IngestResult:
    """Read every file under ``root`` into documents, or rejections with a reason.

    With ``on_document``, each document is handed to it as soon as its file is read and not kept in
    ``result.documents``, so a large corpus need not be held whole; the counts and rejections are
    the same either way.
    """
    root = root.resolve()
    result = IngestResult()
    first_by_hash: dict[str, str] = {}
    limit = int(settings.max_file_mb * 1024 * 1024)
    for path in list_corpus_files(root):
        result.files_seen += 1
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            result.rejections.append(Rejection(rel, HIDDEN, "hidden files are skipped; rename it to ingest it"))
            continue
        if path.is_symlink():
            target = path.resolve()
            if not _inside(target, root):
                result.rejections.append(
                    Rejection(rel, SYMLINK_OUTSIDE, "it points outside the corpus folder; copy the file in instead")
                )
                continue
            if target.is_dir():
                result.rejections.append(
                    Rejection(rel, SYMLINK_OUTSIDE.replace("leaves", "is a folder in"),
                              "symlinked folders are not followed; the files are read where they are")
                )
                continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            result.rejections.append(Rejection(rel, UNREADABLE, f"cannot stat it: {exc.strerror}"))
            continue
        if size > limit:
            result.rejections.append(
                Rejection(
                    rel,
                    TOO_LARGE,
                    f"{size / 1024 / 1024:.1f} MB > documents.max_file_mb={settings.max_file_mb:g}; "
                    "raise it in corpus.yaml or split the file",
                )
            )
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            result.rejections.append(Rejection(rel, UNREADABLE, f"cannot read it: {exc.strerror}"))
            continue
        result.bytes_read += len(data)
        digest = content_hash(data) if data else None
        if digest is not None and digest in first_by_hash:
            result.rejections.append(
                Rejection(rel, DUPLICATE, f"identical bytes to {first_by_hash[digest]}; kept once")
            )
            continue
        read = read_file(path, data, rel, settings)
        if digest is not None and read.documents:
            first_by_hash[digest] = rel
        for doc in read.documents:
            result.sources.add(doc.source_path)
            result.documents_read += 1
            if on_document is None:
                result.documents.append(doc)
            else:
                on_document(doc)
        result.rejections.extend(read.rejections)
    return result


def unaccounted_files(root: Path, ingested: set[str], rejected: set[str]) -> list[str]:
    """Files on disk that are neither a document's source nor a rejection (should be none)."""
    root = root.resolve()
    on_disk = {p.relative_to(root).as_posix() for p in list_corpus_files(root)}
    return sorted(on_disk - ingested - rejected)
