"""`ollama_model`: the adapter merged into its base (safetensors + tokenizer), a GGUF for llama.cpp and
Ollama (Llama-family models), a Modelfile, and `ollama create` where Ollama is installed."""

import json
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.ollama.config import OllamaConfig
from ragassets.export.gguf import GGUFExportError, write_gguf
from ragassets.export.modelfile import modelfile_text, ollama_create, write_modelfile
from ragassets.partitions import corpus_partitions
from ragassets.resources.storage import StorageResource
from ragassets.training.base_model import BaseModelError, base_model_path
from ragassets.training.lora import ADAPTER_DIR
from ragassets.training.merge import merge_adapter
from ragassets.training.threads import use_cpu_threads

MERGED_DIR = "merged"
EXPORT_FILE = "export.json"


@dg.asset(
    description="The tuned model for Ollama under artifacts/ollama_model/<corpus>/: merged/ (safetensors + "
    "tokenizer, the adapter folded in), model-<f16|q8_0>.gguf (Llama-family models) and a Modelfile (FROM, "
    "TEMPLATE translated from the chat template, PARAMETER stop, SYSTEM). Runs `ollama create` when ollama is "
    "on PATH; otherwise the command is in metadata.",
    partitions_def=corpus_partitions,
    deps=["lora_adapter", "base_model"],
    group_name="training",
    kinds={"pytorch", "ollama"},
    pool="training",
)
def ollama_model(context: dg.AssetExecutionContext, config: OllamaConfig, storage: StorageResource):
    """Merge, export to GGUF (or fall back to the safetensors folder), write the Modelfile, create."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    o = settings.ollama
    adapter = storage.artifact_dir("lora_adapter", corpus) / ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        raise dg.Failure(f"no adapter at {adapter}: materialize lora_adapter for corpus '{corpus}' first")
    try:
        base = base_model_path(settings.training.base_model, storage.root / "artifacts" / "base_model")
    except BaseModelError as exc:
        raise dg.Failure(str(exc)) from None
    out = storage.artifact_dir("ollama_model", corpus)
    use_cpu_threads(settings.training.cpu_threads)
    merged = merge_adapter(base, adapter, out / MERGED_DIR)
    name = o.model_name or f"ragassets-{corpus}"
    try:
        gguf = write_gguf(merged, out / f"model-{o.quantization}.gguf", quantization=o.quantization, name=name)
        source, gguf_meta = f"./{Path(gguf.path).name}", asdict(gguf)
    except GGUFExportError as exc:
        context.log.warning(f"no GGUF ({exc}); the Modelfile points Ollama at the safetensors folder")
        source, gguf_meta = f"./{MERGED_DIR}", {"skipped": str(exc)}
    tok = json.loads((merged / "tokenizer_config.json").read_text())
    text, family = modelfile_text(source, _chat_template(merged), system=o.system, eos_token=tok.get("eos_token"),
                                  temperature=o.temperature)
    modelfile = write_modelfile(out / "Modelfile", text)
    created = ollama_create(name, modelfile, run=o.create)
    (out / EXPORT_FILE).write_text(json.dumps({"gguf": gguf_meta, "source": source, "family": family.name}))
    context.log.info(f"ollama: {created.command} -> " + ("done" if created.ok else f"not run ({created.output})"))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(out)),
            "merged": dg.MetadataValue.path(str(merged)),
            "gguf": dg.MetadataValue.json(gguf_meta),
            "template_family": family.name,
            "modelfile": dg.MetadataValue.md(f"```\n{text}```"),
            "ollama_create": created.command,
            "ollama_created": created.ok,
            "ollama_output": created.output,
            **settings_metadata(settings, config),
        }
    )


def _chat_template(folder: Path) -> str | None:
    """The merged tokenizer's chat template (chat_template.jinja or tokenizer_config.json)."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    return json.loads((folder / "tokenizer_config.json").read_text()).get("chat_template")
