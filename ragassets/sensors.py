"""Corpus discovery and keeping the DuckDB views current."""


import json

import dagster as dg

from ragassets import paths
from ragassets.partitions import (
    corpus_fingerprint,
    corpus_partitions,
    discover_corpora,
    discover_problem_sets,
    problem_set_partitions,
)
from ragassets.storage import refresh_views

corpus_job = dg.define_asset_job(
    "corpus_job",
    # the reasoning group is partitioned by problem set, not corpus: it has its own job below
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("reasoning"),
    partitions_def=corpus_partitions,
    description="Materialize the whole graph for one corpus partition.",
)


@dg.sensor(job=corpus_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def corpus_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Add each new folder under data/corpora/ as a partition, and run the graph for new or changed corpora.

    The cursor maps corpus -> fingerprint of its files (names, sizes, mtimes). Folders whose names are
    not valid corpus names are reported in the log and skipped.
    """
    root = paths.data_root()
    valid, invalid = discover_corpora(root)
    for name in invalid:
        context.log.warning(
            f"skipping folder corpora/{name}: not a valid corpus name (lowercase letters, digits, '-', '_')"
        )
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(corpus_partitions.name))
    new = [c for c in valid if c not in known]
    fingerprints = {c: corpus_fingerprint(paths.corpus_dir(c, root)) for c in valid}
    runs = [
        dg.RunRequest(run_key=f"{c}:{fp}", partition_key=c, tags={"ragassets/trigger": "corpus_sensor"})
        for c, fp in fingerprints.items()
        if seen.get(c) != fp
    ]
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[corpus_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(fingerprints, sort_keys=True),
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
)
def duckdb_views_sensor(context: dg.RunStatusSensorContext) -> None:
    """After each successful run, (re)create the DuckDB views so new tables are queryable.

    Runs in the daemon, one process, so steps never open the DuckDB file.
    """
    try:
        views = refresh_views()
        context.log.info(f"DuckDB views: {', '.join(views)}")
    except RuntimeError as exc:
        context.log.warning(str(exc))


# --- problem sets (the reasoning group, issue 13) ---------------------------------------------------

problem_set_job = dg.define_asset_job(
    "problem_set_job",
    selection=dg.AssetSelection.groups("reasoning"),
    partitions_def=problem_set_partitions,
    description="Materialize the reasoning group for one problem set partition.",
)


@dg.sensor(job=problem_set_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def problem_set_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Add each new folder under data/problem_sets/ as a partition, and run the reasoning group for new
    or changed problem sets (cursor: problem set -> fingerprint of its files, as corpus_sensor)."""
    from ragassets.reasoning.problem_sets import problem_set_dir

    root = paths.data_root()
    valid, invalid = discover_problem_sets(root)
    for name in invalid:
        context.log.warning(
            f"skipping folder problem_sets/{name}: not a valid problem set name (lowercase letters, digits, '-', '_')"
        )
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(problem_set_partitions.name))
    new = [p for p in valid if p not in known]
    fingerprints = {p: corpus_fingerprint(problem_set_dir(p, root)) for p in valid}
    runs = [
        dg.RunRequest(run_key=f"{p}:{fp}", partition_key=p, tags={"ragassets/trigger": "problem_set_sensor"})
        for p, fp in fingerprints.items()
        if seen.get(p) != fp
    ]
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[problem_set_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(fingerprints, sort_keys=True),
    )
