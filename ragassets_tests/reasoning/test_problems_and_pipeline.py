"""Problem sets: schemas, rejects, duplicates, settings; and problems -> solutions -> verdicts -> SFT
through the LLM layer and the test server (the whole domain path, no Dagster)."""

import json
import shutil

import polars as pl
import pytest

from ragassets.llm import LLMClient, PromptLibrary
from ragassets.reasoning.code_tests import run_tests
from ragassets.reasoning.generate import solution_requests, solutions_table
from ragassets.reasoning.metrics import failure_counts, pass_at_k, pass_rates
from ragassets.reasoning.problem_sets import discover_problem_sets, load_problem_set_settings
from ragassets.reasoning.problems import ProblemSetError, limit_per_domain, load_problem_set, problem_id
from ragassets.reasoning.sandbox import Sandbox, SandboxLimits
from ragassets.reasoning.sft import build_examples, mix_counts, select_examples, write_exports
from ragassets.reasoning.verification import verify_solutions
from ragassets.reasoning.verify_math import MathVerifier
from ragassets.settings import LlmSettings, ReasoningSettings, SettingsError
from ragassets_tests.llm_server import LLMTestServer
from ragassets_tests.reasoning.responders import RIGHT_CODE, SAMPLE_SET, WRONG_CODE, make_responder

FAST = SandboxLimits(cpu_s=2, wall_s=5)


def test_sample_set_reads_in_all_three_schemas():
    load = load_problem_set(SAMPLE_SET, "sample")
    df = load.problems
    assert dict(load.by_schema) == {"MATH": 18, "AIME": 4, "APPS": 10} and not load.rejected
    assert df.filter(pl.col("domain") == "math").height == 22 and df.filter(pl.col("domain") == "code").height == 10
    assert set(df["difficulty"]) == {"easy", "medium", "hard", "competition"}
    assert df["problem_id"].n_unique() == df.height
    row = df.filter(pl.col("problem").str.contains("infinite geometric")).row(0, named=True)
    assert row["reference_answer"] == "\\frac{2}{3}" and row["difficulty"] == "hard" and row["source"] == "MATH"
    call = df.filter(pl.col("fn_name") == "twoSum").row(0, named=True)
    assert call["starter_code"].startswith("class Solution") and json.loads(call["tests"])["inputs"][0] == [[2, 7, 11, 15], 9]


def test_rejects_duplicates_and_parquet(tmp_path):
    folder = tmp_path / "set"
    (folder / "more").mkdir(parents=True)
    lines = [
        {"problem": "What is 1+1?", "solution": "It is $\\boxed{2}$.", "level": "Level 1", "type": "Prealgebra"},
        {"problem": "What  is 1+1? ", "answer": 2},  # the same text: a duplicate
        {"problem": "No answer here", "solution": "none", "level": "Level 2"},
        {"question": "Add", "input_output": "{\"inputs\": [\"1\"], \"outputs\": []}"},
        {"title": "what is this"},
    ]
    (folder / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    pl.DataFrame({"problem": ["Find 2+3."], "answer": ["5"]}).write_parquet(folder / "more" / "b.parquet")
    load = load_problem_set(folder, "set")
    assert load.problems.height == 2 and load.duplicates == 1
    reasons = {r.origin: r.reason for r in load.rejected}
    assert "no \\boxed{answer}" in reasons["a.jsonl:3"]
    assert "1 inputs but 0 outputs" in reasons["a.jsonl:4"]
    assert "fits no known schema (keys: title)" in reasons["a.jsonl:5"]
    assert "not valid JSON" in reasons["a.jsonl:6"]
    assert load.files == ["a.jsonl", "more/b.parquet"]
    assert problem_id("math", "What is 1+1?") == problem_id("math", " What  is\n1+1? ")


def test_empty_folder_and_unreachable_hub_say_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProblemSetError, match="no .jsonl or .parquet files"):
        load_problem_set(tmp_path / "empty", "empty")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ProblemSetError, match="HF_HUB_OFFLINE=1"):
        load_problem_set(tmp_path / "empty", "empty", source="HuggingFaceH4/MATH-500")
    # local files still load; the hub's absence is reported, not fatal
    load = load_problem_set(SAMPLE_SET, "sample", source="HuggingFaceH4/MATH-500")
    assert load.hub["loaded"] is False and "HF_HUB_OFFLINE" in load.hub["why_not"]


def test_datasets_source_through_load_dataset(tmp_path):
    rows = tmp_path / "aime.jsonl"
    rows.write_text(json.dumps({"problem": "Find 7*6.", "answer": 42}) + "\n")
    (tmp_path / "set").mkdir()
    load = load_problem_set(tmp_path / "set", "set", source="json", source_split="train",
                            source_data_files=[str(rows)])
    assert load.hub["loaded"] is True and load.problems["reference_answer"].to_list() == ["42"]


def test_limit_per_domain_spreads_over_difficulties():
    df = load_problem_set(SAMPLE_SET, "sample").problems
    small = limit_per_domain(df, 4)
    assert small.filter(pl.col("domain") == "math")["difficulty"].sort().to_list() == [
        "competition", "easy", "hard", "medium"]
    assert small.height == 8


def test_problem_set_yaml_layers_and_rejects_other_blocks(tmp_path):
    folder = tmp_path / "ps"
    folder.mkdir()
    (folder / "problem_set.yaml").write_text("reasoning: {samples_per_problem: 2}\nllm: {temperature: 0.3}\n")
    s = load_problem_set_settings(folder, environ={"RAGASSETS_REASONING_SAMPLES_PER_PROBLEM": "6",
                                                   "RAGASSETS_REASONING_CODE_MAX_TOKENS": "300"})
    assert s.reasoning.samples_per_problem == 2 and s.reasoning.code_max_tokens == 300 and s.llm.temperature == 0.3
    s = load_problem_set_settings(folder, run_config={"reasoning": {"samples_per_problem": 3}}, environ={})
    assert s.reasoning.samples_per_problem == 3
    (folder / "problem_set.yaml").write_text("chunks: {chunk_size: 10}\n")
    with pytest.raises(SettingsError, match="unknown block.*chunks.*takes llm and reasoning"):
        load_problem_set_settings(folder, environ={})
    (folder / "problem_set.yaml").write_text("reasoning: {samples_per_problm: 2}\n")
    with pytest.raises(SettingsError, match="samples_per_problm"):
        load_problem_set_settings(folder, environ={})


def test_discovery_skips_bad_names(tmp_path):
    for name in ("good", "Bad Name", ".hidden"):
        (tmp_path / "problem_sets" / name).mkdir(parents=True)
    assert discover_problem_sets(tmp_path) == (["good"], ["Bad Name"])


@pytest.mark.parametrize("phrase", sorted(RIGHT_CODE))
def test_sample_code_problems_pass_with_a_right_program_and_fail_with_a_wrong_one(phrase):
    df = load_problem_set(SAMPLE_SET, "sample").problems.filter(pl.col("domain") == "code")
    row = next(r for r in df.to_dicts() if phrase in r["problem"] or phrase == r["fn_name"])
    sb = Sandbox(FAST)
    right = run_tests(sb, RIGHT_CODE[phrase], json.loads(row["tests"]), fn_name=row["fn_name"])
    assert right.passed, right
    wrong = run_tests(sb, WRONG_CODE, json.loads(row["tests"]), fn_name=row["fn_name"])
    assert not wrong.passed and wrong.reason in ("test_failed", "crash")


def test_pass_at_k():
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 4) == 1.0
    assert pytest.approx(pass_at_k(4, 1, 2)) == 0.5  # 1 - C(3,2)/C(4,2)
    assert mix_counts({"math": 10, "code": 4}, {"math": 0.5, "code": 0.5}) == {"math": 4, "code": 4}
    assert mix_counts({"math": 10, "code": 0}, {"math": 0.5, "code": 0.5}) == {"math": 10, "code": 0}
    assert mix_counts({"math": 9, "code": 9}, {"math": 0.75, "code": 0.25}) == {"math": 9, "code": 3}


def test_whole_domain_path_through_the_test_server(tmp_path):
    """Sample problems -> 2 samples each from the test server (right on seed 0, wrong on 1) -> verified
    in the sandbox and with math-verify -> SFT exports."""
    problems = limit_per_domain(load_problem_set(SAMPLE_SET, "sample").problems, 5)
    reasoning = ReasoningSettings(samples_per_problem=2)
    prompts = PromptLibrary(tmp_path / "no-overrides")
    with LLMTestServer(responder=make_responder()) as srv:
        client = LLMClient.from_settings(LlmSettings(provider="openai", base_url=srv.base_url, model="t"), cache=None)
        requests = solution_requests(problems, prompts, reasoning)
        assert {r.params.seed for r in requests} == {0, 1} and len(requests) == 20
        assert {(r.params.temperature, r.params.max_tokens) for r in requests if r.task == "reasoning_code"} == {
            (0.8, 1024)}
        results = client.run(requests)
    solutions = solutions_table("sample", problems, requests, results)
    verified = verify_solutions(problems, solutions, verifier=MathVerifier(), sandbox=Sandbox(FAST))
    by_sample = dict(verified.group_by("sample").agg(pl.col("verified").all()).iter_rows())
    assert by_sample == {0: True, 1: False}, verified.filter(pl.col("sample") == 0).select("reason", "detail")
    failures = failure_counts(verified)
    # the wrong program prints instead of defining the function: a crash on call-based problems
    assert set(failures["code"]) == {"test_failed", "crash"} and set(failures["math"]) <= {"wrong_answer", "no_answer"}
    rates = {(x["domain"], x["difficulty"]): x for x in pass_rates(verified, 2)}
    assert rates[("math", "all")]["pass@1"] == 0.5 and rates[("math", "all")]["pass@2"] == 1.0
    chosen, report = select_examples(verified, reasoning)
    assert report["chosen"] == {"math": 5, "code": 5}
    examples = build_examples("sample", chosen, problems, prompts, reasoning)
    out = tmp_path / "exports"
    written = write_exports(examples, out)
    from ragassets.formats.sft import validate_jsonl

    for name, path in written.items():
        _, problems_found = validate_jsonl(path, name.split(".")[0])
        assert not problems_found, problems_found
    lines = [json.loads(x) for x in (out / "messages.train.jsonl").read_text().splitlines()]
    lines += [json.loads(x) for x in (out / "messages.eval.jsonl").read_text().splitlines()]
    assert len(lines) == 10
    assert all(line["messages"][-1]["role"] == "assistant" for line in lines)
    assert {line["source"] for line in lines} == {"reasoning_math", "reasoning_code"}
    shutil.rmtree(out)


def test_samples_are_cached_per_sample_so_a_rerun_sends_only_new_ones(tmp_path):
    from ragassets.llm import ResponseCache

    problems = limit_per_domain(load_problem_set(SAMPLE_SET, "sample").problems, 2)
    prompts = PromptLibrary(tmp_path / "none")
    cache_path = tmp_path / "cache.sqlite"
    with LLMTestServer(responder=make_responder()) as srv:
        def run(k):
            client = LLMClient.from_settings(LlmSettings(provider="openai", base_url=srv.base_url, model="t"),
                                             cache=ResponseCache(cache_path))
            results = client.run(solution_requests(problems, prompts, ReasoningSettings(samples_per_problem=k)))
            return results, srv.stats()["chat_requests"]

        first, sent = run(2)
        assert sent == 8 and not any(r.cached for r in first)
        again, sent_again = run(3)  # one more sample per problem: only those 4 are asked
        assert sent_again == 8 + 4
        assert sum(r.cached for r in again) == 8
