"""The values that flow through the LLM layer: requests, completions, results, failures.

A request is everything that determines an answer (chat messages, sampling parameters, an optional
JSON schema) plus bookkeeping that does not (task name, template variables, a caller's id). Only the
former goes into the cache key, so two stages asking the same thing share one answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]

#: Bump when the meaning of a cached answer changes for reasons the key cannot see.
CACHE_KEY_VERSION = 1


@dataclass(frozen=True)
class SamplingParams:
    """Decoding parameters sent to the provider.

    ``seed`` doubles as a variant index: asking for three paraphrases of one chunk means three
    requests with seeds 0, 1, 2, so each has its own cache entry.
    """

    temperature: float = 0.7
    max_tokens: int = 1024
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "temperature": float(self.temperature),
            "max_tokens": int(self.max_tokens),
            "top_p": float(self.top_p),
            "seed": self.seed,
            "stop": list(self.stop),
        }


@dataclass(frozen=True)
class LLMRequest:
    """One chat request.

    messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
    params: sampling parameters; ``None`` means the client's defaults (from settings) apply.
    json_schema: a JSON schema the answer must match (sent as ``response_format`` where the provider
        supports it); ``None`` for free text.
    task: the task name (``paraphrase``, ``questions``, ...) for accounting and the offline provider.
    template: name of the prompt template the messages were rendered from, if any.
    template_version: hash of that template's text; part of the cache key, so editing a prompt
        invalidates exactly the answers it produced.
    inputs: the template variables. Not part of the key (the messages already carry them); the
        offline provider reads them instead of re-parsing the prompt.
    id: the caller's identifier (e.g. a chunk id), returned on the result; not part of the key.
    """

    messages: tuple[dict[str, str], ...]
    params: SamplingParams | None = None
    json_schema: dict[str, Any] | None = None
    task: str = "generic"
    template: str | None = None
    template_version: str | None = None
    inputs: dict[str, Any] | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        msgs = tuple(dict(m) for m in self.messages)
        if not msgs:
            raise ValueError("an LLM request needs at least one message")
        for m in msgs:
            if m.get("role") not in ("system", "user", "assistant") or not isinstance(m.get("content"), str):
                raise ValueError(
                    f"bad chat message {m!r}: expected {{'role': system|user|assistant, 'content': str}}"
                )
        object.__setattr__(self, "messages", msgs)

    @classmethod
    def chat(cls, user: str, system: str | None = None, **kwargs: Any) -> LLMRequest:
        """A request from a user message and an optional system message."""
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        return cls(messages=tuple(messages), **kwargs)

    def with_params(self, params: SamplingParams) -> LLMRequest:
        return _replace(self, params=params)

    def with_messages(self, messages: list[dict[str, str]] | tuple[dict[str, str], ...]) -> LLMRequest:
        return _replace(self, messages=tuple(messages))


def _replace(req: LLMRequest, **changes: Any) -> LLMRequest:
    from dataclasses import replace

    return replace(req, **changes)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


#: id(schema) -> (schema, its canonical JSON). A batch sends one schema object with every request;
#: serialising it once instead of per request halves the cost of a key. The schema is kept in the
#: entry, so its id cannot be reused while the entry lives; request schemas are never mutated.
_SCHEMA_JSON: dict[int, tuple[Any, str]] = {}


def _schema_json(schema: Any) -> str:
    hit = _SCHEMA_JSON.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if len(_SCHEMA_JSON) >= 64:
        _SCHEMA_JSON.clear()
    blob = _canonical(schema)
    _SCHEMA_JSON[id(schema)] = (schema, blob)
    return blob


def cache_key(provider: str, model: str | None, request: LLMRequest, params: SamplingParams) -> str:
    """Hash of everything that determines an answer: provider kind, model, messages, sampling
    parameters, JSON schema, template version. Secrets and endpoints are deliberately absent: the
    same model behind another URL gives the same answer, and a key must never reach the cache.

    The hashed text is the canonical JSON (sorted keys, compact) of ``{"v", "provider", "model",
    "messages", "params", "schema", "template_version"}``, written part by part so that the schema
    is serialised once per batch; a test holds it equal to ``json.dumps`` of the whole object."""
    messages = [{"content": m["content"], "role": m["role"]} for m in request.messages]
    blob = (
        '{"messages":'
        + _canonical(messages)
        + ',"model":'
        + _canonical(model or "")
        + ',"params":'
        + _canonical(params.as_dict())
        + ',"provider":'
        + _canonical(provider)
        + ',"schema":'
        + _schema_json(request.json_schema)
        + ',"template_version":'
        + _canonical(request.template_version)
        + ',"v":'
        + _canonical(CACHE_KEY_VERSION)
        + "}"
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------
# outcomes

#: Failure reasons, as counted in metadata. Transient ones are retried before they are reported.
FailureReason = Literal[
    "rate_limited",  # 429 after all retries
    "server_error",  # 5xx after all retries
    "timeout",  # no answer within timeout_s, after all retries
    "connection",  # could not connect / connection dropped
    "malformed_response",  # the HTTP body was not the JSON the API promises (or was cut short)
    "client_error",  # 4xx other than 429: the request itself is wrong (bad model name, auth, ...)
    "model_not_served",  # the server's /v1/models does not list the configured model: nothing was sent
    "provider_error",  # an in-process engine raised
    "empty_output",  # the model returned no text
    "truncated",  # structured output: the answer stopped at max_tokens before its JSON was complete
    "parse_error",  # structured output: not JSON even after repair attempts
    "schema_mismatch",  # structured output: JSON, but not matching the model, after repair attempts
]

TRANSIENT_REASONS = frozenset({"rate_limited", "server_error", "timeout", "connection", "malformed_response"})


@dataclass
class Usage:
    """Token counts of one answer and where they came from (server | tokenizer | estimate)."""

    input_tokens: int = 0
    output_tokens: int = 0
    source: Literal["server", "tokenizer", "estimate", "none"] = "none"


@dataclass
class Completion:
    """What a provider returns for one request that succeeded."""

    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


class ProviderError(Exception):
    """A failed attempt. ``retryable`` errors are retried with backoff; ``retry_after`` (seconds)
    is the server's own hint and wins over the computed backoff."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        overload: bool = False,
        status: int | None = None,
        schema_unsupported: bool = False,
        refused_format: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.overload = overload  # 429 / timeout: the limiter should back off
        self.status = status
        # the server refused the request's response_format (``refused_format``: the structured-output
        # mode it was sent in, json_schema or json_object): the client moves on to the next mode
        self.schema_unsupported = schema_unsupported
        self.refused_format = refused_format


class ProviderUnavailable(RuntimeError):
    """The chosen provider cannot be used here (package missing, model path missing, ...)."""


class ServerUnavailable(ProviderUnavailable):
    """The server of a stage cannot serve it, found before the first request is sent: it is down
    (``reason`` ``connection``), refuses us (``client_error``: a wrong key) or does not serve the
    configured model (``model_not_served``). The message says which, and what to do."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Result:
    """The outcome of one request, in the order requests were given.

    ``ok`` is True when ``text`` holds an answer. Otherwise ``error`` is one of the failure reasons
    and ``error_detail`` says what happened, in words. ``cached`` is True when the answer came from
    the response cache and nothing was sent. ``provider``/``model`` say who answered, so outputs of
    the offline stand-in are always recognisable.
    """

    request: LLMRequest
    key: str
    provider: str
    model: str
    text: str | None = None
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    error: str | None = None
    error_detail: str | None = None
    attempts: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None

    @property
    def id(self) -> str | None:
        return self.request.id


@dataclass
class StructuredResult:
    """The outcome of one structured request: ``value`` is the validated pydantic object, or
    ``None`` with ``error`` (a failure reason) and ``raw`` (the last text the model produced)."""

    request: LLMRequest
    value: Any | None
    raw: str | None
    error: str | None = None
    error_detail: str | None = None
    repairs: int = 0
    provider: str = ""
    model: str = ""
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None

    @property
    def id(self) -> str | None:
        return self.request.id
