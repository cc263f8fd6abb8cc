"""Providers: ``offline`` (default), ``openai``, ``vllm``, ``transformers``.

:func:`make_provider` builds one from :class:`ragassets.settings.LlmSettings`. Heavy backends
(torch/transformers, vllm) are imported only when their provider is used.
"""

from __future__ import annotations

import os
from typing import Any

from ragassets.llm.providers.base import Provider
from ragassets.llm.providers.offline import OFFLINE_MODEL, OfflineProvider
from ragassets.llm.types import ProviderUnavailable

__all__ = ["OFFLINE_MODEL", "OfflineProvider", "Provider", "make_provider", "resolve_api_key"]


def resolve_api_key(api_key_env: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The key held by the environment variable NAMED ``api_key_env`` (None when no name is set)."""
    if not api_key_env:
        return None
    env = os.environ if environ is None else environ
    value = env.get(api_key_env)
    if not value:
        raise ProviderUnavailable(
            f"llm api_key_env is {api_key_env!r} but that environment variable is not set; "
            f"export {api_key_env}=<your key>, or remove api_key_env for a server without authentication"
        )
    return value


def make_provider(
    settings: Any, *, api_key: str | None = None, environ: dict[str, str] | None = None
) -> Provider:
    """A provider for ``settings`` (an ``LlmSettings``). ``api_key`` wins over ``api_key_env``."""
    kind = settings.provider
    if kind == "offline":
        return OfflineProvider(settings.model)
    if kind == "openai":
        from ragassets.llm.providers.openai import OpenAIProvider

        if not settings.model:
            raise ProviderUnavailable("llm provider 'openai' needs model (the name the server knows it by)")
        if not settings.base_url:
            raise ProviderUnavailable(
                "llm provider 'openai' needs base_url, e.g. http://127.0.0.1:8000/v1 "
                "(set llm.base_url in corpus.yaml or RAGASSETS_LLM_BASE_URL)"
            )
        key = api_key if api_key is not None else resolve_api_key(settings.api_key_env, environ)
        tokenizer = None
        if getattr(settings, "tokenizer", None):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(settings.tokenizer, local_files_only=True)
        from ragassets.llm.providers.pool import OpenAIPool, split_base_urls

        servers = [
            OpenAIProvider(
                settings.model,
                url,
                api_key=key,
                timeout_s=settings.timeout_s,
                structured_output=getattr(settings, "structured_output", "auto"),
                tokenizer=tokenizer,
            )
            for url in split_base_urls(settings.base_url)
        ]
        # several servers: least in flight first, a limit per server, failing servers set aside
        return servers[0] if len(servers) == 1 else OpenAIPool(servers, max_concurrency=settings.max_concurrency)
    if kind == "vllm":
        from ragassets.llm.providers.vllm import VllmProvider

        return VllmProvider(
            settings.model,
            batch_size=settings.batch_size or 512,
            engine_kwargs=dict(getattr(settings, "engine_kwargs", None) or {}),
        )
    if kind == "transformers":
        from ragassets.llm.providers.transformers import TransformersProvider

        return TransformersProvider(settings.model, batch_size=settings.batch_size or 8)
    raise ProviderUnavailable(f"unknown llm provider {kind!r}; use offline, openai, vllm or transformers")
