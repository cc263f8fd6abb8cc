"""``openai``: any OpenAI-compatible chat-completions server (vLLM's server, Ollama, llama.cpp,
TGI, OpenAI) by base URL, over httpx's async client.

Each call maps every way a request can go wrong to a :class:`ProviderError` with a reason, whether
it is worth retrying, whether it signals overload (429, timeout: the limiter halves) and the
server's ``Retry-After``. The API key is sent as a bearer token and appears nowhere else: not in
``repr``, errors (server bodies echoing it are redacted) or the cache key.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from typing import Any

import httpx

from ragassets.llm.limiter import parse_retry_after
from ragassets.llm.providers.base import Provider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams, Usage


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
        json_schema: bool = True,
        tokenizer: Any | None = None,
    ) -> None:
        super().__init__(model)
        if not base_url:
            raise ValueError("provider 'openai' needs base_url, e.g. http://127.0.0.1:8000/v1")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout_s = timeout_s
        self.native_json_schema = json_schema
        self._tokenizer = tokenizer
        self._ssl: ssl.SSLContext | None = None
        self._free: list[httpx.AsyncHTTPTransport] = []
        self._transports: list[httpx.AsyncHTTPTransport] = []
        self._url = httpx.URL(self.base_url + "/chat/completions")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeouts = httpx.Timeout(timeout_s).as_dict()

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._api_key,) if self._api_key else ()

    def _new_transport(self) -> httpx.AsyncHTTPTransport:
        # One single-connection transport per concurrent request, used directly rather than
        # through httpx.AsyncClient: httpcore's shared pool rescans every connection on every
        # request and release, and the client layer (URL merging, cookies, hooks) costs as much
        # CPU again. At 64 requests in flight both show up as wall time; see bench/bench_llm.py.
        if self._ssl is None:
            # built once per provider: loading the CA store costs tens of milliseconds. A plain
            # http:// endpoint never uses it, so it gets an empty context.
            self._ssl = (
                ssl.create_default_context()
                if self._url.scheme == "https"
                else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            )
        transport = httpx.AsyncHTTPTransport(
            verify=self._ssl,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self._transports.append(transport)
        return transport

    async def aclose(self) -> None:
        transports, self._transports, self._free = self._transports, [], []
        for transport in transports:
            await transport.aclose()

    def payload(self, request: LLMRequest, params: SamplingParams) -> dict[str, Any]:
        """The JSON body of a chat-completions call."""
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
        if request.json_schema is not None and self.native_json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _schema_name(request), "schema": request.json_schema},
            }
        return body

    def count_tokens(self, text: str) -> int | None:
        if self._tokenizer is None:
            return None
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    async def acomplete(self, request: LLMRequest, params: SamplingParams) -> Completion:
        data = json.dumps(self.payload(request, params), ensure_ascii=False).encode("utf-8")
        http_request = httpx.Request(
            "POST", self._url, headers=self._headers, content=data, extensions={"timeout": self._timeouts}
        )
        transport = self._free.pop() if self._free else self._new_transport()
        try:
            # httpx's timeout is per read; this bounds the whole exchange, so a server that
            # trickles bytes cannot hold a slot forever
            async with asyncio.timeout(self.timeout_s):
                resp = await transport.handle_async_request(http_request)
                try:
                    raw = await resp.aread()
                finally:
                    await resp.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ProviderError(
                "timeout",
                f"no answer within {self.timeout_s:g}s ({type(exc).__name__})",
                retryable=True,
                overload=True,
            ) from None
        except httpx.RemoteProtocolError as exc:
            raise ProviderError(
                "malformed_response", f"the server broke off the response: {exc}", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                "connection", f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}", retryable=True
            ) from None
        finally:
            self._free.append(transport)
        return self._parse(request, resp, raw)

    def _parse(self, request: LLMRequest, resp: httpx.Response, raw: bytes) -> Completion:
        status = resp.status_code
        snippet = redact(raw[:300].decode("utf-8", "replace"), self.secrets)
        if status == 429:
            raise ProviderError(
                "rate_limited",
                f"HTTP 429 from the server: {snippet}",
                retryable=True,
                overload=True,
                retry_after=parse_retry_after(resp.headers.get("retry-after")),
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
                retry_after=parse_retry_after(resp.headers.get("retry-after")),
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


def _schema_name(request: LLMRequest) -> str:
    title = request.json_schema.get("title") if request.json_schema else None
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in (title or request.task or "output"))
    return name[:64] or "output"
