"""LoRA fine-tuning with TRL (SFT and GRPO) that survives a kill. No Dagster import.

:func:`train_adapter` runs ``training.method`` (``sft``, ``grpo`` or ``sft+grpo``) on a base model
folder and writes the final adapter atomically to ``<workdir>/adapter``. Each phase checkpoints under
``<workdir>/checkpoints/<phase>/`` every ``save_steps``; a run killed mid-way resumes from the last
checkpoint on the next call, as long as the fingerprint (settings, data, base model) is the same;
a changed fingerprint starts over and says why. A progress line (step n/N, loss, ETA) goes to the
``log`` callable every ``logging_steps``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragassets.settings import TrainingSettings
from ragassets.training.base_model import folder_sha256, folder_size
from ragassets.training.threads import use_cpu_threads

Log = Callable[[str], None]
ADAPTER_DIR = "adapter"
CHECKPOINTS_DIR = "checkpoints"
FINGERPRINT_FILE = "ragassets_fingerprint.json"
REPORT_FILE = "training_report.json"


class TrainingError(RuntimeError):
    """Training cannot run as configured; the message says what to change."""


@dataclass
class PhaseReport:
    """What one training phase did (a resumed phase counts its steps before the kill too)."""

    phase: str
    steps: int
    max_steps: int
    resumed_from_step: int
    steps_this_run: int
    tokens: int
    tokens_this_run: int
    train_seconds: float
    tokens_per_s: float
    seconds_per_step: float
    loss: list[tuple[int, float]] = field(default_factory=list)
    final_loss: float | None = None
    eval_loss: float | None = None
    rewards: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class AdapterReport:
    """The finished adapter: where it is, what was trained, and how each phase went."""

    path: str
    method: str
    base_model: str
    device: str
    dtype: str
    trainable_parameters: int
    total_parameters: int
    adapter_bytes: int
    adapter_sha256: str
    phases: list[PhaseReport]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def steps(self) -> int:
        return sum(p.steps for p in self.phases)

    @property
    def tokens(self) -> int:
        return sum(p.tokens for p in self.phases)


@dataclass(frozen=True)
class Device:
    name: str  # "cuda" or "cpu"
    bf16: bool

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bf16 else "float32"


def pick_device(setting: str = "auto") -> Device:
    """CUDA when present (bf16 where the GPU supports it), else the CPU in float32."""
    import torch

    cuda = torch.cuda.is_available()
    if setting == "cuda" and not cuda:
        raise TrainingError("training.device is 'cuda' but no CUDA device is visible; set it to auto or cpu")
    if setting == "cpu" or not cuda:
        return Device("cpu", False)
    return Device("cuda", bool(torch.cuda.is_bf16_supported()))


def target_modules(setting: str) -> str | list[str]:
    """peft's target_modules from the setting: "all-linear", or a comma-separated list of names."""
    names = [n.strip() for n in setting.split(",") if n.strip()]
    if not names:
        raise TrainingError("training.target_modules is empty: use all-linear or names such as q_proj,v_proj")
    return "all-linear" if names == ["all-linear"] else names


def lora_config(settings: TrainingSettings):
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=target_modules(settings.target_modules),
        task_type="CAUSAL_LM",
    )


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_callback(phase: str, log: Log):
    """A TRL/transformers callback writing ``<phase> step n/N (p %), loss x, s/step, ETA`` lines."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.start_step = 0
            self.start_time = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.start_step = state.global_step
            self.start_time = time.monotonic()
            resumed = f", resumed at step {state.global_step}" if state.global_step else ""
            log(f"{phase}: training {state.max_steps} steps{resumed}")

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs or state.global_step <= self.start_step:
                return
            done = state.global_step - self.start_step
            per_step = (time.monotonic() - self.start_time) / done
            eta = per_step * (state.max_steps - state.global_step)
            pct = 100 * state.global_step / max(state.max_steps, 1)
            reward = f", reward {logs['reward']:.3f}" if "reward" in logs else ""
            log(
                f"{phase}: step {state.global_step}/{state.max_steps} ({pct:.0f} %), loss {logs['loss']:.4f}"
                f"{reward}, {per_step:.2f} s/step, ETA {_fmt_duration(eta)}"
            )

    return ProgressCallback()


def fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_checkpoints(directory: Path, print_: str, log: Log) -> str | None:
    """The checkpoint to resume from in ``directory`` (None: start fresh).

    Checkpoints written for another fingerprint (other settings, data or base model) are removed:
    resuming them would continue a different training.
    """
    from transformers.trainer_utils import get_last_checkpoint

    marker = directory / FINGERPRINT_FILE
    if directory.exists():
        old = json.loads(marker.read_text()).get("fingerprint") if marker.is_file() else None
        if old != print_:
            if any(directory.glob("checkpoint-*")):
                log(f"{directory.name}: settings, data or base model changed since the last checkpoint; starting over")
            shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"fingerprint": print_}))
    last = get_last_checkpoint(str(directory))
    if last is not None:
        log(f"{directory.name}: resuming from {Path(last).name}")
    return last


def _loss_history(state_log: list[dict[str, Any]], key: str = "loss") -> list[tuple[int, float]]:
    out = []
    for entry in state_log:
        if key in entry and "step" in entry and math.isfinite(float(entry[key])):
            out.append((int(entry["step"]), float(entry[key])))
    return out


def _tokens(trainer) -> int:
    seen = int(getattr(trainer.state, "num_input_tokens_seen", 0) or 0)
    if seen:
        return seen
    logged = [e["num_tokens"] for e in trainer.state.log_history if "num_tokens" in e]
    return int(logged[-1]) if logged else 0


def _quiet(trainer) -> None:
    """Our progress line replaces the trainer's printed log dicts."""
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def _run_trainer(trainer, phase: str, resume: str | None, max_steps: int, eval_rows: bool) -> PhaseReport:
    _quiet(trainer)
    start_step = 0
    start_tokens = 0
    if resume is not None:
        state = json.loads((Path(resume) / "trainer_state.json").read_text())
        start_step = int(state.get("global_step", 0))
        start_tokens = int(state.get("num_input_tokens_seen", 0) or 0)
    t0 = time.monotonic()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.monotonic() - t0
    eval_loss = None
    if eval_rows:
        metrics = trainer.evaluate()
        eval_loss = float(metrics["eval_loss"]) if "eval_loss" in metrics else None
    steps = int(trainer.state.global_step)
    tokens = _tokens(trainer)
    loss = _loss_history(trainer.state.log_history)
    run_tokens = max(tokens - start_tokens, 0)
    run_steps = steps - start_step
    return PhaseReport(
        phase=phase,
        steps=steps,
        max_steps=max_steps,
        resumed_from_step=start_step,
        steps_this_run=run_steps,
        tokens=tokens,
        tokens_this_run=run_tokens,
        train_seconds=round(seconds, 3),
        tokens_per_s=round(run_tokens / seconds, 2) if seconds > 0 else 0.0,
        seconds_per_step=round(seconds / run_steps, 4) if run_steps else 0.0,
        loss=loss,
        final_loss=loss[-1][1] if loss else None,
        eval_loss=eval_loss,
        rewards=_loss_history(trainer.state.log_history, "reward"),
    )


def _common_args(settings: TrainingSettings, device: Device, out: Path) -> dict[str, Any]:
    return {
        "output_dir": str(out),
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        # the new name of gradient_checkpointing (the old one warns in transformers 5)
        "activation_checkpointing": settings.gradient_checkpointing,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": 2,
        "logging_steps": settings.logging_steps,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": device.name == "cpu",
        "bf16": device.bf16,
        "fp16": False,
        "dataloader_num_workers": 0,
        "include_num_input_tokens_seen": "non_padding",
    }


def _load_model(base: Path, device: Device, adapter: Path | None = None):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(base), dtype=torch.bfloat16 if device.bf16 else torch.float32, local_files_only=True
    )
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
    return model


def load_tokenizer(base: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        raise TrainingError(
            f"the tokenizer of {base} has no chat template: training on chat messages needs an instruct/chat "
            "model (set training.base_model to one)"
        )
    return tok


def train_sft(
    base: Path,
    train_rows: Sequence[dict[str, Any]],
    settings: TrainingSettings,
    out: Path,
    *,
    eval_rows: Sequence[dict[str, Any]] | None = None,
    device: Device | None = None,
    log: Log = print,
    resume: str | None = None,
    callbacks: Sequence[Any] = (),
):
    """Supervised LoRA fine-tuning with TRL's SFTTrainer; checkpoints in ``out``. Returns (trainer, report)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    device = device or pick_device(settings.device)
    args = SFTConfig(
        **_common_args(settings, device, out),
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps,
        max_length=settings.max_length,
        eval_strategy="no",
        per_device_eval_batch_size=settings.batch_size,
        dataset_num_proc=None,
    )
    tok = load_tokenizer(base)
    trainer = SFTTrainer(
        model=_load_model(base, device),
        args=args,
        train_dataset=Dataset.from_list(list(train_rows)),
        eval_dataset=Dataset.from_list(list(eval_rows)) if eval_rows else None,
        processing_class=tok,
        peft_config=lora_config(settings),
        callbacks=[progress_callback("sft", log), *callbacks],
    )
    report = _run_trainer(trainer, "sft", resume, trainer.state.max_steps or settings.max_steps, bool(eval_rows))
    return trainer, report


def filter_long_prompts(rows: Sequence[dict[str, Any]], tok, max_tokens: int) -> tuple[list[dict[str, Any]], int]:
    """GRPO rows whose chat-formatted prompt fits ``max_tokens`` (TRL 1.x no longer cuts prompts)."""
    kept = []
    for row in rows:
        ids = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        n = len(ids["input_ids"]) if isinstance(ids, dict) or hasattr(ids, "keys") else len(ids)
        if n <= max_tokens:
            kept.append(row)
    return kept, len(rows) - len(kept)


def train_grpo(
    base: Path,
    rows: Sequence[dict[str, Any]],
    reward_funcs: Sequence[Callable[..., list[float | None]]],
    settings: TrainingSettings,
    out: Path,
    *,
    init_adapter: Path | None = None,
    device: Device | None = None,
    log: Log = print,
    resume: str | None = None,
    callbacks: Sequence[Any] = (),
):
    """GRPO with TRL's GRPOTrainer and the given reward functions. With ``init_adapter`` (an SFT
    adapter) it continues that adapter instead of starting a new one. Returns (trainer, report)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    if not reward_funcs:
        raise TrainingError("GRPO needs at least one reward function")
    device = device or pick_device(settings.device)
    tok = load_tokenizer(base)
    tok.padding_side = "left"
    kept, dropped = filter_long_prompts(rows, tok, settings.grpo_max_prompt_length)
    if dropped:
        log(f"grpo: {dropped} of {len(rows)} prompts are longer than training.grpo_max_prompt_length "
            f"({settings.grpo_max_prompt_length} tokens) and are left out")
    if not kept:
        raise TrainingError(f"no GRPO prompt fits training.grpo_max_prompt_length ({settings.grpo_max_prompt_length}"
                            " tokens); raise it")
    g = settings.grpo_num_generations
    batch = max(g, (settings.grpo_batch_size // g) * g)  # the generation batch must hold whole groups
    args = GRPOConfig(
        **{**_common_args(settings, device, out), "per_device_train_batch_size": batch},
        learning_rate=settings.grpo_learning_rate,
        max_steps=settings.grpo_max_steps,
        num_generations=g,
        max_completion_length=settings.grpo_max_completion_length,
        temperature=settings.grpo_temperature,
        beta=settings.grpo_beta,
    )
    model = _load_model(base, device, adapter=init_adapter)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list(reward_funcs),
        args=args,
        train_dataset=Dataset.from_list(kept),
        processing_class=tok,
        peft_config=None if init_adapter is not None else lora_config(settings),
        callbacks=[progress_callback("grpo", log), *callbacks],
    )
    report = _run_trainer(trainer, "grpo", resume, settings.grpo_max_steps, False)
    return trainer, report


def _atomic_save(trainer, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        trainer.save_model(str(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def count_parameters(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return int(trainable), int(total)


def train_adapter(
    base: Path,
    settings: TrainingSettings,
    workdir: Path,
    *,
    sft_train: Sequence[dict[str, Any]] | None = None,
    sft_eval: Sequence[dict[str, Any]] | None = None,
    grpo_rows: Sequence[dict[str, Any]] | None = None,
    reward_funcs: Sequence[Callable[..., list[float | None]]] = (),
    data_digest: str = "",
    log: Log = print,
    callbacks: Sequence[Any] = (),
) -> AdapterReport:
    """Train ``settings.method`` and write the adapter to ``<workdir>/adapter`` (atomically).

    ``data_digest`` (a hash of the training files) enters the checkpoint fingerprint, so new data
    never resumes an old run. Checkpoints are removed once the adapter is written.
    """
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no progress bars in every run log: the progress line says it
    datasets.disable_progress_bars()
    use_cpu_threads(settings.cpu_threads)
    with warnings.catch_warnings():
        # peft asks the model a question transformers 5 renamed; the answer is the same
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return _train_adapter(base, settings, workdir, sft_train=sft_train, sft_eval=sft_eval, grpo_rows=grpo_rows,
                              reward_funcs=reward_funcs, data_digest=data_digest, log=log, callbacks=callbacks)


def _train_adapter(
    base: Path,
    settings: TrainingSettings,
    workdir: Path,
    *,
    sft_train: Sequence[dict[str, Any]] | None,
    sft_eval: Sequence[dict[str, Any]] | None,
    grpo_rows: Sequence[dict[str, Any]] | None,
    reward_funcs: Sequence[Callable[..., list[float | None]]],
    data_digest: str,
    log: Log,
    callbacks: Sequence[Any],
) -> AdapterReport:
    device = pick_device(settings.device)
    phases = ["sft", "grpo"] if settings.method == "sft+grpo" else [settings.method]
    if "sft" in phases and not sft_train:
        raise TrainingError("training.method includes sft but there are no SFT training lines")
    if "grpo" in phases and not grpo_rows:
        raise TrainingError("training.method includes grpo but there are no GRPO prompts")
    base_digest = folder_sha256(base) if (base / "config.json").is_file() else str(base)
    common = {"settings": settings.model_dump(), "data": data_digest, "base": base_digest, "device": asdict(device)}
    reports: list[PhaseReport] = []
    trainer = None
    sft_adapter = workdir / CHECKPOINTS_DIR / "sft-adapter"
    for phase in phases:
        ckpt_dir = workdir / CHECKPOINTS_DIR / phase
        resume = prepare_checkpoints(ckpt_dir, fingerprint({**common, "phase": phase}), log)
        if phase == "sft":
            done = sft_adapter / REPORT_FILE
            if len(phases) > 1 and done.is_file() and json.loads(done.read_text()).get("fingerprint") == fingerprint(
                {**common, "phase": phase}
            ):
                log("sft: already done for these settings and data; going on with grpo")
                reports.append(PhaseReport(**{**json.loads(done.read_text())["report"], "loss": []}))
                continue
            trainer, report = train_sft(base, sft_train or [], settings, ckpt_dir, eval_rows=sft_eval, device=device,
                                        log=log, resume=resume, callbacks=callbacks)
            if len(phases) > 1:
                _atomic_save(trainer, sft_adapter)
                (sft_adapter / REPORT_FILE).write_text(json.dumps(
                    {"fingerprint": fingerprint({**common, "phase": phase}), "report": asdict(report)}))
        else:
            init = sft_adapter if "sft" in phases else None
            trainer, report = train_grpo(base, grpo_rows or [], reward_funcs, settings, ckpt_dir, init_adapter=init,
                                         device=device, log=log, resume=resume, callbacks=callbacks)
        reports.append(report)
    assert trainer is not None
    dest = workdir / ADAPTER_DIR
    _atomic_save(trainer, dest)
    trainable, total = count_parameters(trainer.model)
    weights = dest / "adapter_model.safetensors"
    result = AdapterReport(
        path=str(dest),
        method=settings.method,
        base_model=str(base),
        device=device.name,
        dtype=device.dtype,
        trainable_parameters=trainable,
        total_parameters=total,
        adapter_bytes=weights.stat().st_size if weights.is_file() else folder_size(dest),
        adapter_sha256=file_digest(weights) if weights.is_file() else folder_sha256(dest),
        phases=reports,
    )
    (dest / REPORT_FILE).write_text(json.dumps(result.to_json(), indent=2))
    shutil.rmtree(workdir / CHECKPOINTS_DIR, ignore_errors=True)
    return result
