"""An Ollama ``Modelfile`` for the exported model, and ``ollama create`` when Ollama is installed.

Ollama does not run the Jinja chat template of a Hugging Face tokenizer: it wants a Go template. The
three families fine-tuned models use are recognised by their markers and translated (ChatML as in
SmolLM2 and Qwen, Llama 3 headers, Mistral ``[INST]``); anything else gets ChatML. Each family is
written as its parts (how the system turn, a user turn and an assistant turn are wrapped), so
:meth:`TemplateFamily.render` can show in Python exactly what the Go template will produce. No Dagster
import.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TemplateFamily:
    name: str
    marker: str  # a string only this family's chat templates contain
    system: tuple[str, str]  # (before, after) the system text
    user: tuple[str, str]
    assistant: tuple[str, str]
    stops: tuple[str, ...]
    bos: str = ""

    def go_template(self) -> str:
        """Ollama's template with .System, .Prompt and .Response (one exchange; Ollama repeats it)."""
        sb, sa = self.system
        ub, ua = self.user
        ab, aa = self.assistant
        return (
            f"{self.bos}{{{{ if .System }}}}{sb}{{{{ .System }}}}{sa}{{{{ end }}}}"
            f"{{{{ if .Prompt }}}}{ub}{{{{ .Prompt }}}}{ua}{{{{ end }}}}"
            f"{ab}{{{{ .Response }}}}{aa}"
        )

    def render(self, system: str | None, prompt: str) -> str:
        """What :meth:`go_template` gives for one prompt before the answer (``.Response`` empty)."""
        sb, sa = self.system
        ub, ua = self.user
        text = self.bos + (f"{sb}{system}{sa}" if system else "") + f"{ub}{prompt}{ua}"
        return text + self.assistant[0]


CHATML = TemplateFamily(
    name="chatml",
    marker="<|im_start|>",
    system=("<|im_start|>system\n", "<|im_end|>\n"),
    user=("<|im_start|>user\n", "<|im_end|>\n"),
    assistant=("<|im_start|>assistant\n", "<|im_end|>\n"),
    stops=("<|im_end|>", "<|im_start|>"),
)
LLAMA3 = TemplateFamily(
    name="llama3",
    marker="<|start_header_id|>",
    system=("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"),
    user=("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
    assistant=("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
    stops=("<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"),
    bos="<|begin_of_text|>",
)
MISTRAL = TemplateFamily(
    name="mistral",
    marker="[INST]",
    system=("", "\n\n"),  # Mistral has no system turn: it goes before the first prompt
    user=("[INST] ", " [/INST]"),
    assistant=("", "</s>"),
    stops=("[INST]", "[/INST]", "</s>"),
)
FAMILIES = (LLAMA3, MISTRAL, CHATML)


def template_family(chat_template: str | None) -> TemplateFamily:
    """The family whose markers the chat template uses; ChatML when none matches."""
    for family in FAMILIES:
        if chat_template and family.marker in chat_template:
            return family
    return CHATML


def _quote(text: str) -> str:
    if '"""' in text:
        raise ValueError('a Modelfile value cannot contain """')
    return f'"""{text}"""'


def modelfile_text(
    source: str,
    chat_template: str | None,
    *,
    system: str | None = None,
    eos_token: str | None = None,
    temperature: float | None = None,
) -> tuple[str, TemplateFamily]:
    """The Modelfile for ``source`` (a GGUF path or a safetensors folder, relative to the Modelfile)."""
    family = template_family(chat_template)
    stops = list(family.stops)
    if eos_token and eos_token not in stops:
        stops.append(eos_token)
    lines = [f"FROM {source}", f"TEMPLATE {_quote(family.go_template())}"]
    lines += [f'PARAMETER stop "{s}"' for s in stops]
    if temperature is not None:
        lines.append(f"PARAMETER temperature {temperature:g}")
    if system:
        lines.append(f"SYSTEM {_quote(system)}")
    return "\n".join(lines) + "\n", family


def write_modelfile(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".Modelfile.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def create_command(model_name: str, modelfile: Path) -> list[str]:
    return ["ollama", "create", model_name, "-f", str(modelfile)]


@dataclass(frozen=True)
class CreateResult:
    command: str
    ran: bool
    ok: bool
    output: str


def ollama_create(model_name: str, modelfile: Path, *, run: bool = True, timeout_s: float = 900) -> CreateResult:
    """Run ``ollama create`` when ``ollama`` is on PATH (and ``run``); otherwise return the command only."""
    cmd = create_command(model_name, modelfile)
    text = shlex.join(cmd)
    if not run or shutil.which("ollama") is None:
        return CreateResult(text, ran=False, ok=False, output="ollama is not on PATH" if run else "not asked to run")
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s, cwd=modelfile.parent)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CreateResult(text, ran=True, ok=False, output=str(exc))
    output = (proc.stdout + proc.stderr).strip()[-2000:]
    return CreateResult(text, ran=True, ok=proc.returncode == 0, output=output)
