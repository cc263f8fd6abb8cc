"""``vllm``: vLLM's in-process batch engine (``LLM.chat``) on a GPU.

vLLM is imported only when this provider is chosen (it is an optional extra, ``ragassets[gpu]``,
and pins its own torch); nothing else in ragassets needs it. JSON schemas are enforced by guided
decoding: ``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`` on current vLLM,
``SamplingParams(guided_decoding=GuidedDecodingParams(json=...))`` on releases before 0.11; the
module is inspected to pick the one it has.

The client hands the engine ``batch_size`` requests per ``LLM.chat`` call (default 512) and stores
their answers when the call returns: larger batches keep the GPU fuller at chunk boundaries,
smaller ones lose less work to a kill.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ragassets.llm.providers.base import Provider
from ragassets.llm.types import (
    Completion,
    LLMRequest,
    ProviderError,
    ProviderUnavailable,
    SamplingParams,
    Usage,
)


def import_vllm() -> ModuleType:
    try:
        return importlib.import_module("vllm")
    except ImportError as exc:
        raise ProviderUnavailable(
            "llm provider 'vllm' needs the vllm package on a GPU machine: pip install 'ragassets[gpu]' "
            f"(import failed: {exc}); or serve the model with `vllm serve` and use provider 'openai'"
        ) from None


def build_sampling_params(vllm: Any, params: SamplingParams, json_schema: dict[str, Any] | None) -> Any:
    """vLLM ``SamplingParams`` for one request, with guided JSON decoding when a schema is given.
    ``vllm`` is the imported module (or a stand-in with the same names, in tests)."""
    kwargs: dict[str, Any] = {
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
    }
    if params.seed is not None:
        kwargs["seed"] = params.seed
    if params.stop:
        kwargs["stop"] = list(params.stop)
    if json_schema is not None:
        sp_module = getattr(vllm, "sampling_params", None)
        structured = getattr(sp_module, "StructuredOutputsParams", None)
        guided = getattr(sp_module, "GuidedDecodingParams", None)
        if structured is not None:
            kwargs["structured_outputs"] = structured(json=json_schema)
        elif guided is not None:
            kwargs["guided_decoding"] = guided(json=json_schema)
        else:
            raise ProviderUnavailable(
                "this vllm has neither StructuredOutputsParams nor GuidedDecodingParams; "
                "upgrade vllm (>= 0.6) to use JSON schemas"
            )
    return vllm.SamplingParams(**kwargs)


class VllmProvider(Provider):
    kind = "vllm"
    mode = "batch"
    native_json_schema = True

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 512,
        engine_kwargs: dict[str, Any] | None = None,
        vllm_module: Any | None = None,
    ) -> None:
        super().__init__(model)
        if not model:
            raise ValueError("llm provider 'vllm' needs model: a local model path or a name vLLM can load")
        self.batch_size = batch_size
        self.engine_kwargs = dict(engine_kwargs or {})
        self._vllm = vllm_module
        self._llm: Any | None = None

    @property
    def vllm(self) -> Any:
        if self._vllm is None:
            self._vllm = import_vllm()
        return self._vllm

    def engine(self) -> Any:
        if self._llm is None:
            self._llm = self.vllm.LLM(model=self.model, **self.engine_kwargs)
        return self._llm

    def build(self, requests: list[LLMRequest], params: list[SamplingParams]) -> tuple[list[Any], list[Any]]:
        """The conversations and per-request sampling params handed to ``LLM.chat``."""
        conversations = [[dict(m) for m in r.messages] for r in requests]
        sampling = [
            build_sampling_params(self.vllm, p, r.json_schema) for r, p in zip(requests, params, strict=True)
        ]
        return conversations, sampling

    def complete_batch(
        self, requests: list[LLMRequest], params: list[SamplingParams]
    ) -> list[Completion | ProviderError]:
        conversations, sampling = self.build(requests, params)
        try:
            outputs = self.engine().chat(conversations, sampling_params=sampling, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - the engine's errors are opaque; reported per request
            err = ProviderError("provider_error", f"vLLM failed on a batch of {len(requests)}: {exc}")
            return [err] * len(requests)
        results: list[Completion | ProviderError] = []
        for out in outputs:
            gen = out.outputs[0]
            usage = Usage(len(out.prompt_token_ids or []), len(gen.token_ids or []), "server")
            results.append(Completion(text=gen.text, usage=usage, finish_reason=gen.finish_reason))
        return results

    def close(self) -> None:
        self._llm = None
