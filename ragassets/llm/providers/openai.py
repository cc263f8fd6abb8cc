"""``openai``: any OpenAI-compatible chat-completions server (vLLM's server, Ollama, llama.cpp,
TGI, OpenAI) by base URL, over an aiohttp session.

Structured output goes in one of three modes (``structured_output``), because servers differ:

- ``json_schema``: ``response_format: {"type": "json_schema", "json_schema": {"name", "schema"}}``
  (OpenAI, vLLM, Ollama's /v1, recent llama-server): the server enforces the schema;
- ``json_object``: ``response_format: {"type": "json_object", "schema": ...}`` (llama-server and
  llama-cpp-python's server enforce the ``schema`` field; servers that ignore it still return JSON),
  with the schema spelled out in the prompt as well (by the client);
- ``prompt``: no ``response_format``; the schema is spelled out in the prompt (TGI and others).

``auto`` (the default) starts at ``json_schema``; the client moves on when the server refuses
(see ``LLMClient``). :meth:`OpenAIProvider.alist_models` reads ``GET /models`` for the client's check
of the server before a stage's first request.

Each call maps every way a request can go wrong to a :class:`ProviderError` with a reason, whether
it is worth retrying, whether it signals overload (429, timeout: the limiter halves) and the
server's ``Retry-After``. The API key is sent as a bearer token and appears nowhere else: not in
``repr``, errors (server bodies echoing it are redacted) or the cache key.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from typing import Any

from ragassets.llm.providers.base import Provider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage
from ragassets.retrying import parse_retry_after

#: Structured-output modes, in the order ``auto`` tries them.
STRUCTURED_MODES = ("json_schema", "json_object", "prompt")
STRUCTURED_OUTPUT_CHOICES = ("auto", *STRUCTURED_MODES)


def redact(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class OpenAIProvider(Provider):
    kind = "openai"
    mode = "remote"

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        structured_output: str = "auto",
        tokenizer: Any | None = None,
    ) -> None:
        super().__init__(model)
        if not base_url:
            raise ValueError("provider 'openai' needs base_url, e.g. http://127.0.0.1:8000/v1")
        if structured_output not in STRUCTURED_OUTPUT_CHOICES:
            raise ValueError(
                f"structured_output must be one of {', '.join(STRUCTURED_OUTPUT_CHOICES)}, got {structured_output!r}"
            )
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout_s = timeout_s
        #: as configured: auto, or one fixed mode
        self.structured_output = structured_output
        #: the mode requests go out in now (auto starts at json_schema; the client moves it on)
        self.structured_mode = "json_schema" if structured_output == "auto" else structured_output
        self._tokenizer = tokenizer
        self._session: Any | None = None  # aiohttp.ClientSession, made inside the running loop
        self._url = self.base_url + "/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def native_json_schema(self) -> bool:  # type: ignore[override]
        """True when the server enforces the schema by itself (json_schema mode); otherwise the client
        spells the schema out in the prompt (json_object and prompt modes)."""
        return self.structured_mode == "json_schema"

    def next_structured_mode(self) -> str | None:
        """The mode ``auto`` tries after the current one (None: nothing left, or a fixed mode)."""
        if self.structured_output != "auto" or self.structured_mode == STRUCTURED_MODES[-1]:
            return None
        return STRUCTURED_MODES[STRUCTURED_MODES.index(self.structured_mode) + 1]

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    def _ssl_context(self) -> ssl.SSLContext | bool:
        """A verifying TLS context for https:// endpoints (certificates and host name checked); none for http://."""
        return ssl.create_default_context() if self._url.startswith("https://") else False

    async def astart(self) -> None:
        """Open one aiohttp session per run: a pool of kept-alive connections, one per request in flight.

        aiohttp spends about a quarter of httpx's CPU per request; at 64 requests in flight the
        client's CPU is what separates wall time from the ideal (bench/bench_llm.py).
        """
        import aiohttp

        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=0, ssl=self._ssl_context(), keepalive_timeout=30, enable_cleanup_closed=True
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=True,
            trust_env=False,
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def payload(self, request: LLMRequest, params: SamplingParams, mode: str | None = None) -> dict[str, Any]:
        """The JSON body of a chat-completions call (``mode``: the structured-output mode, default the
        current one)."""
        mode = mode or self.structured_mode
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in request.messages],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if request.json_schema is not None and mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(request), "schema": request.json_schema},
            }
        elif request.json_schema is not None and mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return body

    def count_tokens(self, text: str) -> int | None:
        if self._tokenizer is None:
            return None
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    async def acomplete(self, request: LLMRequest, params: SamplingParams) -> Completion:
        import aiohttp

        mode = self.structured_mode  # read before the first await: the mode the client prepared for
        if self._session is None or self._session.closed:
            await self.astart()
        body = self.payload(request, params, mode)
        schema_sent = mode if "response_format" in body else False
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            # one bound on the whole exchange, so a server that trickles bytes cannot hold a slot forever
            async with asyncio.timeout(self.timeout_s):
                async with self._session.post(self._url, data=data) as resp:
                    raw = await resp.read()
                    status, headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise ProviderError(
                "timeout",
                f"no answer within {self.timeout_s:g}s ({type(exc).__name__})",
                retryable=True,
                overload=True,
            ) from None
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientResponseError,
        ) as exc:
            raise ProviderError(
                "malformed_response",
                redact(f"the server broke off the response: {type(exc).__name__}: {exc}", self.secrets),
                retryable=True,
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise ProviderError(
                "connection",
                redact(f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}", self.secrets),
                retryable=True,
            ) from None
        return self._parse(request, status, headers, raw, schema_sent=schema_sent)

    def _parse(
        self,
        request: LLMRequest,
        status: int,
        headers: Any,
        raw: bytes,
        *,
        schema_sent: str | bool | None = None,
    ) -> Completion:
        """The completion in a response, or the ProviderError it amounts to. ``schema_sent``: the
        structured-output mode of the ``response_format`` this request carried (True: json_schema),
        False when it carried none; None: what the provider would send now."""
        if schema_sent is None and request.json_schema is not None and self.structured_mode != "prompt":
            schema_sent = self.structured_mode
        if schema_sent is True:
            schema_sent = "json_schema"
        snippet = redact(raw[:300].decode("utf-8", "replace"), self.secrets)
        if schema_sent and status >= 400 and status != 429:
            refusal = self._format_refusal(status, raw, snippet, str(schema_sent))
            if refusal is not None:
                raise refusal
        if status == 429:
            raise ProviderError(
                "rate_limited",
                f"HTTP 429 from the server: {snippet}",
                retryable=True,
                overload=True,
                retry_after=parse_retry_after(headers.get("retry-after")),
                status=status,
            )
        if status == 408:
            raise ProviderError(
                "timeout", "HTTP 408 from the server", retryable=True, overload=True, status=status
            )
        if status >= 500:
            raise ProviderError(
                "server_error",
                f"HTTP {status} from the server: {snippet}",
                retryable=True,
                retry_after=parse_retry_after(headers.get("retry-after")),
                status=status,
            )
        if status >= 400:
            hint = " (check api_key_env)" if status in (401, 403) else ""
            raise ProviderError(
                "client_error",
                f"HTTP {status} from the server{hint}: {snippet}",
                retryable=False,
                status=status,
            )
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content")
            if text is None and "text" in choice:  # some servers answer in completions shape
                text = choice["text"]
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(
                "malformed_response",
                f"HTTP {status} with a body that is not a chat completion: {snippet}",
                retryable=True,
                status=status,
            ) from None
        text = text if isinstance(text, str) else ""
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            u = Usage(int(usage["prompt_tokens"]), int(usage.get("completion_tokens") or 0), "server")
        else:
            u = self.usage_fallback(request, text)
        return Completion(text=text, usage=u, finish_reason=choice.get("finish_reason"))

    def _format_refusal(self, status: int, raw: bytes, snippet: str, mode: str) -> ProviderError | None:
        """The error for a server that refuses the ``response_format`` a request carried, or None when
        the failure is about something else. A 400 or 422 that names the format (or the schema) is a
        refusal; so is a 5xx whose body names ``response_format`` (llama-cpp-python answers a
        ``json_schema`` it does not know with HTTP 500 and a validation error on
        ``response_format.type``; older llama-server builds with 500 "response_format type must be
        one of ..."). A refusal is not worth a retry: the same body gets the same answer."""
        body = raw[:8000].decode("utf-8", "replace")
        if status in (400, 422):
            refused = _SCHEMA_REFUSAL.search(body) is not None
        else:
            refused = status >= 500 and _FORMAT_NAMED.search(body) is not None
        if not refused:
            return None
        fixed = self.structured_output != "auto"
        advice = (
            f"; structured_output is fixed to {mode}: set structured_output: auto to let ragassets find a "
            "mode this server takes"
            if fixed
            else ""
        )
        return ProviderError(
            "client_error",
            f"HTTP {status}: the server does not take response_format of type {mode}: {snippet}{advice}",
            retryable=False,
            status=status,
            schema_unsupported=True,
            refused_format=mode,
        )

    async def alist_models(self) -> list[dict[str, Any]] | None:
        """The server's ``GET /models`` list (``data`` entries), or None when it has no such endpoint
        (404, 405, 501). Raises :class:`ProviderError`: ``connection`` (down, or no answer within
        ``timeout_s``), ``client_error`` (401/403: refused; status kept), ``server_error`` (5xx)."""
        import aiohttp

        url = self.base_url + "/models"
        headers = {k: v for k, v in self._headers.items() if k != "Content-Type"}
        try:
            timeout = aiohttp.ClientTimeout(total=min(self.timeout_s, 30.0))
            async with (
                aiohttp.ClientSession(headers=headers, timeout=timeout, trust_env=False) as session,
                session.get(url, ssl=self._ssl_context()) as resp,
            ):
                raw = await resp.read()
                status = resp.status
        except TimeoutError:
            raise ProviderError(
                "connection", f"{url} did not answer within {min(self.timeout_s, 30.0):g}s", retryable=True
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise ProviderError(
                "connection", redact(f"{type(exc).__name__}: {exc}", self.secrets), retryable=True
            ) from None
        snippet = redact(raw[:300].decode("utf-8", "replace"), self.secrets)
        if status in (404, 405, 501):
            return None
        if status in (401, 403):
            raise ProviderError("client_error", f"HTTP {status}: {snippet}", status=status)
        if status >= 400:
            raise ProviderError("server_error", f"HTTP {status}: {snippet}", status=status)
        try:
            data = json.loads(raw)["data"]
            if not isinstance(data, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return None  # not the list this API promises: no check possible, no reason to stop
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


# how servers word a refused response_format in a 400/422 (TGI: "response_format: unknown variant
# `json_schema`", OpenAI: "'response_format' of type 'json_schema' is not supported with this model",
# vLLM: "guided_json ..."); in a 5xx only a body that names response_format counts (a 500 can be anything)
_SCHEMA_REFUSAL = re.compile(r"response_format|json_schema|json_object|guided_json", re.IGNORECASE)
_FORMAT_NAMED = re.compile(r"response_format", re.IGNORECASE)


def _schema_name(request: LLMRequest) -> str:
    title = request.json_schema.get("title") if request.json_schema else None
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in (title or request.task or "output"))
    return name[:64] or "output"
