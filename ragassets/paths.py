"""Where things live on disk. No Dagster import: domain code and the CLI use it too.

The data root is ``data/`` in the repository (the current directory's ``data/`` when run from
elsewhere), or ``RAGASSETS_DATA_DIR`` when set. Layout under it::

    corpora/<corpus>/            inputs (a folder of documents, optional corpus.yaml, prompts/)
    warehouse/<asset>/corpus=<corpus>/data.parquet
    artifacts/<asset>/<corpus>/  binary artifacts (indexes, adapters, models)
    exports/<corpus>/            files for other tools (questions.json, chunks.jsonl, ...)
    ragassets.duckdb             one view per tabular asset
    dagster_home/                Dagster's instance storage (runs, events)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA_DIR_ENV = "RAGASSETS_DATA_DIR"

#: The name of a corpus or a problem set (a partition key and a folder name): lowercase letters, digits,
#: '-' and '_', starting with a letter or digit, at most 64 characters.
PARTITION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def data_root(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: ``explicit`` if given, else ``$RAGASSETS_DATA_DIR``, else ``./data``."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / "data").resolve()


def corpora_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "corpora"


def corpus_dir(corpus: str, root: Path | None = None) -> Path:
    return corpora_dir(root) / corpus


def warehouse_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "warehouse"


def table_path(asset: str, corpus: str, root: Path | None = None) -> Path:
    """The Parquet file of one (asset, corpus) partition."""
    return warehouse_dir(root) / asset / f"corpus={corpus}" / "data.parquet"


def artifact_dir(asset: str, corpus: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "artifacts" / asset / corpus


def export_dir(corpus: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "exports" / corpus


def duckdb_path(root: Path | None = None) -> Path:
    return (root or data_root()) / "ragassets.duckdb"


def dagster_home(root: Path | None = None) -> Path:
    return (root or data_root()) / "dagster_home"
