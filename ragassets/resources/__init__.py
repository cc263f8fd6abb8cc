"""Dagster resources. ``RESOURCES`` is what definitions.py binds; each stage adds its resource here."""

from __future__ import annotations

from typing import Any


def build_resources() -> dict[str, Any]:
    """The resources every definition may ask for, by name."""
    from ragassets.resources.storage import ParquetIOManager, StorageResource

    resources: dict[str, Any] = {
        "io_manager": ParquetIOManager(),
        "storage": StorageResource(),
    }
    return resources
