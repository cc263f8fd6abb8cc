"""LoRA training on the tiny model: SFT, GRPO, SFT then GRPO, resume after SIGKILL, the adapter loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragassets.settings import TrainingSettings
from ragassets.training.data import TrainingDataError, load_grpo_rows, load_sft_rows
from ragassets.training.lora import CHECKPOINTS_DIR, TrainingError, file_digest, train_adapter
from ragassets_tests.training.conftest import grpo_rows, sft_rows

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sft_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("sft")
    lines: list[str] = []
    settings = TrainingSettings(max_steps=3, batch_size=2, save_steps=2)
    report = train_adapter(tiny_model, settings, work, sft_train=sft_rows(), sft_eval=sft_rows(4), log=lines.append)
    return report, work, lines


def test_sft_three_steps_writes_adapter_and_report(sft_run) -> None:
    report, work, lines = sft_run
    phase = report.phases[0]
    assert (report.method, phase.phase, phase.steps, report.steps) == ("sft", "sft", 3, 3)
    assert [s for s, _ in phase.loss] == [1, 2, 3]
    assert phase.tokens > 0 and phase.tokens_per_s > 0 and phase.eval_loss is not None
    adapter = Path(report.path)
    weights = adapter / "adapter_model.safetensors"
    assert adapter == work / "adapter" and weights.is_file()
    assert report.adapter_sha256 == file_digest(weights) and report.adapter_bytes == weights.stat().st_size
    assert 0 < report.trainable_parameters < report.total_parameters
    assert not (work / CHECKPOINTS_DIR).exists()  # removed once the adapter is written
    assert json.loads((adapter / "training_report.json").read_text())["adapter_sha256"] == report.adapter_sha256
    progress = [line for line in lines if "step 3/3" in line]
    assert progress and "loss" in progress[0] and "ETA" in progress[0]


def test_adapter_loads_with_peft_and_generates(sft_run, tiny_model: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report, _, _ = sft_run
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True)
    model = PeftModel.from_pretrained(base, report.path).eval()
    # LoRA B matrices start at zero: training moved them
    assert any(float(p.abs().sum()) > 0 for n, p in model.named_parameters() if "lora_B" in n)
    tok = AutoTokenizer.from_pretrained(report.path, local_files_only=True)
    enc = tok("The crew", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > enc["input_ids"].shape[1]


def _length_reward(prompts, completions, **kwargs):
    # None for every other sample: TRL leaves this function out of those samples' rewards
    return [None if i % 2 else float(len(str(c))) / 100 for i, c in enumerate(completions)]


def _answer_reward(prompts, completions, answer, **kwargs):
    return [float(a.split()[0] in str(c)) for c, a in zip(completions, answer)]


def test_grpo_two_steps(tiny_model: Path, tmp_path: Path) -> None:
    from ragassets.rewards import answer_correctness, format_reward

    # rows shaped like the datasets stage's grpo.jsonl: qa rows with an answer, retrieval rows without
    rows = [{**r, "chunk_id": "c1", "paraphrase": None, "example_id": f"e{i}"} for i, r in enumerate(grpo_rows())]
    rows[1] = {**rows[1], "task": "retrieval", "answer": None, "paraphrase": "the module that saved them"}
    settings = TrainingSettings(method="grpo", grpo_max_steps=2, grpo_num_generations=2, grpo_batch_size=4,
                                grpo_max_completion_length=8, save_steps=5)
    report = train_adapter(tiny_model, settings, tmp_path, grpo_rows=rows,
                           reward_funcs=[_length_reward, answer_correctness, format_reward], log=lambda s: None)
    phase = report.phases[0]
    assert (phase.phase, phase.steps) == ("grpo", 2)
    assert len(phase.rewards) == 2 and phase.tokens > 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_sft_then_grpo_continues_the_sft_adapter(tiny_model: Path, tmp_path: Path) -> None:
    settings = TrainingSettings(method="sft+grpo", max_steps=2, batch_size=2, grpo_max_steps=1,
                                grpo_num_generations=2, grpo_batch_size=2, grpo_max_completion_length=8)
    report = train_adapter(tiny_model, settings, tmp_path, sft_train=sft_rows(), grpo_rows=grpo_rows(),
                           reward_funcs=[_answer_reward], log=lambda s: None)
    assert [(p.phase, p.steps) for p in report.phases] == [("sft", 2), ("grpo", 1)]


def test_grpo_leaves_out_prompts_longer_than_the_limit(tiny_model: Path, tmp_path: Path) -> None:
    settings = TrainingSettings(method="grpo", grpo_max_prompt_length=16)
    rows = [{"prompt": [{"role": "user", "content": "word " * 50}], "answer": "x"}]
    with pytest.raises(TrainingError, match="grpo_max_prompt_length"):
        train_adapter(tiny_model, settings, tmp_path, grpo_rows=rows, reward_funcs=[_answer_reward], log=print)


def test_resume_after_sigkill(tiny_model: Path, tmp_path: Path) -> None:
    """A training process killed with SIGKILL after a checkpoint resumes from it on the next call."""
    work = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragassets_tests.training._train_worker", str(tiny_model), str(work), "12"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    ckpts = work / CHECKPOINTS_DIR / "sft"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = [p for p in ckpts.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
            if any(int(p.name.split("-")[1]) >= 4 for p in done):
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"the worker ended before it could be killed: {proc.stdout.read().decode()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (work / "adapter").exists()
    saved = max(int(p.name.split("-")[1]) for p in ckpts.glob("checkpoint-*") if (p / "trainer_state.json").is_file())

    lines: list[str] = []
    settings = TrainingSettings(max_steps=12, batch_size=2, save_steps=2, seed=7)
    report = train_adapter(tiny_model, settings, work, sft_train=sft_rows(), data_digest="d1", log=lines.append)
    phase = report.phases[0]
    # the log says why a run did not resume (a changed fingerprint, no checkpoint found)
    assert phase.resumed_from_step == saved >= 4, (saved, lines[:5], sorted(p.name for p in ckpts.parent.rglob("*")))
    assert phase.steps == 12 and phase.steps_this_run == 12 - saved
    assert any(f"resuming from checkpoint-{saved}" in line for line in lines)
    # the loss history spans the whole training, before and after the kill
    assert [s for s, _ in phase.loss] == list(range(1, 13))


def test_changed_settings_do_not_resume_old_checkpoints(tiny_model: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    ckpt = tmp_path / CHECKPOINTS_DIR / "sft"
    ckpt.mkdir(parents=True)
    (ckpt / "ragassets_fingerprint.json").write_text(json.dumps({"fingerprint": "other"}))
    (ckpt / "checkpoint-2").mkdir()
    settings = TrainingSettings(max_steps=2, batch_size=2)
    report = train_adapter(tiny_model, settings, tmp_path, sft_train=sft_rows(), log=lines.append)
    assert report.phases[0].resumed_from_step == 0
    assert any("starting over" in line for line in lines)


def test_method_needs_its_data(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="no GRPO prompts"):
        train_adapter(tiny_model, TrainingSettings(method="grpo"), tmp_path, sft_train=sft_rows())


def test_training_files_are_checked_line_by_line(tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            "source_chunk_ids": ["c1"]}
    path = tmp_path / "messages.train.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(TrainingDataError, match=r"messages.train.jsonl:2: the last message must be the assistant"):
        load_sft_rows(path)
    path.write_text(json.dumps(good) + "\n")
    assert load_sft_rows(path) == [{"prompt": good["messages"][:1], "completion": good["messages"][1:]}]
    with pytest.raises(TrainingDataError, match="materialize the training datasets"):
        load_sft_rows(tmp_path / "absent.jsonl")
    grpo = tmp_path / "grpo.jsonl"
    grpo.write_text(json.dumps({"prompt": [{"role": "user", "content": "q"}], "answer": "a", "task": "qa"}) + "\n")
    assert load_grpo_rows(grpo)[0]["answer"] == "a"


def test_cpu_threads_default_to_half_the_cores(monkeypatch) -> None:
    import torch

    from ragassets.training import threads

    monkeypatch.setattr(threads.os, "cpu_count", lambda: 2)
    assert threads.cpu_threads(0) == 1 and threads.cpu_threads(3) == 3
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    assert threads.cpu_threads(0) == 8
    before = torch.get_num_threads()
    try:
        assert threads.use_cpu_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
