"""The provider interface.

Two shapes, because the backends are of two kinds:

- *remote* providers (``openai``) answer one request at a time over the network; the client keeps
  many in flight (``acomplete``), adapts how many, retries transient errors;
- *batch* providers (``vllm``, ``transformers``, ``offline``) take a list and answer it in one call
  (``complete_batch``); the engine does its own batching. The client hands them chunks of
  ``batch_size`` requests and stores each chunk's answers before the next chunk starts.
"""

from __future__ import annotations

from abc import ABC
from typing import ClassVar, Literal

from ragassets.llm.accounting import estimate_message_tokens, estimate_tokens
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage


class Provider(ABC):
    """Base of all providers. ``kind`` goes into the cache key; ``model`` names the model."""

    kind: ClassVar[str] = ""
    mode: ClassVar[Literal["remote", "batch"]] = "batch"
    #: True when the provider enforces ``request.json_schema`` itself; otherwise the client spells
    #: the schema out in the prompt.
    native_json_schema: bool = False
    batch_size: int = 64

    def __init__(self, model: str) -> None:
        self.model = model

    def __repr__(self) -> str:  # never shows credentials
        return f"{type(self).__name__}(model={self.model!r})"

    # remote providers ------------------------------------------------------------------------------

    async def astart(self) -> None:
        """Open connections (inside the event loop that will use them)."""

    async def aclose(self) -> None:
        """Close connections."""

    async def acomplete(self, request: LLMRequest, params: SamplingParams) -> Completion:
        raise NotImplementedError(f"{type(self).__name__} is a batch provider")

    # batch providers -------------------------------------------------------------------------------

    def complete_batch(
        self, requests: list[LLMRequest], params: list[SamplingParams]
    ) -> list[Completion | ProviderError]:
        raise NotImplementedError(f"{type(self).__name__} is a remote provider")

    def close(self) -> None:
        """Release a loaded model."""

    # token counting --------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` by a local tokenizer, or None when there is none."""
        return None

    def usage_fallback(self, request: LLMRequest, text: str) -> Usage:
        """Token counts when the backend reported none: local tokenizer, else the estimate."""
        prompt = "\n".join(m["content"] for m in request.messages)
        n_in = self.count_tokens(prompt)
        n_out = self.count_tokens(text)
        if n_in is not None and n_out is not None:
            return Usage(n_in, n_out, "tokenizer")
        return Usage(estimate_message_tokens(request.messages), estimate_tokens(text), "estimate")
