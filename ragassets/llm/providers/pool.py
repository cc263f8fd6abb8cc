"""Several OpenAI-compatible servers behind one provider (``llm.base_url`` with more than one URL).

Each request goes to the server with the fewest requests in flight among those with a free slot.
Every server has its own adaptive limit (AIMD, :class:`ragassets.llm.limiter.AdaptiveLimiter`, up to
``max_concurrency``): a 429 or a timeout from one server halves that server's limit only.

A server that keeps failing is set aside: at once when it cannot be reached, after ``fail_after``
failures in a row for 5xx answers, timeouts and broken responses. After a cooldown (doubling from
``cooldown_s`` up to ``max_cooldown_s`` while it keeps failing) it gets one request at a time again; an
answer puts it back in service. The failed request itself is retried by the client (its retry policy)
and goes to another server. When every server is set aside, the one due back first is tried, so a
batch against servers that are all down fails at the pace of the retries, never hangs.

The servers must serve the same model: the cache key names the provider kind (``openai``) and the
model, not the server, so an answer from any of them is the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ragassets.llm.limiter import AdaptiveLimiter
from ragassets.llm.providers.base import Provider
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets.llm.types import Completion, LLMRequest, ProviderError, SamplingParams

log = logging.getLogger("ragassets.llm")

#: failures that say something about the server's health (a 4xx or a 429 does not)
HEALTH_FAILURES = ("connection", "server_error", "timeout", "malformed_response")


def split_base_urls(base_url: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The URLs of ``llm.base_url``: a list, or one string with URLs separated by commas."""
    if base_url is None:
        return []
    parts = base_url if isinstance(base_url, (list, tuple)) else str(base_url).split(",")
    return [p.strip() for p in parts if p and p.strip()]


@dataclass
class ServerState:
    """One server of the pool: its provider, its limit, its health, its counters."""

    provider: OpenAIProvider
    max_concurrency: int
    cooldown_s: float
    limiter: AdaptiveLimiter = field(init=False)
    failures_in_row: int = 0
    aside_until: float = 0.0  # monotonic time it may be tried again; 0: in service
    sent: int = 0
    answered: int = 0
    failed: int = 0
    set_aside: int = 0

    def __post_init__(self) -> None:
        self.limiter = AdaptiveLimiter(self.max_concurrency)

    @property
    def url(self) -> str:
        return self.provider.base_url

    def usable(self, now: float) -> bool:
        """In service with a free slot, or due back from the side with nothing in flight (a probe)."""
        if self.aside_until == 0.0:
            return self.limiter.in_flight < self.limiter.limit
        return now >= self.aside_until and self.limiter.in_flight == 0

    def summary(self) -> dict[str, Any]:
        return {
            "base_url": self.url,
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "set_aside": self.set_aside,
            "in_service": self.aside_until == 0.0,
            "limit": self.limiter.limit,
        }


class OpenAIPool(Provider):
    """See the module docstring. ``servers``: one :class:`OpenAIProvider` per URL, same model."""

    kind = "openai"
    mode = "remote"

    def __init__(
        self,
        servers: list[OpenAIProvider],
        *,
        max_concurrency: int = 16,
        fail_after: int = 3,
        cooldown_s: float = 2.0,
        max_cooldown_s: float = 60.0,
    ) -> None:
        if len(servers) < 2:
            raise ValueError("OpenAIPool needs two servers or more; use OpenAIProvider for one")
        models = {s.model for s in servers}
        if len(models) != 1:
            raise ValueError(f"the servers of one llm role must serve one model, got {sorted(models)}")
        super().__init__(servers[0].model)
        self.fail_after = fail_after
        self.base_cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.servers = [ServerState(s, max_concurrency, cooldown_s) for s in servers]
        self._changed: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"OpenAIPool(model={self.model!r}, base_urls={[s.url for s in self.servers]!r})"

    # -- what the client reads from an openai provider ---------------------------------------------------

    @property
    def n_servers(self) -> int:
        return len(self.servers)

    @property
    def base_url(self) -> str:
        return ", ".join(s.url for s in self.servers)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple({secret for s in self.servers for secret in s.provider.secrets})

    @property
    def structured_output(self) -> str:
        return self.servers[0].provider.structured_output

    @property
    def structured_mode(self) -> str:
        return self.servers[0].provider.structured_mode

    @structured_mode.setter
    def structured_mode(self, mode: str) -> None:
        for s in self.servers:
            s.provider.structured_mode = mode

    @property
    def native_json_schema(self) -> bool:  # type: ignore[override]
        return self.structured_mode == "json_schema"

    def next_structured_mode(self) -> str | None:
        return self.servers[0].provider.next_structured_mode()

    def count_tokens(self, text: str) -> int | None:
        return self.servers[0].provider.count_tokens(text)

    def server_stats(self) -> list[dict[str, Any]]:
        """Per server: requests sent, answered, failed, times set aside, in service now, limit now."""
        return [s.summary() for s in self.servers]

    # -- lifecycle -------------------------------------------------------------------------------------

    async def astart(self) -> None:
        self._changed = asyncio.Event()
        for s in self.servers:
            s.limiter = AdaptiveLimiter(s.max_concurrency)  # limits are per run, like the client's
            await s.provider.astart()

    async def aclose(self) -> None:
        for s in self.servers:
            await s.provider.aclose()

    async def alist_models(self) -> list[dict[str, Any]] | None:
        """Ask every server. One that is down or refuses us is set aside; all failing raises the first
        error (the client reports it). The list of the first server that has one, else None."""
        outcomes = await asyncio.gather(*(s.provider.alist_models() for s in self.servers), return_exceptions=True)
        errors = []
        for s, out in zip(self.servers, outcomes, strict=True):
            if isinstance(out, ProviderError) and (out.reason == "connection" or out.status in (401, 403)):
                errors.append(out)
                self._set_aside(s, f"its /models check failed: {out.message}")
            elif isinstance(out, BaseException) and not isinstance(out, ProviderError):
                raise out
        if len(errors) == len(self.servers):
            first = errors[0]
            raise ProviderError(first.reason, "; ".join(f"{s.url}: {e.message}" for s, e in
                                                        zip(self.servers, errors, strict=True)),
                                retryable=first.retryable, status=first.status)
        for out in outcomes:
            if isinstance(out, list):
                return out
        return None

    # -- requests --------------------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    async def _acquire(self) -> tuple[ServerState, int]:
        """A slot on the usable server with the fewest requests in flight (waits while all are full)."""
        while True:
            now = time.monotonic()
            usable = [s for s in self.servers if s.usable(now)]
            if not usable and all(s.aside_until for s in self.servers):
                # every server is set aside: try the one due back first now, rather than wait
                usable = [min(self.servers, key=lambda s: s.aside_until)]
            if usable:
                server = min(usable, key=lambda s: (s.limiter.in_flight, -s.limiter.limit))
                epoch = await server.limiter.acquire()  # a free slot: returns at once
                return server, epoch
            changed = self._changed or asyncio.Event()
            due = [s.aside_until - now for s in self.servers if s.aside_until > now]
            try:
                await asyncio.wait_for(changed.wait(), timeout=min(due) if due else None)
            except TimeoutError:
                pass

    async def acomplete(self, request: LLMRequest, params: SamplingParams) -> Completion:
        if self._changed is None:
            await self.astart()
        server, epoch = await self._acquire()
        server.sent += 1
        try:
            completion = await server.provider.acomplete(request, params)
        except ProviderError as exc:
            await server.limiter.release(epoch, "overload" if exc.overload else "neutral")
            server.failed += 1
            if exc.reason in HEALTH_FAILURES:
                server.failures_in_row += 1
                if exc.reason == "connection" or server.aside_until or server.failures_in_row >= self.fail_after:
                    self._set_aside(server, f"{exc.reason}: {exc.message}")
            self._notify()
            # this server's limiter has taken the overload; the client's own limit stays as it is
            raise ProviderError(
                exc.reason,
                f"{server.url}: {exc.message}",
                retryable=exc.retryable,
                retry_after=exc.retry_after,
                overload=False,
                status=exc.status,
                schema_unsupported=exc.schema_unsupported,
                refused_format=exc.refused_format,
            ) from None
        except BaseException:
            await server.limiter.release(epoch, "neutral")
            self._notify()
            raise
        await server.limiter.release(epoch, "success")
        server.answered += 1
        server.failures_in_row = 0
        if server.aside_until:
            log.warning(f"llm: {server.url} answers again; back in service")
            server.aside_until = 0.0
            server.cooldown_s = self.base_cooldown_s
        self._notify()
        return completion

    def _set_aside(self, server: ServerState, why: str) -> None:
        if server.aside_until > time.monotonic():
            return  # already aside (several in-flight requests failing together)
        wait = server.cooldown_s
        server.aside_until = time.monotonic() + wait
        server.cooldown_s = min(wait * 2, self.max_cooldown_s)
        server.set_aside += 1
        server.failures_in_row = 0
        others = sum(1 for s in self.servers if s.aside_until == 0.0)
        log.warning(
            f"llm: {server.url} set aside for {wait:g}s ({why[:200]}); {others} of {len(self.servers)} "
            "servers take its requests meanwhile"
        )
