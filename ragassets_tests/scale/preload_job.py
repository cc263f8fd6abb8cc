"""A one-step job run with the code location's executor: does the step start with the PII libraries
already imported by the forkserver? (``test_executors.py``)"""

import sys

import dagster as dg

from ragassets.executors import code_location_executor


@dg.op
def pii_libraries_preloaded() -> None:
    missing = [m for m in ("presidio_analyzer", "spacy", "ragassets.pii.engine") if m not in sys.modules]
    if missing:
        raise dg.Failure(f"the step process had to import {missing} itself")


@dg.job(executor_def=code_location_executor())
def preload_job_def():
    pii_libraries_preloaded()
