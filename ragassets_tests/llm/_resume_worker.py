"""Subprocess of test_resume: answer a fixed batch against a server, with a cache file.

python -m ragassets_tests.llm._resume_worker BASE_URL CACHE OUT N
"""

from __future__ import annotations

import json
import sys

from ragassets.llm import LLMClient, LLMRequest, ResponseCache
from ragassets.llm.providers.openai import OpenAIProvider


def batch(n: int) -> list[LLMRequest]:
    return [LLMRequest.chat(f"resume question {i}", task="resume", id=str(i)) for i in range(n)]


def client(base_url: str, cache: ResponseCache) -> LLMClient:
    return LLMClient(OpenAIProvider("resume-model", base_url, timeout_s=10), cache=cache, max_concurrency=4)


def main() -> None:
    base_url, cache_path, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    results = client(base_url, ResponseCache(cache_path)).run(batch(n))
    with open(out, "w", encoding="utf-8") as fh:
        json.dump([{"id": r.id, "ok": r.ok, "text": r.text} for r in results], fh)


if __name__ == "__main__":
    main()
