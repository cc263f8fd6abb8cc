"""Problem-set folders and their settings: ``data/problem_sets/<name>/`` and ``problem_set.yaml``.

A problem set is to the reasoning group what a corpus is to the document graph: a folder, a
partition, and an optional settings file with the same layering as corpus.yaml:
defaults < ``RAGASSETS_*`` environment variables < ``problem_set.yaml`` < run config.
``problem_set.yaml`` takes two blocks, ``llm:`` (the same keys as in corpus.yaml) and ``reasoning:``;
any other block is an error that names it and the file. No Dagster import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ragassets import paths
from ragassets.settings import (
    Settings,
    SettingsError,
    layered_settings,
    validate_settings,
)

PROBLEM_SET_FILE = "problem_set.yaml"
PROBLEM_SET_BLOCKS = ("llm", "reasoning")


def problem_sets_dir(root: Path | None = None) -> Path:
    return (root or paths.data_root()) / "problem_sets"


def problem_set_dir(name: str, root: Path | None = None) -> Path:
    return problem_sets_dir(root) / name


def export_dir(name: str, root: Path | None = None) -> Path:
    """``<data root>/exports/reasoning/<problem set>/``."""
    return (root or paths.data_root()) / "exports" / "reasoning" / name


def is_valid_problem_set_name(name: str) -> bool:
    """The corpus rule: lowercase letters, digits, '-' and '_', at most 64 characters."""
    return bool(paths.PARTITION_NAME.match(name))


def validate_problem_set_name(name: str) -> str:
    if not is_valid_problem_set_name(name):
        raise SettingsError(
            f"problem set name {name!r} is not valid: use lowercase letters, digits, '-' and '_' "
            "(at most 64 characters, starting with a letter or digit); rename the folder"
        )
    return name


def discover_problem_sets(root: Path | None = None) -> tuple[list[str], list[str]]:
    """Folders under ``problem_sets/``: (valid names, folder names rejected as invalid)."""
    base = problem_sets_dir(root)
    if not base.is_dir():
        return [], []
    valid, invalid = [], []
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        (valid if is_valid_problem_set_name(child.name) else invalid).append(child.name)
    return valid, invalid


def read_problem_set_yaml(folder: Path) -> dict[str, Any]:
    """The overrides in ``<folder>/problem_set.yaml`` ({} when absent); only llm and reasoning blocks."""
    path = folder / PROBLEM_SET_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected blocks such as 'reasoning: {{samples_per_problem: 4}}', got {data!r}")
    other = sorted(set(data) - set(PROBLEM_SET_BLOCKS))
    if other:
        raise SettingsError(
            f"{path}: unknown block(s) {', '.join(other)}; problem_set.yaml takes {' and '.join(PROBLEM_SET_BLOCKS)}"
        )
    validate_settings(data, str(path))
    return data


def load_problem_set_settings(
    folder: Path | None,
    run_config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Settings of one problem set: defaults < environment < problem_set.yaml < run config."""
    file_layer = read_problem_set_yaml(folder) if folder is not None else None
    return layered_settings(file_layer, str(folder / PROBLEM_SET_FILE) if folder else "settings", run_config, environ)
