"""Reasoning data (issue 13), no Dagster import: problems in, verified step-by-step solutions out.

- ``problems``: read MATH / AIME / APPS rows (JSONL, Parquet, or ``datasets``), content-hash ids, dedup;
- ``problem_sets``: the ``data/problem_sets/<name>/`` folders and their ``problem_set.yaml``;
- ``generator`` / ``generate``: which model writes solutions (SmolLM2 by default), k requests per problem;
- ``extract``: the final answer (``\\boxed{}``, "the answer is", last number) or the last code block;
- ``verify_math``: math-verify with signal-safe timeouts, numeric fallback;
- ``sandbox`` (+ ``_launcher``, ``_guard``): run untrusted code under namespaces and rlimits;
- ``code_tests``: APPS tests (stdin or call-based) through the sandbox; ``hostile``: the escape suite;
- ``verification``: verdicts and failure reasons; ``metrics``: pass@1 / pass@k;
- ``sft``: mix, difficulty balance, split, exports in the SFT formats of ``ragassets.formats``.
"""
