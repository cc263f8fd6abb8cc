"""Who writes the solutions (never the offline stand-in), the prompts, and the SFT selection rules."""

import polars as pl
import pytest

from ragassets.llm import PromptLibrary
from ragassets.reasoning.generate import solution_requests
from ragassets.reasoning.generator import GeneratorError, generator_settings
from ragassets.reasoning.problems import load_problem_set
from ragassets.reasoning.sft import build_examples, select_examples, split_of
from ragassets.settings import ReasoningSettings, Settings
from ragassets_tests.reasoning.responders import SAMPLE_SET


def test_the_offline_stand_in_is_refused(tmp_path):
    settings = Settings.model_validate({"llm": {"provider": "offline"}})
    with pytest.raises(GeneratorError, match="needs a model that writes solutions"):
        generator_settings(settings, "offline", tmp_path)


def test_a_configured_provider_or_model_folder_is_used_as_given(tmp_path):
    s = Settings.model_validate({"llm": {"provider": "openai", "base_url": "http://x/v1", "model": "m"}})
    llm, origin = generator_settings(s, "offline", tmp_path)
    assert (llm.provider, llm.model, origin) == ("openai", "m", "configured (openai)")
    s = Settings.model_validate({"llm": {"model": str(tmp_path / "my-model")}})
    llm, origin = generator_settings(s, "offline", tmp_path)
    assert llm.provider == "transformers" and llm.model.endswith("my-model")
    # a deployment whose llm resource is a real server keeps it
    llm, origin = generator_settings(Settings(), "openai", tmp_path)
    assert origin == "configured (openai)" and "provider" not in llm.model_fields_set


def test_prompts_carry_the_domain_instructions():
    problems = load_problem_set(SAMPLE_SET, "sample").problems
    reqs = solution_requests(problems, PromptLibrary(), ReasoningSettings(samples_per_problem=1))
    math = next(r for r in reqs if r.task == "reasoning_math")
    code = next(r for r in reqs if r.id.startswith(problems.filter(pl.col("fn_name") == "twoSum")["problem_id"][0]))
    assert "Therefore, the answer is" in math.messages[-1]["content"]
    assert (math.params.temperature, math.params.max_tokens) == (0.7, 512)
    assert "`twoSum`" in code.messages[-1]["content"] and "class Solution" in code.messages[-1]["content"]
    assert math.template == "reasoning_math" and math.template_version


def _verified(rows):
    base = {"problem_set": "s", "verified": True, "sample": 0}
    return pl.DataFrame([{**base, **r} for r in rows])


def test_selection_dedupes_balances_and_mixes():
    rows = []
    for i in range(6):  # 6 easy math problems, 2 identical verified texts each
        rows += [{"solution_id": f"m{i}a", "problem_id": f"pm{i}", "domain": "math", "difficulty": "easy", "text": "x"},
                 {"solution_id": f"m{i}b", "problem_id": f"pm{i}", "domain": "math", "difficulty": "easy", "text": "x "}]
    rows += [{"solution_id": "h1", "problem_id": "ph1", "domain": "math", "difficulty": "hard", "text": "y"},
             {"solution_id": "c1", "problem_id": "pc1", "domain": "code", "difficulty": "medium", "text": "z"},
             {"solution_id": "c2", "problem_id": "pc2", "domain": "code", "difficulty": "easy", "text": "w"}]
    chosen, report = select_examples(_verified(rows), ReasoningSettings(mix={"math": 0.5, "code": 0.5}))
    assert report["available"] == {"math": 7, "code": 2}  # duplicate texts dropped
    assert report["chosen"] == {"math": 2, "code": 2}
    # the balance puts the one hard problem in before a second easy one
    assert sorted(r["difficulty"] for r in chosen if r["domain"] == "math") == ["easy", "hard"]


def test_split_is_by_problem_and_stable():
    ids = [f"p{i}" for i in range(200)]
    splits = [split_of(p, 0.1, 0) for p in ids]
    assert splits == [split_of(p, 0.1, 0) for p in ids]
    assert 5 <= splits.count("eval") <= 40
    assert all(split_of(p, 0.0, 0) == "train" for p in ids)


def test_examples_are_chats_ending_with_the_verified_solution():
    problems = load_problem_set(SAMPLE_SET, "sample").problems.head(1)
    pid = problems["problem_id"][0]
    chosen = [{"solution_id": "s1", "problem_id": pid, "domain": "math", "difficulty": "easy",
               "text": "  7 + 16 = 23. Therefore, the answer is \\boxed{23}.  "}]
    ex = build_examples("sample", chosen, problems, PromptLibrary(), ReasoningSettings())
    import json

    messages = json.loads(ex["messages"][0])
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[1]["content"] == problems["problem"][0]
    assert messages[2]["content"] == "7 + 16 = 23. Therefore, the answer is \\boxed{23}."


def test_a_solution_cut_at_max_tokens_has_no_answer_rather_than_a_wrong_one():
    from ragassets.reasoning.verification import verify_math_solutions
    from ragassets.reasoning.verify_math import MathVerifier

    problem = {"problem_id": "p", "reference_answer": "5"}
    base = {"problem_set": "s", "problem_id": "p", "domain": "math", "difficulty": "easy", "sample": 0}
    rows = verify_math_solutions({"p": problem}, [
        {**base, "solution_id": "cut", "text": "First 2 + 3 gives 2", "finish_reason": "length"},
        {**base, "solution_id": "done", "text": "First 2 + 3 gives 2", "finish_reason": "stop"},
        {**base, "solution_id": "cut_but_concluded", "text": "So the answer is 5. Then 7", "finish_reason": "length"},
    ], MathVerifier())
    by_id = {r["solution_id"]: r for r in rows}
    assert by_id["cut"]["reason"] == "no_answer" and "cut at max_tokens" in by_id["cut"]["detail"]
    assert by_id["done"]["reason"] == "wrong_answer"
    assert by_id["cut_but_concluded"]["verified"] is True
