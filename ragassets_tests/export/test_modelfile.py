"""Modelfiles per chat-template family: the Go template renders what the model's Jinja template renders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ragassets.export.modelfile import CHATML, LLAMA3, MISTRAL, modelfile_text, ollama_create, template_family

SMOLLM2 = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)


def _jinja(template: str, messages: list[dict], bos: str = "") -> str:
    env = ImmutableSandboxedEnvironment()
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, bos_token=bos,
                                            eos_token="</s>")


@pytest.mark.parametrize(
    ("template", "family", "bos"),
    [(SMOLLM2, CHATML, ""), (LLAMA3_TEMPLATE, LLAMA3, "<|begin_of_text|>")],
)
def test_go_template_renders_like_the_chat_template(template: str, family, bos: str) -> None:
    assert template_family(template) is family
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "When did it fail?"}]
    assert family.render("Be brief.", "When did it fail?") == _jinja(template, messages, bos)


def test_mistral_has_no_system_turn_and_wraps_the_prompt() -> None:
    assert template_family(MISTRAL_TEMPLATE) is MISTRAL
    assert MISTRAL.render(None, "Hi?") == _jinja(MISTRAL_TEMPLATE, [{"role": "user", "content": "Hi?"}])
    assert MISTRAL.render("Be brief.", "Hi?") == "Be brief.\n\n[INST] Hi? [/INST]"


def test_unknown_templates_fall_back_to_chatml() -> None:
    assert template_family("{{ messages }}") is CHATML
    assert template_family(None) is CHATML


@pytest.mark.parametrize(("template", "stops"), [
    (SMOLLM2, ["<|im_end|>", "<|im_start|>"]),
    (LLAMA3_TEMPLATE, ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]),
    (MISTRAL_TEMPLATE, ["[INST]", "[/INST]", "</s>"]),
])
def test_modelfile_has_from_template_stops_and_system(template: str, stops: list[str]) -> None:
    text, _ = modelfile_text("./model-f16.gguf", template, system="Answer from the documents.",
                                  eos_token="</s>", temperature=0.2)
    lines = text.splitlines()
    assert lines[0] == "FROM ./model-f16.gguf"
    assert lines[1].startswith('TEMPLATE """') and "{{ .Prompt }}" in text and "{{ .Response }}" in text
    assert [line.split(" ", 2)[2].strip('"') for line in lines if line.startswith("PARAMETER stop")][: len(stops)] == stops
    assert 'PARAMETER stop "</s>"' in text
    assert "PARAMETER temperature 0.2" in lines
    assert 'SYSTEM """Answer from the documents."""' in lines


def test_ollama_create_without_ollama_returns_the_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = ollama_create("ragassets-sample", tmp_path / "Modelfile")
    assert not result.ran and not result.ok
    assert result.command == f"ollama create ragassets-sample -f {tmp_path / 'Modelfile'}"


def test_ollama_create_runs_ollama_on_path(tmp_path: Path, monkeypatch) -> None:
    # a stand-in `ollama` executable that records its arguments
    fake = tmp_path / "bin" / "ollama"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho success\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "Modelfile").write_text("FROM ./m.gguf\n")
    result = ollama_create("tuned", tmp_path / "Modelfile")
    assert result.ran and result.ok and "success" in result.output
    assert (tmp_path / "args").read_text().split() == ["create", "tuned", "-f", str(tmp_path / "Modelfile")]
