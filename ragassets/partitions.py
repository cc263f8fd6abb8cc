"""Corpus partitions: each folder ``data/corpora/<corpus>/`` is one partition of every asset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ragassets import paths

corpus_partitions = dg.DynamicPartitionsDefinition(name="corpus")

CORPUS_NAME = paths.PARTITION_NAME


class CorpusNameError(ValueError):
    pass


def is_valid_corpus_name(name: str) -> bool:
    """Lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 64 characters."""
    return bool(CORPUS_NAME.match(name))


def validate_corpus_name(name: str) -> str:
    if not is_valid_corpus_name(name):
        raise CorpusNameError(
            f"corpus name {name!r} is not valid: use lowercase letters, digits, '-' and '_' "
            "(at most 64 characters, starting with a letter or digit); rename the folder"
        )
    return name


def discover_corpora(root: Path | None = None) -> tuple[list[str], list[str]]:
    """Folders under ``corpora/``: (valid corpus names, folder names rejected as invalid)."""
    base = paths.corpora_dir(root)
    if not base.is_dir():
        return [], []
    valid, invalid = [], []
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        (valid if is_valid_corpus_name(child.name) else invalid).append(child.name)
    return valid, invalid


def corpus_fingerprint(corpus_path: Path) -> str:
    """A cheap fingerprint of a corpus folder's files (names, sizes, mtimes): changes when files do."""
    import hashlib
    import os

    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(corpus_path):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except OSError:
                continue
            h.update(f"{p.relative_to(corpus_path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


# --- problem sets (the reasoning group, issue 13): each folder data/problem_sets/<name>/ is a partition ---

problem_set_partitions = dg.DynamicPartitionsDefinition(name="problem_set")


def discover_problem_sets(root: Path | None = None) -> tuple[list[str], list[str]]:
    """Folders under ``problem_sets/``: (valid names, rejected folder names); the corpus naming rule."""
    from ragassets.reasoning.problem_sets import discover_problem_sets as discover

    return discover(root)
