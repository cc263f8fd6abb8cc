"""Prompt templates: Jinja files, rendered in a sandbox, overridable per corpus.

The built-in templates live in ``ragassets/prompts/<name>.j2``. A corpus may replace one by putting
a file of the same name in ``data/corpora/<corpus>/prompts/<name>.j2``. Each template defines a
``user`` block and optionally a ``system`` block; rendering gives the chat messages::

    {% block system %}You write exam questions.{% endblock %}
    {% block user %}Passage: {{ current }}{% endblock %}

Rendering uses jinja2's ``SandboxedEnvironment`` (a corpus template is user-supplied text and must
not reach Python internals) with ``StrictUndefined``: a variable the template uses but the caller did
not pass is an error that names the template and the variable, never an empty string in a prompt.

The template version is a hash of the template's text. It is part of every request's cache key, so
editing a prompt re-asks exactly the requests that prompt produced and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "prompts"
SUFFIX = ".j2"


class PromptError(ValueError):
    """A template that cannot be found, parsed or rendered, said in words a person can act on."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str
    origin: Path
    version: str
    variables: frozenset[str]


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    version: str
    messages: tuple[dict[str, str], ...]
    origin: Path


def _env() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


class PromptLibrary:
    """The templates visible to one corpus: its own overrides first, then the built-ins.

    corpus_dir: the corpus folder (``data/corpora/<corpus>``); its ``prompts/`` folder is searched
    first. builtin_dir: where the shipped templates are (tests may point it elsewhere).
    """

    def __init__(self, corpus_dir: str | Path | None = None, builtin_dir: str | Path = BUILTIN_DIR) -> None:
        self.builtin_dir = Path(builtin_dir)
        self.override_dir = Path(corpus_dir) / "prompts" if corpus_dir is not None else None
        self._env = _env()
        self._cache: dict[str, PromptTemplate] = {}
        self._compiled: dict[str, jinja2.Template] = {}  # compiled once per template, not per request

    def names(self) -> list[str]:
        names = {p.stem for p in self.builtin_dir.glob(f"*{SUFFIX}")}
        if self.override_dir and self.override_dir.is_dir():
            names |= {p.stem for p in self.override_dir.glob(f"*{SUFFIX}")}
        return sorted(names)

    def _path(self, name: str) -> Path:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise PromptError(f"bad prompt template name {name!r}: use a bare name such as 'paraphrase'")
        if self.override_dir is not None:
            candidate = self.override_dir / f"{name}{SUFFIX}"
            if candidate.is_file():
                return candidate
        candidate = self.builtin_dir / f"{name}{SUFFIX}"
        if candidate.is_file():
            return candidate
        where = f"{self.builtin_dir}" + (f" or {self.override_dir}" if self.override_dir else "")
        raise PromptError(
            f"unknown prompt template {name!r} (looked in {where}); known templates: {', '.join(self.names())}"
        )

    def get(self, name: str) -> PromptTemplate:
        if name in self._cache:
            return self._cache[name]
        path = self._path(name)
        text = path.read_text(encoding="utf-8")
        try:
            ast = self._env.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"prompt template {path} line {exc.lineno}: {exc.message}") from None
        tpl = PromptTemplate(
            name=name,
            text=text,
            origin=path,
            version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
            variables=frozenset(meta.find_undeclared_variables(ast)),
        )
        self._cache[name] = tpl
        return tpl

    def version(self, name: str) -> str:
        return self.get(name).version

    def render(self, name: str, **variables: Any) -> RenderedPrompt:
        """Render template ``name`` to chat messages (system block if non-empty, then user)."""
        tpl = self.get(name)
        missing = sorted(tpl.variables - set(variables))
        if missing:
            raise PromptError(
                f"prompt template {name!r} ({tpl.origin}) needs variable(s) {', '.join(missing)}; "
                f"got {', '.join(sorted(variables)) or 'none'}"
            )
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self._env.from_string(tpl.text)
        if "user" not in template.blocks:
            raise PromptError(
                f"prompt template {tpl.origin} has no '{{% block user %}}': every template needs one "
                "(and may have a 'system' block)"
            )
        try:
            ctx = template.new_context(dict(variables))
            parts = {
                block: "".join(template.blocks[block](ctx)).strip()
                for block in ("system", "user")
                if block in template.blocks
            }
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt template {name!r} ({tpl.origin}): {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:
            raise PromptError(
                f"prompt template {name!r} ({tpl.origin}) tried something unsafe: {exc}"
            ) from None
        messages: list[dict[str, str]] = []
        if parts.get("system"):
            messages.append({"role": "system", "content": parts["system"]})
        if not parts.get("user"):
            raise PromptError(f"prompt template {name!r} ({tpl.origin}) rendered an empty user message")
        messages.append({"role": "user", "content": parts["user"]})
        return RenderedPrompt(name=name, version=tpl.version, messages=tuple(messages), origin=tpl.origin)
