"""The reasoning group's costs: the sandbox per test case, verification throughput, and generation
speed of SmolLM2-135M-Instruct on the CPU, batched against one request at a time.

1. Sandbox: a small stdin program run N times through the sandbox (namespaces where the machine
   allows them, and the rlimits + audit-hook fallback), against the same program as a bare
   ``python`` subprocess: median milliseconds per test case and the overhead ratio.
2. Verification: math answers of the sample problem set (the reference in another form, and a
   wrong one, for every problem) through math-verify, answers per second; the sample coding
   problems with their right programs through the sandbox, test cases per second.
3. Generation: math prompts of the sample set through the ``transformers`` provider on the CPU,
   ``batch_size`` 8 against 1, same requests and max tokens: generated tokens per second. Needs
   the base model folder (made by the base_model asset, or by ``--make-model``); skipped, and said
   so, without it.

    .venv/bin/python -m bench.bench_reasoning [--runs N] [--gen-prompts N] [--gen-tokens N] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bench._results import write_section

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "problem_sets" / "sample"
PROGRAM = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"


def bench_sandbox(runs: int) -> list[dict]:
    from ragassets.reasoning.sandbox import Sandbox, SandboxLimits, probe_namespaces

    rows = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, "main.py").write_text(PROGRAM)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-I", "main.py"], cwd=d, input=b"1 2 3", capture_output=True, check=True)
            times.append(time.perf_counter() - t)
    bare = statistics.median(times)
    rows.append({"runner": "bare python subprocess (no isolation)", "ms_per_case": round(bare * 1000, 1), "x": 1.0})
    modes = ["auto", "rlimits"] if probe_namespaces()[0] else ["rlimits"]
    for mode in modes:
        sb = Sandbox(SandboxLimits(), isolation=mode)
        times = []
        for _ in range(runs):
            out = sb.run_python(PROGRAM, "1 2 3")
            assert out.ok and out.stdout.strip() == "6", out
            times.append(out.wall_s)
        med = statistics.median(times)
        label = "sandbox: namespaces + rlimits" if sb.isolation == "namespaces" else "sandbox: rlimits + audit hooks"
        rows.append({"runner": label, "ms_per_case": round(med * 1000, 1), "x": round(med / bare, 2)})
    return rows


def bench_math_verification() -> dict:
    from ragassets.reasoning.problems import load_problem_set
    from ragassets.reasoning.verify_math import MathVerifier, to_number

    problems = load_problem_set(SAMPLE, "sample").problems.to_dicts()
    pairs = []
    for p in problems:
        if p["domain"] != "math":
            continue
        ref = p["reference_answer"]
        value = to_number(ref)
        other = f"{value:.6f}" if value is not None else f"{ref} "  # the same answer in another form
        pairs += [(ref, other), (ref, "987654")]
    v = MathVerifier(timeout_s=5)
    v.check_many(pairs[:2])  # sympy and the parser warm up once per process
    t = time.perf_counter()
    checks = v.check_many(pairs)
    wall = time.perf_counter() - t
    right = sum(1 for c, (_, a) in zip(checks, pairs, strict=True) if c.correct == (a != "987654"))
    return {"answers": len(pairs), "wall_s": round(wall, 2), "answers_per_s": round(len(pairs) / wall, 1),
            "verdicts_as_expected": f"{right}/{len(pairs)}"}


def bench_code_verification() -> dict:
    sys.path.insert(0, str(REPO))
    from ragassets.reasoning.code_tests import run_tests
    from ragassets.reasoning.problems import load_problem_set
    from ragassets.reasoning.sandbox import Sandbox
    from ragassets_tests.reasoning.responders import RIGHT_CODE

    problems = load_problem_set(SAMPLE, "sample").problems.to_dicts()
    sb = Sandbox()
    cases, t = 0, time.perf_counter()
    for p in problems:
        if p["domain"] != "code":
            continue
        phrase = next(k for k in RIGHT_CODE if k in p["problem"] or k == p["fn_name"])
        verdict = run_tests(sb, RIGHT_CODE[phrase], json.loads(p["tests"]), fn_name=p["fn_name"])
        assert verdict.passed, verdict
        cases += verdict.tests_run
    wall = time.perf_counter() - t
    return {"test_cases": cases, "wall_s": round(wall, 2), "cases_per_s": round(cases / wall, 2)}


def bench_generation(model: Path, prompts_n: int, tokens: int) -> list[dict]:
    from ragassets.llm import LLMClient, PromptLibrary, SamplingParams
    from ragassets.llm.providers.transformers import TransformersProvider
    from ragassets.reasoning.generate import solution_requests
    from ragassets.reasoning.problems import load_problem_set
    from ragassets.settings import ReasoningSettings

    problems = load_problem_set(SAMPLE, "sample").problems
    math = problems.filter(problems["domain"] == "math").head(prompts_n)
    reqs = solution_requests(math, PromptLibrary(), ReasoningSettings(samples_per_problem=1, math_max_tokens=tokens))
    rows = []
    for batch in (8, 1):
        provider = TransformersProvider(str(model), batch_size=batch)
        provider.load()
        client = LLMClient(provider, cache=None, defaults=SamplingParams(max_tokens=tokens))
        t = time.perf_counter()
        results = client.run(reqs)
        wall = time.perf_counter() - t
        out_tokens = sum(r.usage.output_tokens for r in results if r.ok)
        rows.append({"batch_size": batch, "requests": len(reqs), "max_tokens": tokens, "output_tokens": out_tokens,
                     "wall_s": round(wall, 1), "tokens_per_s": round(out_tokens / wall, 1)})
    return rows


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    return "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                     + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="sandbox runs per mode")
    parser.add_argument("--gen-prompts", type=int, default=8, help="math prompts for the generation benchmark")
    parser.add_argument("--gen-tokens", type=int, default=128, help="max tokens per generated solution")
    parser.add_argument("--model", help="base model folder (default: <data root>/artifacts/base_model/...)")
    parser.add_argument("--make-model", action="store_true", help="make the base model folder when missing")
    parser.add_argument("--threads", type=int, help="torch CPU threads for generation (default: torch's own)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()

    from ragassets import paths

    sandbox = bench_sandbox(args.runs)
    math = bench_math_verification()
    code = bench_code_verification()
    model = Path(args.model) if args.model else paths.data_root() / "artifacts" / "base_model" / "SmolLM2-135M-Instruct"
    if not (model / "config.json").exists() and args.make_model:
        from ragassets.reasoning.generator import base_model_dir

        model, _ = base_model_dir(model.parent, log=print)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    gen = bench_generation(model, args.gen_prompts, args.gen_tokens) if (model / "config.json").exists() else None
    md = [
        "## Reasoning: sandbox, verification, generation (`bench/bench_reasoning.py`)", "",
        f"Sandbox cost per test case (median of {args.runs} runs of a small stdin program):", "", table(sandbox), "",
        (f"Math verification (math-verify, main thread): {math['answers']} answers of the sample set in "
         f"{math['wall_s']} s, **{math['answers_per_s']} answers/s** ({math['verdicts_as_expected']} verdicts as "
         "expected)."), "",
        (f"Code verification: the sample set's right programs, {code['test_cases']} test cases in {code['wall_s']} s, "
         f"**{code['cases_per_s']} test cases/s** (one sandbox per case, sequential)."), "",
    ]
    if gen:
        speedup = gen[0]["tokens_per_s"] / gen[1]["tokens_per_s"] if gen[1]["tokens_per_s"] else float("nan")
        md += [(f"Generation, SmolLM2-135M-Instruct on the CPU through the transformers provider "
                f"(math prompts, sampling at 0.7, {_threads()} torch threads): batched is **{speedup:.1f}x** one at a "
                "time."), "", table(gen)]
    else:
        md += [f"Generation: skipped, no model folder at {model} (materialize base_model, or pass --make-model)."]
    load = os.getloadavg()
    md += ["", (f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) on "
                f"{os.cpu_count()} cores: figures taken on a shared machine are slower than on an idle one; the "
                "ratios hold within the run.")]
    text = "\n".join(md)
    if args.no_write:
        print(text)
    else:
        write_section("reasoning", text)


if __name__ == "__main__":
    main()
