"""A tiny random Llama (built once per session) and SFT/GRPO rows for the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragassets_tests.llm.tiny_model import build_tiny_llama


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


def sft_rows(n: int = 12) -> list[dict]:
    facts = [("When did the oxygen tank fail?", "At 55 hours into the mission."),
             ("Where did the crew shelter?", "In the lunar module."),
             ("Who planned the return?", "Mission Control in Houston.")]
    out = []
    for i in range(n):
        q, a = facts[i % len(facts)]
        out.append({"prompt": [{"role": "user", "content": f"{q} ({i})"}], "completion": [{"role": "assistant", "content": a}]})
    return out


def grpo_rows(n: int = 4) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": f"Name the module that saved the crew ({i})."}],
             "answer": "lunar module", "task": "qa"} for i in range(n)]
