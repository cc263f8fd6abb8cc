"""``transformers``: a local causal LM, batched ``generate`` with the model's chat template.

Prompts are left-padded (decoder-only models continue from the last position, so padding must be on
the left), requests with the same sampling parameters share a ``generate`` call, and sampling is
seeded per call so a batch answers the same way twice. The model is loaded from a local path only
(``local_files_only``): no hub at run time. Token counts come from the model's own tokenizer.
"""

from __future__ import annotations

from pathlib import Path
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


class TransformersProvider(Provider):
    kind = "transformers"
    mode = "batch"
    native_json_schema = False

    def __init__(
        self, model: str, *, batch_size: int = 8, device: str | None = None, dtype: str | None = None
    ) -> None:
        super().__init__(model)
        if not model:
            raise ValueError("llm provider 'transformers' needs model: the path of a local model folder")
        self.batch_size = batch_size
        self.device = device
        self.dtype = dtype
        self._tok: Any | None = None
        self._model: Any | None = None

    def load(self) -> tuple[Any, Any]:
        if self._model is not None:
            return self._tok, self._model
        path = Path(self.model).expanduser()
        if not path.exists():
            raise ProviderUnavailable(
                f"llm provider 'transformers': model path {path} does not exist (give a local folder with "
                "config.json, weights and tokenizer; models are not downloaded at run time)"
            )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if getattr(tok, "chat_template", None) is None:
            raise ProviderUnavailable(
                f"llm provider 'transformers': the tokenizer in {path} has no chat template; "
                "use an instruct/chat model or set tokenizer.chat_template"
            )
        kwargs: dict[str, Any] = {"local_files_only": True}
        if self.dtype:
            kwargs["dtype"] = getattr(torch, self.dtype)
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(device)
        model.eval()
        self._tok, self._model = tok, model
        return tok, model

    def count_tokens(self, text: str) -> int | None:
        tok, _ = self.load()
        return len(tok.encode(text, add_special_tokens=False))

    def prompts(self, requests: list[LLMRequest]) -> list[str]:
        tok, _ = self.load()
        return [
            tok.apply_chat_template([dict(m) for m in r.messages], add_generation_prompt=True, tokenize=False)
            for r in requests
        ]

    def complete_batch(
        self, requests: list[LLMRequest], params: list[SamplingParams]
    ) -> list[Completion | ProviderError]:
        out: list[Completion | ProviderError | None] = [None] * len(requests)
        groups: dict[SamplingParams, list[int]] = {}
        for i, p in enumerate(params):
            groups.setdefault(p, []).append(i)
        for p, idx in groups.items():
            try:
                answers = self._generate([requests[i] for i in idx], p)
            except Exception as exc:  # noqa: BLE001 - reported per request
                answers = [ProviderError("provider_error", f"transformers generate failed: {exc}")] * len(idx)
            for i, a in zip(idx, answers, strict=True):
                out[i] = a
        return [a for a in out if a is not None]

    def _generate(self, requests: list[LLMRequest], p: SamplingParams) -> list[Completion]:
        import torch

        tok, model = self.load()
        texts = self.prompts(requests)
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": p.max_tokens,
            "pad_token_id": tok.pad_token_id,
        }
        if p.temperature > 0:
            gen_kwargs.update(do_sample=True, temperature=p.temperature, top_p=p.top_p)
        else:
            gen_kwargs.update(do_sample=False)
        torch.manual_seed(p.seed if p.seed is not None else 0)
        with torch.no_grad():
            generated = model.generate(**enc, **gen_kwargs)
        new = generated[:, enc["input_ids"].shape[1] :]
        stop_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
        results = []
        for row, mask in zip(new.tolist(), enc["attention_mask"].tolist(), strict=True):
            n_out = len(row)
            for j, t in enumerate(row):
                if t in stop_ids:
                    n_out = j
                    break
            text = tok.decode(row[:n_out], skip_special_tokens=True)
            finish = "stop" if n_out < len(row) else "length"
            for s in p.stop:
                if s and s in text:
                    text = text[: text.index(s)]
                    finish = "stop"
            results.append(
                Completion(text=text, usage=Usage(int(sum(mask)), n_out, "tokenizer"), finish_reason=finish)
            )
        return results

    def close(self) -> None:
        self._model = None
        self._tok = None
