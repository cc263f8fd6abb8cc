"""The ``llm`` and ``small_llm`` resources: thin Dagster wrappers over ragassets.llm.LLMClient.

The two roles follow augmentoolkit's large/small split: ``llm`` writes questions, paraphrases and
conversations; ``small_llm`` does cheap screening (chunk filtering, judging) where a small model is
enough. Use in an asset, in one line each::

    client = llm.client(context, settings)          # settings = corpus_settings(context, ...)
    answers = client.generate_structured(requests, GeneratedQuestions)
    metadata.update(llm.record_usage(context, client, asset="questions"))

A step that fails between the two (its server is down, does not serve the model, answered nothing)
still gets its row in ``llm_usage``: every client handed out by :meth:`LLMResource.client` and not
recorded by the asset is recorded when the resource is torn down at the end of the step, whatever
the step's outcome (requests, failures by reason, tokens, cost).

Where a setting comes from, weakest first: the resource's config (the deployment's default, api_key
as ``dg.EnvVar``) < ``RAGASSETS_LLM_*`` environment variables < the corpus's ``llm:`` block in
corpus.yaml < run config. ``small_llm`` takes the ``llm`` block's keys for anything its own
``small_llm:`` block does not set, so pointing ``llm`` at a server is enough for both roles.
A corpus's ``api_key_env`` names the variable to read the key from; keys never appear in config
shown in the UI, in metadata, in logs or in the cache.
"""

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from ragassets import paths
from ragassets.llm import LLMClient, ResponseCache, UsageStats, role_settings, usage_row
from ragassets.llm.cache import CACHE_FILE
from ragassets.llm.types import ServerUnavailable
from ragassets.llm.usage_table import append_usage
from ragassets.metadata import counts_metadata
from ragassets.settings import LlmSettings, Settings

_LLM_FIELDS = (
    "provider",
    "model",
    "base_url",
    "max_concurrency",
    "timeout_s",
    "max_retries",
    "temperature",
    "top_p",
    "max_tokens",
    "structured_output",
    "price_input_per_mtok",
    "price_output_per_mtok",
)


class StepLLMClient(LLMClient):
    """The client a step gets: a server that is down, refuses the key or does not serve the model fails
    the step with the client's message (what to start or which setting to fix) as a ``dg.Failure``,
    so the UI shows that message rather than a stack trace."""

    def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().run(*args, **kwargs)
        except ServerUnavailable as exc:
            raise dg.Failure(description=str(exc), metadata={"reason": exc.reason}) from None


class LLMResource(dg.ConfigurableResource):
    """An LLM role (``llm`` or ``small_llm``): provider, model, endpoint, key, limits, prices.

    Defaults run the offline stand-in (rule-based, no model, no network). Per-corpus settings in
    corpus.yaml override these fields; see the module docstring.
    """

    role: str = Field("llm", description="llm (generation) or small_llm (screening, judging).")
    provider: str = Field("offline", description="offline | openai | vllm | transformers.")
    model: str | None = Field(None, description="Model name (openai) or local path (vllm, transformers).")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."
    )
    api_key: str | None = Field(None, description='API key; pass dg.EnvVar("NAME"), never a literal.')
    max_concurrency: int = Field(16, description="Most requests in flight; adapts below it on 429s.")
    timeout_s: float = Field(120.0, description="Per-request time limit, seconds.")
    max_retries: int = Field(4, description="Retries of transient failures (429, 5xx, timeouts).")
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    structured_output: str = Field(
        "auto",
        description="openai: auto | json_schema | json_object | prompt: how JSON answers are asked for "
        "(auto: json_schema, then json_object, then the schema in the prompt, as the server refuses).",
    )
    json_schema: bool | None = Field(
        None, description="Old name of structured_output: false = prompt, true = auto. Use structured_output."
    )
    price_input_per_mtok: float = Field(0.0, description="USD per million input tokens.")
    price_output_per_mtok: float = Field(0.0, description="USD per million output tokens.")
    cache_path: str | None = Field(
        None, description="Response cache file; default <data root>/llm_cache.sqlite."
    )
    progress_interval_s: float = Field(5.0, description="Seconds between progress lines in the run log.")

    # clients handed out and not yet recorded: (client, asset, corpus, run_id); see teardown_after_execution
    _unrecorded: list[tuple[LLMClient, str, str, str | None]] = PrivateAttr(default_factory=list)

    def effective_settings(self, settings: Any | None = None) -> LlmSettings:
        """This role's settings: resource config overlaid with the keys the corpus settings set
        (``settings`` is a corpus :class:`Settings` or an :class:`LlmSettings` block)."""
        base = {name: getattr(self, name) for name in _LLM_FIELDS}
        if self.json_schema is not None and self.structured_output == "auto":
            base["structured_output"] = "auto" if self.json_schema else "prompt"
        try:
            resolved = LlmSettings(**base)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise dg.Failure(f"resource '{self.role}' is misconfigured: {exc}") from None
        if isinstance(settings, Settings):
            return role_settings(settings, self.role, base=resolved)
        if isinstance(settings, LlmSettings):
            return resolved.model_copy(update={k: getattr(settings, k) for k in settings.model_fields_set})
        if settings is not None:
            raise TypeError(f"expected Settings or LlmSettings, got {type(settings).__name__}")
        return resolved

    def cache(self) -> ResponseCache:
        return ResponseCache(self.cache_path or paths.data_root() / CACHE_FILE)

    def client(self, context: Any | None = None, settings: Any | None = None) -> LLMClient:
        """A ready client for this role; progress lines go to ``context.log`` when given. With a
        context, the client's usage is recorded at the end of the step if the asset does not record
        it itself (see the module docstring)."""
        eff = self.effective_settings(settings)
        api_key = None if eff.api_key_env else self.api_key
        try:
            client = StepLLMClient.from_settings(
                eff,
                cache=self.cache(),
                role=self.role,
                api_key=api_key,
                logger=getattr(context, "log", None),
                progress_interval_s=self.progress_interval_s,
            )
        except (ValueError, RuntimeError) as exc:
            raise dg.Failure(f"cannot start LLM role '{self.role}': {exc}") from None
        if context is not None:
            self._unrecorded.append((client, _asset_name(context), _corpus(context), _run_id(context)))
        return client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Record the usage of every client of this step that the asset did not record: a step that
        raised (a server down, a model not served, nothing answered) still leaves its row."""
        pending = list(self._unrecorded)
        self._unrecorded.clear()
        for client, asset, corpus, run_id in pending:
            if client.stats.requests == 0:
                continue  # nothing was asked: nothing to account for
            try:
                self._append(client, client.stats, asset=asset, corpus=corpus, run_id=run_id)
            except Exception as exc:  # noqa: BLE001 - accounting must not hide the step's own error
                if context.log is not None:
                    context.log.warning(f"{self.role}: could not record LLM usage of {asset}: {exc}")
                continue
            if context.log is not None:
                failures = dict(client.stats.failures)
                context.log.info(
                    f"{self.role}: recorded LLM usage of {asset} ({corpus}) that the step did not record: "
                    f"{client.stats.requests} requests, failures {failures or 'none'}"
                )

    def record_usage(
        self,
        context: Any,
        client_or_stats: Any,
        *,
        asset: str | None = None,
        corpus: str | None = None,
    ) -> dict[str, Any]:
        """Append this asset's LLM accounting to the ``llm_usage`` table and return it as asset
        metadata (requests, cache hits, failures by reason, tokens, cost, wall time, rates)."""
        client = client_or_stats if isinstance(client_or_stats, LLMClient) else None
        stats: UsageStats = client.stats if client is not None else client_or_stats
        asset = asset or _asset_name(context)
        corpus = corpus or _corpus(context)
        self._append(client, stats, asset=asset, corpus=corpus, run_id=_run_id(context))
        if client is not None:
            self._unrecorded[:] = [entry for entry in self._unrecorded if entry[0] is not client]
        out = usage_metadata(stats, prefix=self.role)
        if client is not None and client.structured_mode is not None:
            out[f"{self.role}/structured_output"] = dg.MetadataValue.text(client.structured_mode)
        return out

    def _append(
        self, client: LLMClient | None, stats: UsageStats, *, asset: str, corpus: str, run_id: str | None
    ) -> None:
        cache = client.cache if client is not None and client.cache is not None else self.cache()
        append_usage(cache, usage_row(stats, asset=asset, corpus=corpus, run_id=run_id))


def _asset_name(context: Any) -> str:
    """The asset's name; for a multi-asset (several keys) its op's name; ``unknown`` outside assets."""
    try:
        return context.asset_key.to_python_identifier()
    except (AttributeError, dg.DagsterError):
        pass
    try:
        return context.op_def.name
    except (AttributeError, dg.DagsterError):  # not an asset context, or not bound to a run
        return "unknown"


def _corpus(context: Any) -> str:
    try:
        return context.partition_key if context.has_partition_key else "default"
    except (AttributeError, dg.DagsterError):
        return "default"


def _run_id(context: Any) -> str | None:
    try:
        return context.run_id
    except (AttributeError, dg.DagsterError):
        return None


def usage_metadata(stats: UsageStats, prefix: str = "llm") -> dict[str, Any]:
    """Dagster metadata of a :class:`UsageStats`: plain numbers (plotted across runs) and
    ``{prefix}/failures_by_reason/<reason>`` counts with a readable summary."""
    figures = stats.metadata(prefix=f"{prefix}/")
    failures = figures.pop(f"{prefix}/failures_by_reason")
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, bool) or value is None:
            out[key] = dg.MetadataValue.text(str(value))
        elif isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(value)
        else:
            out[key] = dg.MetadataValue.text(str(value))
    out.update(counts_metadata(f"{prefix}/failures_by_reason", failures))
    return out
