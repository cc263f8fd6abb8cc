"""corpus_sensor: registers new corpus folders and requests runs for new and changed corpora."""

import shutil

import dagster as dg

from ragassets.sensors import corpus_sensor
from ragassets_tests.conftest import SAMPLE


def evaluate(instance, cursor):
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    return corpus_sensor(ctx)


def test_corpus_sensor_adds_partitions_and_requests_runs(data_root):
    shutil.copytree(SAMPLE, data_root / "corpora" / "sample")
    (data_root / "corpora" / "UPPER case").mkdir()
    with dg.instance_for_test() as instance:
        first = evaluate(instance, None)
        assert [r.partition_key for r in first.run_requests] == ["sample"]
        assert first.dynamic_partitions_requests[0].partition_keys == ["sample"]
        instance.add_dynamic_partitions("corpus", ["sample"])

        again = evaluate(instance, first.cursor)
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        (data_root / "corpora" / "sample" / "new.txt").write_text("a new document arrives")
        changed = evaluate(instance, again.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["sample"]
        assert changed.run_requests[0].run_key != first.run_requests[0].run_key
        assert changed.dynamic_partitions_requests == []  # already registered

        shutil.copytree(SAMPLE, data_root / "corpora" / "second")
        new = evaluate(instance, changed.cursor)
        assert [r.partition_key for r in new.run_requests] == ["second"]
        assert new.dynamic_partitions_requests[0].partition_keys == ["second"]
