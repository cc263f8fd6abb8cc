"""Fold a LoRA adapter into its base model and save plain safetensors + tokenizer. No Dagster import."""

from __future__ import annotations

from pathlib import Path

from ragassets.training.base_model import save_model_folder


def merge_adapter(base: Path, adapter: Path, out: Path, dtype: str = "float32") -> Path:
    """``merge_and_unload`` the adapter into the base weights and save the result to ``out`` atomically.

    The merged folder is an ordinary model: it loads without peft, and the GGUF writer reads it.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=getattr(torch, dtype), local_files_only=True)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer_source = adapter if (adapter / "tokenizer_config.json").is_file() else base
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_source), local_files_only=True)
    return save_model_folder(merged, tokenizer, out)
