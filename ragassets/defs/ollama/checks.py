"""Checks on `ollama_model`: the GGUF, read back by transformers, computes what the merged model computes."""

import json
from pathlib import Path

import dagster as dg

from ragassets.defs.common import checked_settings, corpus_of
from ragassets.defs.ollama.assets import EXPORT_FILE, MERGED_DIR
from ragassets.export.gguf import verify_gguf
from ragassets.resources.storage import StorageResource
from ragassets.training.threads import use_cpu_threads


@dg.asset_check(
    asset="ollama_model",
    blocking=True,
    description="transformers loads the written GGUF (gguf_file=) and its logits match the merged model's within "
    "f16 tolerance (ollama.verify_tolerance of the largest logit) on three chat prompts; its rebuilt tokenizer "
    "gives the same token ids.",
)
def gguf_matches_merged_model(context: dg.AssetCheckExecutionContext, storage: StorageResource):
    corpus = corpus_of(context)
    settings = checked_settings(context, storage.root, "ollama_model")
    out = storage.artifact_dir("ollama_model", corpus)
    export = json.loads((out / EXPORT_FILE).read_text())
    if "skipped" in export["gguf"]:
        return dg.AssetCheckResult(passed=True, metadata={"skipped": export["gguf"]["skipped"]},
                                   description="no GGUF for this architecture: Ollama imports the safetensors")
    o = settings.ollama
    # q8_0 rounds weights to 8 bits: allow four times the f16 tolerance
    tolerance = o.verify_tolerance * (1 if o.quantization == "f16" else 4)
    use_cpu_threads(settings.training.cpu_threads)
    v = verify_gguf(Path(export["gguf"]["path"]), out / MERGED_DIR, tolerance=tolerance)
    return dg.AssetCheckResult(
        passed=v.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if v.passed else (
            f"GGUF logits differ from the merged model by {v.relative_diff:.4f} of the largest logit (tolerance "
            f"{tolerance}), tokenizer agreement {v.tokenizer_agreement:.2f}: do not ship this GGUF"),
        metadata=v.to_json(),
    )
