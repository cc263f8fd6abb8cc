"""The LLM layer of ragassets: requests, providers, a resumable cache, structured output, accounting.

No Dagster import here; the ``llm``/``small_llm`` resources (ragassets/resources/llm.py) wrap it.

Public API, as a stage uses it::

    from ragassets.llm import LLMClient, PromptLibrary, ResponseCache, task_request, TASKS
    from ragassets.llm import GeneratedQuestions, SamplingParams

    client = LLMClient.from_settings(role_settings(settings, "llm"), role="llm", logger=context.log)
    # (in an asset: ``client = llm.client(context, settings.llm)`` via the resource)
    prompts = PromptLibrary(corpus_dir)                     # corpus prompts/ override the built-ins
    reqs = [
        task_request("questions", prompts, id=c.chunk_id, previous=p, current=c.text, next=n,
                     n=2, difficulties=["easy", "hard"],
                     params=client.sampling(temperature=settings.questions.temperature))
        for p, c, n in windows
    ]
    answers = client.generate_structured(reqs, GeneratedQuestions)   # list[StructuredResult], in order
    for a in answers:
        if a.ok: a.value.questions ...            # validated pydantic object
        else:    a.error, a.error_detail, a.raw   # parse_error | schema_mismatch | truncated | timeout | ...
    metadata = client.stats.metadata()           # requests, cache hits, failures by reason, tokens, cost...

    texts = client.run([task_request("paraphrase", prompts, text=t, variant=0) for t in chunks])
    # list[Result]: .ok, .text, .error, .cached, .usage, .provider ("offline" for the stand-in)

Pieces:

- :class:`LLMRequest` (messages + :class:`SamplingParams` + optional JSON schema + task name);
  :func:`cache_key` hashes provider kind, model, messages, params, schema and template version.
- Providers (ragassets.llm.providers): ``offline`` (default, rule-based, no model), ``openai``
  (any OpenAI-compatible server, async aiohttp session), ``vllm`` (in-process engine, imported lazily),
  ``transformers`` (local model path, batched generate).
- :class:`ResponseCache`: SQLite WAL under the data root; every answer stored as it arrives, so a
  re-run or a run after ``kill -9`` sends only what has no answer. Also holds the ``llm_usage`` rows.
- :class:`LLMClient`: adaptive concurrency (AIMD between 1 and max_concurrency), retries with
  backoff and Retry-After, progress lines, usage stats (:class:`UsageStats`).
- :class:`PromptLibrary`: sandboxed Jinja templates in ragassets/prompts/, overridable per corpus.
- :mod:`ragassets.llm.tasks`: the graph's tasks, their variables and output models.
"""

from ragassets.llm.accounting import ProgressEvent, UsageStats, estimate_tokens, usage_row
from ragassets.llm.cache import ResponseCache, default_cache_path
from ragassets.llm.client import LLMClient, role_settings, summarize_failures
from ragassets.llm.prompts import PromptError, PromptLibrary
from ragassets.llm.providers import OFFLINE_MODEL, make_provider
from ragassets.llm.structured import StructuredParseError, extract_json, parse_structured
from ragassets.llm.tasks import (
    TASKS,
    ChunkVerdict,
    ConversationTurn,
    GeneratedConversation,
    GeneratedQuestion,
    GeneratedQuestions,
    JudgeVerdict,
    RagAnswer,
    task_request,
)
from ragassets.llm.types import (
    LLMRequest,
    ProviderError,
    ProviderUnavailable,
    Result,
    SamplingParams,
    StructuredResult,
    Usage,
    cache_key,
)

__all__ = [
    "OFFLINE_MODEL",
    "TASKS",
    "ChunkVerdict",
    "ConversationTurn",
    "GeneratedConversation",
    "GeneratedQuestion",
    "GeneratedQuestions",
    "JudgeVerdict",
    "LLMClient",
    "LLMRequest",
    "ProgressEvent",
    "PromptError",
    "PromptLibrary",
    "ProviderError",
    "ProviderUnavailable",
    "RagAnswer",
    "ResponseCache",
    "Result",
    "SamplingParams",
    "StructuredParseError",
    "StructuredResult",
    "Usage",
    "UsageStats",
    "cache_key",
    "default_cache_path",
    "estimate_tokens",
    "extract_json",
    "make_provider",
    "parse_structured",
    "role_settings",
    "summarize_failures",
    "task_request",
    "usage_row",
]
