"""Getting JSON that matches a pydantic model out of models that do not always comply.

Three layers, cheapest first: the provider is asked for the schema natively where it can be
(``response_format`` on OpenAI-compatible servers, guided decoding in vLLM); otherwise the schema is
spelled out in an instruction. Whatever comes back goes through a tolerant parser (code fences,
prose around the object, trailing commas, Python literals, smart quotes). If it still does not
validate, the model is asked again with its answer and the error appended, a bounded number of times.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


class StructuredParseError(ValueError):
    """Carries ``reason``: ``parse_error`` (no JSON found) or ``schema_mismatch`` (JSON, wrong shape)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _balanced_spans(text: str) -> list[str]:
    """Every top-level ``{...}`` or ``[...]`` span, scanning brackets outside of strings."""
    spans: list[str] = []
    depth = 0
    start = -1
    in_str = False
    esc = False
    opener = ""
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"' and depth > 0:
            in_str = True
        elif ch in "{[":
            if depth == 0:
                start = i
                opener = ch
            depth += 1
        elif ch in "}]" and depth > 0:
            depth -= 1
            if depth == 0 and start >= 0:
                if (opener == "{") == (ch == "}"):
                    spans.append(text[start : i + 1])
                start = -1
    return spans


def _repairs(candidate: str) -> list[str]:
    """The candidate and progressively more forgiving rewrites of it."""
    out = [candidate]
    fixed = (
        candidate.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    )
    fixed = _TRAILING_COMMA.sub(r"\1", fixed)
    out.append(fixed)
    py = re.sub(r"\b(True|False|None)\b", lambda m: _PY_LITERALS[m.group(1)], fixed)
    out.append(py)
    return out


def extract_json(text: str) -> Any:
    """The first JSON value found in ``text``, tolerating the usual small-model habits.
    Raises :class:`StructuredParseError` (reason ``parse_error``) when there is none."""
    if text is None or not text.strip():
        raise StructuredParseError("parse_error", "the answer was empty")
    stripped = text.strip()
    try:  # the common case, a server that enforced the schema: one json.loads, no scanning
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        last_error = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    candidates: list[str] = [stripped]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    candidates += _balanced_spans(text)
    for cand in candidates:
        for variant in _repairs(cand):
            try:
                return json.loads(variant)
            except json.JSONDecodeError as exc:
                last_error = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    raise StructuredParseError("parse_error", last_error)


def parse_structured(text: str, model: type[BaseModel]) -> BaseModel:
    """Parse ``text`` into ``model``. A bare list is accepted for a model with a single list field
    (``[{...}]`` for ``{"questions": [{...}]}``), a common small-model shortcut."""
    data = extract_json(text)
    if isinstance(data, list):
        list_fields = [n for n, f in model.model_fields.items() if _is_list(f.annotation)]
        if len(list_fields) == 1:
            data = {list_fields[0]: data}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise StructuredParseError(
            "schema_mismatch", f"JSON does not match {model.__name__}: {problems}"
        ) from None


def _is_list(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    return origin is list or annotation is list


def schema_instruction(schema: dict[str, Any]) -> str:
    """The instruction appended to a request when the provider cannot enforce the schema itself."""
    return (
        "Reply with a single JSON object that matches this JSON schema, and nothing else "
        "(no prose, no code fences):\n" + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    )


def repair_messages(
    messages: tuple[dict[str, str], ...], raw: str, error: str, schema: dict[str, Any] | None
) -> tuple[dict[str, str], ...]:
    """The conversation for another attempt: the original, the model's answer, and the error."""
    ask = (
        f"Your answer could not be used: {error}. Reply again with only a JSON object"
        + (" matching this JSON schema: " + json.dumps(schema, separators=(",", ":")) if schema else "")
        + "."
    )
    return tuple(messages) + ({"role": "assistant", "content": raw or ""}, {"role": "user", "content": ask})
