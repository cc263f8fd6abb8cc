"""Sample k solutions per problem through the LLM layer (cached, resumable, accounted).

Each (problem, sample index) is one request whose ``seed`` is the sample index, so the k samples
of a problem are k cache entries: a re-run, or a run after a kill, sends only the samples that
have no answer yet. Requests are ordered domain, then sample index, then problem, so a batch
provider (``transformers``) fills each ``generate`` call with requests that share sampling
parameters (math at 0.7 / 512 tokens, code at 0.8 / 1024 by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import polars as pl

from ragassets.llm import LLMRequest, PromptLibrary, Result, SamplingParams

TEMPLATES = {"math": "reasoning_math", "code": "reasoning_code"}

SOLUTION_COLUMNS = {
    "problem_set": pl.String,
    "solution_id": pl.String,
    "problem_id": pl.String,
    "domain": pl.String,
    "difficulty": pl.String,
    "sample": pl.Int64,
    "text": pl.String,
    "finish_reason": pl.String,
    "error": pl.String,
    "provider": pl.String,
    "model": pl.String,
    "output_tokens": pl.Int64,
    "cached": pl.Boolean,
}


def solution_id(problem_id: str, sample: int) -> str:
    return hashlib.sha256(f"{problem_id}\0{sample}".encode()).hexdigest()[:16]


def domain_params(reasoning: Any, domain: str, seed: int) -> SamplingParams:
    """Sampling parameters of one sample: the domain's temperature and max tokens, seed = sample index."""
    return SamplingParams(
        temperature=getattr(reasoning, f"{domain}_temperature"),
        max_tokens=getattr(reasoning, f"{domain}_max_tokens"),
        seed=seed,
    )


def template_variables(row: dict[str, Any]) -> dict[str, Any]:
    if row["domain"] == "math":
        return {"problem": row["problem"]}
    return {"problem": row["problem"], "fn_name": row.get("fn_name"), "starter_code": row.get("starter_code") or ""}


def solution_requests(
    problems: pl.DataFrame, prompts: PromptLibrary, reasoning: Any, samples: int | None = None
) -> list[LLMRequest]:
    """One request per (problem, sample), ordered for batching (see the module docstring)."""
    k = samples or reasoning.samples_per_problem
    requests: list[LLMRequest] = []
    for domain in ("math", "code"):
        rows = problems.filter(pl.col("domain") == domain).to_dicts()
        if not rows:
            continue
        rendered = [prompts.render(TEMPLATES[domain], **template_variables(r)) for r in rows]
        for i in range(k):
            params = domain_params(reasoning, domain, i)
            for row, prompt in zip(rows, rendered, strict=True):
                requests.append(
                    LLMRequest(
                        messages=prompt.messages,
                        params=params,
                        task=f"reasoning_{domain}",
                        template=prompt.name,
                        template_version=prompt.version,
                        id=f"{row['problem_id']}:{i}",
                    )
                )
    return requests


def solutions_table(
    problem_set: str, problems: pl.DataFrame, requests: Sequence[LLMRequest], results: Sequence[Result]
) -> pl.DataFrame:
    """One row per sample: the text (or the failure), who wrote it and how it ended."""
    info = {r["problem_id"]: r for r in problems.select("problem_id", "domain", "difficulty").to_dicts()}
    rows = []
    for req, res in zip(requests, results, strict=True):
        pid, sample = req.id.rsplit(":", 1)  # type: ignore[union-attr]
        p = info[pid]
        rows.append(
            {
                "problem_set": problem_set,
                "solution_id": solution_id(pid, int(sample)),
                "problem_id": pid,
                "domain": p["domain"],
                "difficulty": p["difficulty"],
                "sample": int(sample),
                "text": res.text if res.ok else None,
                "finish_reason": res.finish_reason,
                "error": None if res.ok else (res.error or "unknown"),
                "provider": res.provider,
                "model": res.model,
                "output_tokens": res.usage.output_tokens,
                "cached": res.cached,
            }
        )
    return pl.DataFrame(rows, schema=SOLUTION_COLUMNS) if rows else pl.DataFrame(schema=SOLUTION_COLUMNS)
