"""Which executor runs the steps of a run: chosen by the deployment, not by the code.

``RAGASSETS_EXECUTOR`` (read when the code location loads):

- ``multiprocess`` (default): a process per step on the run's machine, started from a forkserver that
  has imported ``ragassets.definitions`` and the PII engine's libraries (Presidio, spaCy, torch) once,
  so steps start in milliseconds instead of re-importing them, and share those pages (loading the code
  location alone does not import them: the orchestrator and the UI's code server stay small);
- ``celery``: every step is a task on a Celery broker, executed by ``dagster-celery`` workers on any
  machine (needs the ``scale`` extra). The broker and result backend come from
  ``DAGSTER_CELERY_BROKER_URL`` and ``DAGSTER_CELERY_BACKEND_URL`` (e.g. ``redis://host:6379/0`` and
  ``redis://host:6379/1``); the workers and the runs must share the instance (Postgres storage,
  deploy/postgres/dagster.yaml) and the data root. See deploy/celery/README.md.
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTOR_ENV = "RAGASSETS_EXECUTOR"
CHOICES = ("multiprocess", "celery")
#: imported once by the step forkserver; every step process forks from it
FORKSERVER_PRELOAD = ("ragassets.definitions", "ragassets.pii.engine")


def code_location_executor() -> dg.ExecutorDefinition:
    """The executor every job of the code location uses, per ``$RAGASSETS_EXECUTOR``."""
    choice = os.environ.get(EXECUTOR_ENV, "multiprocess").strip().lower() or "multiprocess"
    if choice not in CHOICES:
        raise ValueError(f"{EXECUTOR_ENV}={choice!r} is not one of {', '.join(CHOICES)}; unset it or pick one")
    if choice == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError:
            raise ValueError(
                f"{EXECUTOR_ENV}=celery needs dagster-celery: pip install -e '.[scale]'"
            ) from None
        for var in ("DAGSTER_CELERY_BROKER_URL", "DAGSTER_CELERY_BACKEND_URL"):
            if not os.environ.get(var):
                raise ValueError(f"{EXECUTOR_ENV}=celery needs {var} (e.g. redis://127.0.0.1:6379/0)")
        return celery_executor.configured(
            {"broker": {"env": "DAGSTER_CELERY_BROKER_URL"}, "backend": {"env": "DAGSTER_CELERY_BACKEND_URL"}},
            name="celery_executor",
        )
    return dg.multiprocess_executor.configured(
        {"start_method": {"forkserver": {"preload_modules": list(FORKSERVER_PRELOAD)}}}
    )
