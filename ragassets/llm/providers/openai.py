"""``openai``: any OpenAI-compatible chat-completions server (vLLM's server, Ollama, llama.cpp,
TGI, OpenAI) by base URL, over an aiohttp session.

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
        self._session: Any | None = None  # aiohttp.ClientSession, made inside the running loop
        self._url = self.base_url + "/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

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
        import aiohttp

        if self._session is None or self._session.closed:
            await self.astart()
        body = self.payload(request, params)
        schema_sent = "response_format" in body
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
        self, request: LLMRequest, status: int, headers: Any, raw: bytes, *, schema_sent: bool | None = None
    ) -> Completion:
        """The completion in a response, or the ProviderError it amounts to. ``schema_sent``: whether
        this request carried ``response_format`` (default: whether the provider sends it now)."""
        if schema_sent is None:
            schema_sent = request.json_schema is not None and self.native_json_schema
        snippet = redact(raw[:300].decode("utf-8", "replace"), self.secrets)
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
            if status in (400, 422) and schema_sent and _SCHEMA_REFUSAL.search(snippet):
                raise ProviderError(
                    "client_error",
                    f"HTTP {status}: the server does not take response_format with a JSON schema: {snippet}",
                    retryable=False,
                    status=status,
                    schema_unsupported=True,
                )
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


# how servers word a refused response_format (TGI: "unknown variant `json_schema`", OpenAI: "'response_format'
# of type 'json_schema' is not supported with this model", llama.cpp/Ollama: "response_format ... not supported")
_SCHEMA_REFUSAL = re.compile(r"response_format|json_schema|guided_json", re.IGNORECASE)


def _schema_name(request: LLMRequest) -> str:
    title = request.json_schema.get("title") if request.json_schema else None
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in (title or request.task or "output"))
    return name[:64] or "output"
