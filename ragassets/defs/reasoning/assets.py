"""The reasoning group: `reasoning_problems` -> `reasoning_solutions` -> `verified_solutions` ->
`reasoning_sft_dataset`, one partition per problem set folder (data/problem_sets/<name>/)."""

import json
import os

import dagster as dg
import polars as pl

from ragassets.defs.common import settings_metadata
from ragassets.defs.reasoning.config import ReasoningConfig, problem_set_of, problem_set_settings
from ragassets.llm import PromptLibrary
from ragassets.metadata import counts_metadata
from ragassets.partitions import problem_set_partitions
from ragassets.reasoning.generate import solution_requests, solutions_table
from ragassets.reasoning.generator import GeneratorError, generator_settings
from ragassets.reasoning.metrics import failure_counts, markdown_table, pass_rates
from ragassets.reasoning.problem_sets import export_dir, problem_set_dir
from ragassets.reasoning.problems import ProblemSetError, limit_per_domain, load_problem_set
from ragassets.reasoning.sandbox import SandboxUnavailable, isolation_report
from ragassets.reasoning.sft import build_examples, select_examples, write_exports
from ragassets.reasoning.verification import sandbox_from_settings, verifier_from_settings, verify_solutions
from ragassets.resources.llm import LLMResource
from ragassets.resources.storage import StorageResource

GROUP = "reasoning"


@dg.asset(
    group_name=GROUP,
    partitions_def=problem_set_partitions,
    kinds={"polars", "parquet"},
    description="Math and coding problems of the problem set (MATH, AIME, APPS schemas; JSONL or Parquet files "
    "in data/problem_sets/<name>/, or a datasets source): problem_id (content hash), domain, problem, "
    "reference_answer or tests, difficulty, source. Duplicates dropped and counted.",
)
def reasoning_problems(context: dg.AssetExecutionContext, config: ReasoningConfig, storage: StorageResource):
    """Read every problem file of the problem set; reject rows in no known schema, with the reason."""
    name = problem_set_of(context)
    settings = problem_set_settings(context, storage.root, config)
    r = settings.reasoning
    try:
        load = load_problem_set(
            problem_set_dir(name, storage.root), name, source=r.source, source_config=r.source_config,
            source_split=r.source_split, source_data_files=r.source_data_files, source_limit=r.source_limit,
        )
    except ProblemSetError as exc:
        raise dg.Failure(str(exc)) from None
    problems = limit_per_domain(load.problems, r.max_problems_per_domain)
    if problems.is_empty():
        reasons = "; ".join(f"{x.origin}: {x.reason}" for x in load.rejected[:5])
        raise dg.Failure(f"problem set {name!r} has no usable problem ({len(load.rejected)} rejected: {reasons})")
    for x in load.rejected[:20]:
        context.log.warning(f"rejected {x.origin}: {x.reason}")
    counts = {f"{d}/{k}": n for d, k, n in problems.group_by("domain", "difficulty").len().iter_rows()}
    return dg.Output(problems, metadata={
        **settings_metadata(settings, config),
        "problems": problems.height,
        "read": load.problems.height,
        "duplicates_dropped": load.duplicates,
        "rejected": len(load.rejected),
        "rejected_rows": dg.MetadataValue.json([{"row": x.origin, "reason": x.reason} for x in load.rejected[:50]]),
        "files": dg.MetadataValue.json(load.files),
        "hub_source": dg.MetadataValue.json(load.hub or None),
        **counts_metadata("by_schema", dict(load.by_schema)),
        **counts_metadata("by_domain_difficulty", counts),
    })


@dg.asset(
    group_name=GROUP,
    partitions_def=problem_set_partitions,
    kinds={"polars", "parquet"},
    pool="llm",
    # the default generator is the base_model folder (made there, or by this asset when missing)
    deps=[dg.AssetKey("base_model")],
    description="k step-by-step solutions per problem (reasoning.samples_per_problem) from the generator "
    "(default: SmolLM2-135M-Instruct through transformers), domain prompts reasoning_math.j2 / reasoning_code.j2, "
    "per-domain temperature and max tokens; cached per sample, so a re-run sends only what has no answer.",
)
def reasoning_solutions(
    context: dg.AssetExecutionContext,
    config: ReasoningConfig,
    storage: StorageResource,
    llm: LLMResource,
    reasoning_problems: pl.DataFrame,
):
    """Sample solutions through the LLM layer; failed requests are kept as rows with their reason."""
    name = problem_set_of(context)
    settings = problem_set_settings(context, storage.root, config)
    try:
        gen, origin = generator_settings(settings, llm.provider, storage.root / "artifacts" / "base_model",
                                         log=context.log.info)
    except GeneratorError as exc:
        raise dg.Failure(str(exc)) from None
    client = llm.client(context, gen)
    requests = solution_requests(reasoning_problems, PromptLibrary(problem_set_dir(name, storage.root)),
                                 settings.reasoning)
    context.log.info(f"{name}: {len(requests)} samples from {client.provider.kind}:{client.model} ({origin})")
    results = client.run(requests, label=f"reasoning_solutions[{name}]")
    table = solutions_table(name, reasoning_problems, requests, results)
    if table.height and table["error"].null_count() == 0:
        raise dg.Failure(f"every generation request failed: {dict(client.last_stats.failures)}")
    stats = client.last_stats
    fresh_tokens = int(table.filter(~pl.col("cached"))["output_tokens"].sum() or 0)
    failed = dict(table.filter(pl.col("error").is_not_null()).group_by("error").len().iter_rows())
    return dg.Output(table, metadata={
        **settings_metadata(settings, config),
        "generator": f"{client.provider.kind}:{client.model}",
        "generator_origin": origin,
        "samples": table.height,
        "samples_per_problem": settings.reasoning.samples_per_problem,
        "cached": int(table["cached"].sum()),
        "output_tokens": int(table["output_tokens"].sum() or 0),
        "generation_tokens_per_s": float(round(fresh_tokens / stats.wall_s, 2)) if stats.wall_s and fresh_tokens else 0.0,
        "cut_at_max_tokens": table.filter(pl.col("finish_reason") == "length").height,
        **counts_metadata("failed_requests", failed),
        **llm.record_usage(context, client, asset="reasoning_solutions", corpus=name),
    })


@dg.asset(
    group_name=GROUP,
    partitions_def=problem_set_partitions,
    kinds={"polars", "parquet"},
    description="Every sampled solution with its verdict: math answers extracted and compared with math-verify "
    "(numeric fallback), code run against the tests in a sandbox (namespaces + rlimits). verified=true rows are "
    "the kept ones; the others carry the reason (no_answer, wrong_answer, no_code, test_failed, timeout, memory, "
    "crash, generation_failed). Metadata: pass@1 and pass@k per domain and difficulty.",
)
def verified_solutions(
    context: dg.AssetExecutionContext,
    config: ReasoningConfig,
    storage: StorageResource,
    reasoning_problems: pl.DataFrame,
    reasoning_solutions: pl.DataFrame,
):
    """Verify every solution; keep the passing ones (verified=true) and count why the others failed."""
    settings = problem_set_settings(context, storage.root, config)
    r = settings.reasoning
    try:
        sandbox = sandbox_from_settings(r)
    except SandboxUnavailable as exc:
        raise dg.Failure(str(exc)) from None
    verifier = verifier_from_settings(r)
    table = verify_solutions(
        reasoning_problems, reasoning_solutions, verifier=verifier, sandbox=sandbox,
        max_tests=r.max_tests_per_problem, tolerance=r.numeric_tolerance, workers=r.sandbox_workers or os.cpu_count(),
    )
    k = r.samples_per_problem
    rates = pass_rates(table, k)
    failures = failure_counts(table)
    overall = next(x for x in rates if x["domain"] == "all")
    per_domain = [x for x in rates if x["difficulty"] == "all" and x["domain"] != "all"]
    context.log.info(f"verified {int(table['verified'].sum())}/{table.height}; failures: {failures}")
    return dg.Output(table, metadata={
        **settings_metadata(settings, config),
        "verified": int(table["verified"].sum()),
        "solutions": table.height,
        "pass@1": overall["pass@1"],
        f"pass@{k}": overall[f"pass@{k}"],
        **{f"{x['domain']}/pass@1": x["pass@1"] for x in per_domain},
        **{f"{x['domain']}/pass@{k}": x[f"pass@{k}"] for x in per_domain},
        "pass_rates": dg.MetadataValue.md(markdown_table(rates)),
        "failure_reasons": dg.MetadataValue.json(failures),
        **counts_metadata("failures", {f"{d}/{reason}": n for d, rs in failures.items() for reason, n in rs.items()}),
        "sandbox": dg.MetadataValue.json({**isolation_report(r.sandbox_isolation), "cpu_s": r.sandbox_cpu_s,
                                          "wall_s": r.sandbox_wall_s, "memory_mb": r.sandbox_memory_mb,
                                          "file_mb": r.sandbox_file_mb, "nproc": r.sandbox_nproc}),
        "math_verify_mode": verifier.mode,
    })


@dg.asset(
    group_name=GROUP,
    partitions_def=problem_set_partitions,
    kinds={"polars", "parquet", "json"},
    description="Training examples from the verified solutions (templates reasoning_sft_math.j2 / "
    "reasoning_sft_code.j2), mixed by reasoning.mix and balanced over difficulties, split by problem; exported "
    "as messages / alpaca / chatml / sharegpt JSONL under <data root>/exports/reasoning/<problem set>/.",
)
def reasoning_sft_dataset(
    context: dg.AssetExecutionContext,
    config: ReasoningConfig,
    storage: StorageResource,
    reasoning_problems: pl.DataFrame,
    verified_solutions: pl.DataFrame,
):
    """Choose, format and export the SFT examples."""
    name = problem_set_of(context)
    settings = problem_set_settings(context, storage.root, config)
    chosen, report = select_examples(verified_solutions, settings.reasoning)
    examples = build_examples(name, chosen, reasoning_problems, PromptLibrary(problem_set_dir(name, storage.root)),
                              settings.reasoning)
    out = export_dir(name, storage.root)
    written = write_exports(examples, out)
    if examples.is_empty():
        context.log.warning(f"{name}: no verified solution to train on; the exports are empty files")
    splits = dict(examples.group_by("split").len().iter_rows()) if examples.height else {}
    return dg.Output(examples, metadata={
        **settings_metadata(settings, config),
        "examples": examples.height,
        **counts_metadata("by_domain", report["chosen"]),
        **counts_metadata("available", report["available"]),
        **counts_metadata("split", splits),
        "by_difficulty": dg.MetadataValue.json(report["by_difficulty"]),
        "mix": dg.MetadataValue.json(settings.reasoning.mix),
        "export_dir": dg.MetadataValue.path(str(out)),
        "export_files": dg.MetadataValue.json(sorted(written)),
        "example": dg.MetadataValue.json(json.loads(examples["messages"][0]) if examples.height else None),
    })
