"""Run config of `ollama_model`: the `ollama:` block (model name, quantization, system prompt, whether to
run `ollama create`, the logit check's tolerance) and `training:` (which base model the adapter is for)."""

from ragassets.defs.common import stage_config

OllamaConfig = stage_config("ollama", "training")
