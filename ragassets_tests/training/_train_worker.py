"""Subprocess for the kill-and-resume test: trains SFT on the tiny model slowly (a sleeping callback) so
the test can SIGKILL it after a checkpoint. Arguments: base folder, work folder, max_steps."""

import sys
import time
from pathlib import Path

from transformers import TrainerCallback

from ragassets.settings import TrainingSettings
from ragassets.training.lora import train_adapter
from ragassets_tests.training.conftest import sft_rows


class Slow(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(0.4)


if __name__ == "__main__":
    base, work, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    settings = TrainingSettings(max_steps=steps, batch_size=2, save_steps=2, seed=7)
    train_adapter(base, settings, work, sft_train=sft_rows(), data_digest="d1", log=print, callbacks=[Slow()])
