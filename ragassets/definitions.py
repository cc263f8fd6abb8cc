"""The one Definitions object of the ragassets code location.

Assets and checks are collected from the stage folders of ``ragassets.defs`` (``<stage>/assets.py``,
``<stage>/checks.py``): a new stage adds a folder there and nothing here. Resources are listed in
``ragassets.resources.build_resources``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import dagster as dg

from ragassets import defs as defs_package
from ragassets.executors import code_location_executor
from ragassets.resources import build_resources
from ragassets.sensors import (
    corpus_job,
    corpus_sensor,
    duckdb_views_sensor,
    problem_set_job,
    problem_set_sensor,
)


def build_definitions() -> dg.Definitions:
    extra_sensors: list = []
    try:  # alert sensors live in their own module (issue 7)
        from ragassets.alert_sensors import ALERT_SENSORS

        extra_sensors = list(ALERT_SENSORS)
    except ImportError:
        pass
    return dg.Definitions(
        assets=dg.load_assets_from_package_module(defs_package),
        asset_checks=dg.load_asset_checks_from_package_module(defs_package),
        resources=build_resources(),
        jobs=[corpus_job, problem_set_job],
        # a process per step from a preloaded forkserver, or Celery workers ($RAGASSETS_EXECUTOR)
        executor=code_location_executor(),
        sensors=[corpus_sensor, problem_set_sensor, duckdb_views_sensor, *extra_sensors],
    )


defs = build_definitions()
