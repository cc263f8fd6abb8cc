"""How many CPU threads torch uses for training, merging, export checks and evaluation. No Dagster import.

Dagster runs several steps at once, each in its own process, and other work shares the cores. An
OpenMP parallel region then waits at every barrier for a thread the OS has descheduled: measured on
two shared cores, one decode step of SmolLM2-135M took 2.2 s with two threads and 0.13 s with one
(greedy answers to 8 questions: 216 s against 19 s). So the default is half the cores, at least one.
"""

from __future__ import annotations

import os


def cpu_threads(setting: int = 0) -> int:
    """``setting`` when positive, else half the cores (at least one)."""
    return setting if setting > 0 else max(1, (os.cpu_count() or 1) // 2)


def use_cpu_threads(setting: int = 0) -> int:
    """Set torch's intra-op threads for this process; returns the number used."""
    import torch

    n = cpu_threads(setting)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
