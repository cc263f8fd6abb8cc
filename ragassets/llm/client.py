"""The LLM client: cache-first, concurrent, resumable, accounted.

``LLMClient.run(requests)`` returns one :class:`Result` per request, in order:

1. each request gets its sampling parameters (its own, else the client's defaults) and its cache key;
   identical requests in a batch are sent once;
2. answers already in the :class:`ResponseCache` are returned without sending anything;
3. the rest go to the provider: remote providers with up to ``max_concurrency`` requests in flight,
   adapted by AIMD, transient failures retried with exponential backoff and jitter (``Retry-After``
   honoured; ragassets.retrying); batch providers in chunks. Before a remote provider's first request
   the server is checked once (``GET /v1/models`` where it has one): a server that is down, refuses
   the key or does not serve the model fails the call at once (:class:`ServerUnavailable`) instead of
   every request failing after its retries;
4. every answer is written to the cache the moment it arrives (answers that arrive in the same
   event-loop turn share one commit), so a run killed at any point loses only the requests that
   were in flight; failures are recorded but never cached as answers;
5. counts, tokens, cost and timings go into ``client.stats`` (cumulative) and ``client.last_stats``;
   a progress line goes to ``on_progress`` (or the logger) every ``progress_interval_s`` seconds.

``generate_structured(requests, Model)`` adds JSON-schema output on top (see ragassets.llm.structured).
With an ``openai`` provider in ``structured_output: auto``, a server that refuses the request's
``response_format`` (HTTP 400/422, or a 5xx whose body names ``response_format``) moves the client to
the next mode once (json_schema -> json_object -> prompt, see ragassets.llm.providers.openai): the
refused requests are asked again at once in the new mode, not counted as attempts or failures, and
one warning says so. Cache keys do not depend on the mode (the request, its schema and parameters
do), so answers stay valid across modes and a refusal is never stored.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel

from ragassets.llm.accounting import ProgressCallback, ProgressEvent, ProgressReporter, UsageStats
from ragassets.llm.cache import GroupCommitWriter, ResponseCache, default_cache_path
from ragassets.llm.limiter import AdaptiveLimiter
from ragassets.llm.providers import make_provider
from ragassets.llm.providers.base import Provider
from ragassets.llm.providers.openai import redact
from ragassets.llm.structured import (
    StructuredParseError,
    parse_structured,
    repair_messages,
    schema_instruction,
)
from ragassets.llm.types import (
    Completion,
    LLMRequest,
    ProviderError,
    Result,
    SamplingParams,
    ServerUnavailable,
    StructuredResult,
    Usage,
    cache_key,
)
from ragassets.retrying import RetryPolicy

log = logging.getLogger("ragassets.llm")

M = TypeVar("M", bound=BaseModel)

_DEFAULT_CACHE = object()


@dataclass
class _Item:
    """One distinct request to answer (several input positions may share it)."""

    request: LLMRequest  # as given (its key is computed from this)
    send: LLMRequest  # as sent (schema instruction added for providers that cannot enforce it)
    params: SamplingParams
    key: str


#: requests built, keyed and looked up in the cache per step of a lazy feed; the loop sends between steps
_FEED_STEP = 16


class _Feed:
    """The requests of one ``arun``, consumed a step at a time: each gets its parameters and key,
    repeats of a key share one item, cached answers are taken from the cache, the rest come back
    as items to send. Remembers every position, so results come back in input order."""

    def __init__(self, client: LLMClient, requests: Iterator[LLMRequest], reporter: ProgressReporter) -> None:
        self.client = client
        self.requests = requests
        self.reporter = reporter
        self.total = reporter.total or None
        self.given: list[LLMRequest] = []
        self.positions: list[str] = []
        self.items: dict[str, _Item] = {}
        self.answers: dict[str, Result] = {}
        self.copies: Counter = Counter()
        self.exhausted = False

    def take(self, n: int | None) -> list[_Item]:
        """The next ``n`` requests (None: all that are left): the new items among them that need sending."""
        client = self.client
        kind, model = client.provider.kind, client.provider.model
        fresh: list[_Item] = []
        taken = 0
        for req in self.requests if n is None else itertools.islice(self.requests, n):
            taken += 1
            params = req.params or client.defaults
            key = cache_key(kind, model, req, params)
            self.given.append(req)
            self.positions.append(key)
            self.copies[key] += 1
            if key in self.items:
                if key in self.answers:  # a repeat of a request already answered: counted as it comes
                    self.reporter.add_cached(1)
                continue
            item = _Item(req, client._prepare(req), params, key)
            self.items[key] = item
            fresh.append(item)
        if n is None or taken < n:
            self.exhausted = True
        self.reporter.total = max(self.reporter.total, len(self.positions))
        if fresh and client.cache is not None:
            for key, hit in client.cache.get_many([i.key for i in fresh]).items():
                self.answers[key] = Result(
                    request=self.items[key].request,
                    key=key,
                    provider=hit.provider,
                    model=hit.model,
                    text=hit.text,
                    usage=Usage(hit.input_tokens, hit.output_tokens, (hit.token_source or "none")),  # type: ignore[arg-type]
                    cached=True,
                    finish_reason=hit.finish_reason,
                )
                self.reporter.add_cached(self.copies[key])
            fresh = [i for i in fresh if i.key not in self.answers]
        return fresh


class LLMClient:
    """See the module docstring. Build with :meth:`from_settings` in stage code.

    provider: a :class:`Provider`; cache: a :class:`ResponseCache` or None (no caching);
    role: ``llm`` or ``small_llm`` (accounting label); defaults: sampling parameters for requests
    without their own; max_concurrency/max_retries/backoff_*: remote providers only;
    price_*_per_mtok: USD per million tokens; logger: anything with ``.info`` (a logging.Logger or
    Dagster's ``context.log``); progress_interval_s: seconds between progress lines.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        cache: ResponseCache | None = None,
        role: str = "llm",
        defaults: SamplingParams | None = None,
        max_concurrency: int = 16,
        max_retries: int = 4,
        max_repairs: int = 2,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        price_input_per_mtok: float = 0.0,
        price_output_per_mtok: float = 0.0,
        logger: Any | None = None,
        progress_interval_s: float = 5.0,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.role = role
        self.defaults = defaults or SamplingParams()
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.max_repairs = max_repairs
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.price_input_per_mtok = price_input_per_mtok
        self.price_output_per_mtok = price_output_per_mtok
        self.logger = logger or log
        self.progress_interval_s = progress_interval_s
        self.stats = self._new_stats()
        self.last_stats = self._new_stats()
        self.last_limiter: AdaptiveLimiter | None = None
        self.server_checked = False  # GET /models asked (once per client, before the first request)
        self.served_models: list[str] | None = None  # what the server said it serves, if it said

    @property
    def capacity(self) -> int:
        """Requests in flight at most: ``max_concurrency`` per server (a pool limits each server itself)."""
        return self.max_concurrency * getattr(self.provider, "n_servers", 1)

    @property
    def retry_policy(self) -> RetryPolicy:
        """Retries of transient failures (429, 5xx, timeouts, dropped connections) of remote providers."""
        return RetryPolicy(max_retries=self.max_retries, base_s=self.backoff_base_s, cap_s=self.backoff_cap_s)

    @property
    def structured_mode(self) -> str | None:
        """How structured requests go out now (json_schema | json_object | prompt), for openai
        providers; None for others."""
        return getattr(self.provider, "structured_mode", None)

    def __repr__(self) -> str:
        return f"LLMClient(role={self.role!r}, provider={self.provider!r}, cache={self.cache!r})"

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        cache: ResponseCache | None | object = _DEFAULT_CACHE,
        role: str = "llm",
        api_key: str | None = None,
        environ: dict[str, str] | None = None,
        logger: Any | None = None,
        provider: Provider | None = None,
        **kwargs: Any,
    ) -> LLMClient:
        """A client for an ``LlmSettings`` block. ``cache`` defaults to ``<data root>/llm_cache.sqlite``
        (pass None for none); ``api_key`` (e.g. from a Dagster EnvVar) wins over ``api_key_env``."""
        if cache is _DEFAULT_CACHE:
            cache = ResponseCache(default_cache_path())
        prov = provider or make_provider(settings, api_key=api_key, environ=environ)
        defaults = SamplingParams(
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            top_p=getattr(settings, "top_p", 1.0),
        )
        return cls(
            prov,
            cache=cache,  # type: ignore[arg-type]
            role=role,
            defaults=defaults,
            max_concurrency=settings.max_concurrency,
            max_retries=settings.max_retries,
            max_repairs=getattr(settings, "max_repairs", 2),
            price_input_per_mtok=settings.price_input_per_mtok,
            price_output_per_mtok=settings.price_output_per_mtok,
            logger=logger,
            **kwargs,
        )

    # -- helpers ------------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self.provider.model

    def sampling(self, **overrides: Any) -> SamplingParams:
        """The client's default sampling parameters with ``overrides`` (None values ignored), for
        per-stage settings such as ``questions.temperature``."""
        return replace(self.defaults, **{k: v for k, v in overrides.items() if v is not None})

    def _new_stats(self) -> UsageStats:
        return UsageStats(
            provider=self.provider.kind,
            model=self.provider.model,
            role=self.role,
            price_input_per_mtok=self.price_input_per_mtok,
            price_output_per_mtok=self.price_output_per_mtok,
        )

    def reset_stats(self) -> None:
        self.stats = self._new_stats()

    def key(self, request: LLMRequest) -> str:
        """The cache key this client gives ``request``."""
        return cache_key(self.provider.kind, self.provider.model, request, request.params or self.defaults)

    def _secrets(self) -> tuple[str, ...]:
        return tuple(getattr(self.provider, "secrets", ()) or ())

    def _prepare(self, request: LLMRequest) -> LLMRequest:
        if request.json_schema is None or self.provider.native_json_schema:
            return request
        msgs = [dict(m) for m in request.messages]
        last_user = (
            max(i for i, m in enumerate(msgs) if m["role"] == "user")
            if any(m["role"] == "user" for m in msgs)
            else None
        )
        instruction = schema_instruction(request.json_schema)
        if last_user is None:
            msgs.append({"role": "user", "content": instruction})
        else:
            msgs[last_user]["content"] = msgs[last_user]["content"].rstrip() + "\n\n" + instruction
        return request.with_messages(msgs)

    def _progress_callback(self, on_progress: ProgressCallback | None) -> ProgressCallback:
        if on_progress is not None:
            return on_progress
        logger = self.logger

        def _log(event: ProgressEvent) -> None:
            logger.info(event.line())

        return _log

    # -- running --------------------------------------------------------------------------------------

    def run(
        self,
        requests: Iterable[LLMRequest],
        *,
        on_progress: ProgressCallback | None = None,
        label: str | None = None,
        total: int | None = None,
    ) -> list[Result]:
        """Answer ``requests`` (see the module docstring). Blocking; safe to call from code that
        already runs an event loop (it then uses a thread of its own).

        ``requests`` may be a lazy iterable (a generator building prompts): remote providers then
        start sending the first requests while the rest are still being built and keyed. ``total``
        gives the progress line its denominator when ``requests`` has no ``len``."""

        def run_in_new_loop() -> list[Result]:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                return runner.run(self.arun(requests, on_progress=on_progress, label=label, total=total))

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_in_new_loop()
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = run_in_new_loop()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=target, name="ragassets-llm", daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    async def arun(
        self,
        requests: Iterable[LLMRequest],
        *,
        on_progress: ProgressCallback | None = None,
        label: str | None = None,
        total: int | None = None,
    ) -> list[Result]:
        started = time.monotonic()
        if total is None and isinstance(requests, Sized):
            total = len(requests)
        if label is None and isinstance(requests, Sequence):
            label = f"{self.role}[{_tasks_label(requests)}]"
        stats = self._new_stats()
        reporter = ProgressReporter(
            total or 0,
            self._progress_callback(on_progress),
            label=label or self.role,
            interval_s=self.progress_interval_s,
        )
        feed = _Feed(self, iter(requests), reporter)
        sent = False
        if self.provider.mode == "remote":
            # key and look up the first requests, check the server, then send while the feed builds the rest
            todo = feed.take(self.capacity)
            while not todo and not feed.exhausted:
                todo = feed.take(_FEED_STEP)
            if todo:
                try:
                    await self._check_server()
                except ServerUnavailable as exc:
                    feed.take(None)
                    self._count_unsent(stats, feed.positions, feed.answers, exc.reason, started)
                    raise
                await self._run_remote(todo, feed)
                sent = True
        else:
            todo = feed.take(None)
            if todo:
                self._run_batch(todo, feed.answers, reporter, feed.copies)
        reporter.maybe_report(force=True)

        answers = feed.answers
        results: list[Result] = []
        seen: set[str] = set()
        for req, key in zip(feed.given, feed.positions, strict=True):
            res = answers[key]
            duplicate = key in seen  # a repeat within the batch: sent once, paid once
            seen.add(key)
            if duplicate and res.ok:
                res = replace(res, cached=True, attempts=0)
            if res.request is not req:
                res = replace(res, request=req)
            results.append(res)
            if duplicate and not res.ok:
                stats.requests += 1
                stats.failures[res.error or "unknown"] += 1
            else:
                stats.record(res)
        stats.wall_s = time.monotonic() - started
        if self.last_limiter is not None and sent:
            stats.min_concurrency = self.last_limiter.stats.min_limit
            stats.max_in_flight = self.last_limiter.stats.max_in_flight
        self.last_stats = stats
        self.stats.merge(stats)
        return results

    def _store(
        self,
        item: _Item,
        outcome: Completion | ProviderError,
        attempts: int,
        latency: float,
        writer: GroupCommitWriter | None = None,
    ) -> Result:
        """Turn a provider outcome into a Result and write it to the cache at once (through
        ``writer``, when given: committed with the other answers of the same event-loop turn)."""
        kind, model = self.provider.kind, self.provider.model
        if isinstance(outcome, Completion) and not outcome.text.strip():
            outcome = ProviderError(
                "empty_output", f"the model returned no text (finish_reason={outcome.finish_reason})"
            )
        if isinstance(outcome, ProviderError):
            detail = redact(outcome.message, self._secrets())
            if self.cache is not None:
                self.cache.record_error(
                    item.key,
                    reason=outcome.reason,
                    detail=detail,
                    provider=kind,
                    model=model,
                    task=item.request.task,
                    attempts=attempts,
                )
            return Result(
                request=item.request,
                key=item.key,
                provider=kind,
                model=model,
                error=outcome.reason,
                error_detail=detail,
                attempts=attempts,
                latency_s=latency,
            )
        if self.cache is not None:
            (writer.put if writer is not None else self.cache.put)(
                key=item.key,
                provider=kind,
                model=model,
                text=outcome.text,
                task=item.request.task,
                input_tokens=outcome.usage.input_tokens,
                output_tokens=outcome.usage.output_tokens,
                token_source=outcome.usage.source,
                finish_reason=outcome.finish_reason,
            )
        return Result(
            request=item.request,
            key=item.key,
            provider=kind,
            model=model,
            text=outcome.text,
            usage=outcome.usage,
            attempts=attempts,
            latency_s=latency,
            finish_reason=outcome.finish_reason,
        )

    @staticmethod
    def _report(reporter: ProgressReporter, result: Result, copies: Counter) -> None:
        # a request repeated in the batch counts once per position
        reporter.add(result)
        if copies[result.key] > 1:
            reporter.add_cached(copies[result.key] - 1)

    def _run_batch(
        self, todo: list[_Item], answers: dict[str, Result], reporter: ProgressReporter, copies: Counter
    ) -> None:
        size = max(1, self.provider.batch_size)
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            t0 = time.monotonic()
            try:
                outcomes = self.provider.complete_batch([i.send for i in chunk], [i.params for i in chunk])
            except Exception as exc:  # noqa: BLE001 - an engine failure fails this chunk, not the run
                err = ProviderError(
                    "provider_error", f"{self.provider.kind} failed: {type(exc).__name__}: {exc}"
                )
                outcomes = [err] * len(chunk)
            if len(outcomes) != len(chunk):
                err = ProviderError(
                    "provider_error",
                    f"{self.provider.kind} returned {len(outcomes)} answers for {len(chunk)} requests",
                )
                outcomes = [err] * len(chunk)
            latency = (time.monotonic() - t0) / len(chunk)
            for item, outcome in zip(chunk, outcomes, strict=True):
                res = self._store(item, outcome, 1, latency)
                answers[item.key] = res
                self._report(reporter, res, copies)

    async def _run_remote(self, todo: list[_Item], feed: _Feed) -> None:
        capacity = self.capacity
        limiter = AdaptiveLimiter(capacity)
        self.last_limiter = limiter
        reporter, answers, copies = feed.reporter, feed.answers, feed.copies
        queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)
        # more workers than slots, so requests sleeping in backoff do not leave slots idle
        n_workers = capacity * 2 if feed.total is None else max(1, min(feed.total, capacity * 2))

        async def worker() -> None:
            while True:
                item = await queue.get()
                if item is None:
                    return
                res = await self._one(item, limiter, writer)
                answers[item.key] = res
                reporter.concurrency = limiter.limit
                self._report(reporter, res, copies)

        async def producer() -> None:
            """The rest of the feed, a step at a time, yielding to the workers between steps."""
            try:
                while not feed.exhausted:
                    await asyncio.sleep(0)
                    for item in feed.take(_FEED_STEP):
                        queue.put_nowait(item)
            finally:
                for _ in range(n_workers):
                    queue.put_nowait(None)

        async def ticker() -> None:
            while True:
                await asyncio.sleep(min(1.0, self.progress_interval_s))
                reporter.concurrency = limiter.limit
                reporter.maybe_report()

        writer = GroupCommitWriter(self.cache, asyncio.get_running_loop()) if self.cache is not None else None
        await self.provider.astart()
        tick = asyncio.create_task(ticker())
        try:
            await asyncio.gather(producer(), *(worker() for _ in range(n_workers)))
        finally:
            tick.cancel()
            await self.provider.aclose()
            if writer is not None:
                writer.close()

    async def _one(
        self, item: _Item, limiter: AdaptiveLimiter, writer: GroupCommitWriter | None = None
    ) -> Result:
        """One request to its end: answered, or failed with its reason after the retries it deserves."""
        started = time.monotonic()
        attempts = 0

        async def attempt(n: int) -> Completion:
            nonlocal attempts
            attempts = n
            return await self._attempt(item, limiter)

        try:
            completion = await self.retry_policy.acall(attempt)
        except ProviderError as exc:
            if exc.retryable:
                exc = ProviderError(exc.reason, f"{exc.message} (gave up after {attempts} attempts)")
            return self._store(item, exc, attempts, time.monotonic() - started, writer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a provider bug fails this request, not the batch
            err = ProviderError("provider_error", f"{type(exc).__name__}: {exc}")
            return self._store(item, err, attempts, time.monotonic() - started, writer)
        return self._store(item, completion, attempts, time.monotonic() - started, writer)

    async def _attempt(self, item: _Item, limiter: AdaptiveLimiter) -> Completion:
        """One attempt: a slot, the request in the current structured-output mode, the slot back.
        A refused ``response_format`` is not an attempt: in ``auto`` the request goes again at once in
        the next mode (:meth:`_format_refused`)."""
        while True:
            epoch = await limiter.acquire()
            try:
                # prepared for the mode of this moment (no await between this and the provider reading it)
                send = self._prepare(item.request)
                item.send = send
                completion = await self.provider.acomplete(send, item.params)
            except ProviderError as exc:
                await limiter.release(epoch, "overload" if exc.overload else "neutral")
                if exc.schema_unsupported and self._format_refused(exc):
                    continue
                raise
            except BaseException:
                await limiter.release(epoch, "neutral")
                raise
            await limiter.release(epoch, "success")
            return completion

    def _format_refused(self, exc: ProviderError) -> bool:
        """The server refused a request's ``response_format``. True when the request should go again:
        in ``auto``, the first refusal of a mode moves this client to the next mode (one warning);
        requests refused in a mode already left behind just go again. False with a fixed mode (the
        refusal is the request's failure) or when no mode is left."""
        refused = exc.refused_format
        current = self.structured_mode
        if getattr(self.provider, "structured_output", "auto") != "auto":
            return False
        if refused != current:
            return True  # another request saw this refusal first; the client has moved on already
        nxt = self.provider.next_structured_mode()  # type: ignore[attr-defined]
        if nxt is None:
            return False
        self.provider.structured_mode = nxt  # type: ignore[attr-defined]
        how = {
            "json_object": 'response_format {"type": "json_object", "schema": ...} with the schema in the prompt too',
            "prompt": "the schema in the prompt (no response_format)",
        }[nxt]
        warn = getattr(self.logger, "warning", self.logger.info)
        warn(
            f"{self.role}: the server refused response_format of type {refused} "
            f"({redact(exc.message, self._secrets())[:300]}). Asking again with {how}; answers are "
            f"parsed and repaired as usual. Set {self.role}.structured_output: {nxt} in corpus.yaml to "
            "skip the refused try."
        )
        return True

    async def _check_server(self) -> None:
        """Before the first request: ``GET /models``, where the server has it. Raises
        :class:`ServerUnavailable` when the server is down, refuses the key, or does not serve the
        configured model (the message lists what it does serve); a server without the endpoint, or
        one failing on it, is let through (its requests say more)."""
        list_models = getattr(self.provider, "alist_models", None)
        if self.server_checked or list_models is None:
            return
        where = getattr(self.provider, "base_url", "the server")
        try:
            models = await list_models()
        except ProviderError as exc:
            detail = redact(exc.message, self._secrets())
            if exc.reason == "connection":
                raise ServerUnavailable(
                    "connection",
                    f"{self.role}: the server at {where} is down or unreachable ({detail}). Start it, or "
                    f"fix {self.role}.base_url in corpus.yaml; nothing was sent.",
                ) from None
            if exc.status in (401, 403):
                raise ServerUnavailable(
                    "client_error",
                    f"{self.role}: the server at {where} is up but refuses us ({detail}): check "
                    f"{self.role}.api_key_env (the variable must hold the server's key); nothing was sent.",
                ) from None
            warn = getattr(self.logger, "warning", self.logger.info)
            warn(f"{self.role}: {where}/models failed ({detail}); going on without checking the model name")
            self.server_checked = True
            return
        self.server_checked = True
        if models is None:
            return
        names = [m["id"] for m in models]
        self.served_models = names
        wanted = self.provider.model
        if wanted in names or f"{wanted}:latest" in names:  # Ollama serves "name" as "name:latest"
            return
        if len(models) == 1 and models[0].get("owned_by") == "llamacpp":
            # a single-model llama-server answers whatever model name a request carries
            return
        listed = ", ".join(names[:20]) + (f" (and {len(names) - 20} more)" if len(names) > 20 else "")
        raise ServerUnavailable(
            "model_not_served",
            f"{self.role}: the server at {where} does not serve model {wanted!r}; it serves: "
            f"{listed or '(none)'}. Set {self.role}.model in corpus.yaml to one of these; nothing was sent.",
        )

    def _count_unsent(
        self, stats: Any, positions: list[str], answers: dict[str, Result], reason: str, started: float
    ) -> None:
        """Account for a batch stopped before anything was sent: each request not answered from the
        cache counts as failed for ``reason``, so the stage's usage row tells what happened."""
        for key in positions:
            if key in answers:
                stats.record(answers[key])
            else:
                stats.requests += 1
                stats.failures[reason] += 1
        stats.wall_s = time.monotonic() - started
        self.last_stats = stats
        self.stats.merge(stats)

    # -- structured output ------------------------------------------------------------------------------

    def generate_structured(
        self,
        requests: Iterable[LLMRequest],
        model: type[M],
        *,
        max_repairs: int | None = None,
        on_progress: ProgressCallback | None = None,
        label: str | None = None,
    ) -> list[StructuredResult]:
        """Answers parsed into ``model``, one :class:`StructuredResult` per request, in order.

        Requests without a ``json_schema`` get ``model``'s. An answer that does not parse or
        validate is asked again with the error appended, up to ``max_repairs`` times (default:
        the client's). What still fails comes back with ``error`` = ``parse_error`` or
        ``schema_mismatch`` (or the transport failure) and the raw text, and is counted in stats.
        An answer cut off at ``max_tokens`` (``finish_reason == "length"``) that does not parse is not
        repaired (the same limit would cut it again): ``error`` = ``truncated``, with the advice to
        raise ``max_tokens``. ``requests`` may be a generator: sending starts while it still builds
        (see :meth:`run`).
        """
        repairs_left = self.max_repairs if max_repairs is None else max_repairs
        schema = model.model_json_schema()
        total = len(requests) if isinstance(requests, Sized) else None
        given: list[LLMRequest] = []  # the requests as consumed (``requests`` may be a generator)
        reqs: list[LLMRequest] = []  # the same with the schema

        def first_round() -> Iterator[LLMRequest]:
            for r in requests:
                given.append(r)
                reqs.append(r if r.json_schema is not None else replace(r, json_schema=schema))
                yield reqs[-1]

        if label is None and isinstance(requests, Sequence):
            label = f"{self.role}[{_tasks_label(requests)}]"
        merged = self._new_stats()
        results = self.run(first_round(), on_progress=on_progress, label=label, total=total)
        requests = given
        out: list[StructuredResult | None] = [None] * len(reqs)
        history: list[list[Result]] = [[] for _ in reqs]
        current: list[tuple[int, LLMRequest]] = list(enumerate(reqs))
        round_no = 0
        while current:
            if round_no:
                results = self.run(
                    [r for _, r in current],
                    on_progress=on_progress,
                    label=(label or f"{self.role}[{_tasks_label(reqs)}]") + f" repair {round_no}",
                )
            merged.merge(self.last_stats)
            retry: list[tuple[int, LLMRequest]] = []
            for (i, req), res in zip(current, results, strict=True):
                history[i].append(res)
                base = {
                    "request": requests[i],
                    "provider": res.provider,
                    "model": res.model,
                    "repairs": round_no,
                    "results": history[i],
                }
                if not res.ok:
                    out[i] = StructuredResult(
                        value=None, raw=res.text, error=res.error, error_detail=res.error_detail, **base
                    )
                    continue
                try:
                    value = parse_structured(res.text or "", model)
                except StructuredParseError as exc:
                    if res.finish_reason == "length":
                        # cut off by max_tokens: asking again with the same limit gets the same cut
                        limit = (req.params or self.defaults).max_tokens
                        out[i] = StructuredResult(
                            value=None,
                            raw=res.text,
                            error="truncated",
                            error_detail=(
                                f"the answer stopped at max_tokens ({limit}) before its JSON was complete "
                                f"({exc.message}); raise {self.role}.max_tokens in corpus.yaml"
                            ),
                            **base,
                        )
                        self.stats.record_structured_failure("truncated")
                        merged.record_structured_failure("truncated")
                        continue
                    if round_no < repairs_left:
                        retry.append(
                            (
                                i,
                                req.with_messages(
                                    repair_messages(
                                        req.messages, res.text or "", exc.message, reqs[i].json_schema
                                    )
                                ),
                            )
                        )
                    else:
                        out[i] = StructuredResult(
                            value=None, raw=res.text, error=exc.reason, error_detail=exc.message, **base
                        )
                        self.stats.record_structured_failure(exc.reason)
                        merged.record_structured_failure(exc.reason)
                    continue
                out[i] = StructuredResult(value=value, raw=res.text, **base)
            self.stats.repairs += len(retry)
            merged.repairs += len(retry)
            current = retry
            round_no += 1
        self.last_stats = merged
        return [r for r in out if r is not None]


def role_settings(settings: Any, role: str = "llm", base: Any | None = None) -> Any:
    """The effective ``LlmSettings`` of a role from a corpus ``Settings``.

    Layers, weakest first: ``base`` (e.g. a Dagster resource's config; default: the defaults),
    then for ``small_llm`` the keys the ``llm`` block sets (so one server configured for ``llm``
    serves both roles), then the keys the role's own block sets. Only keys a block sets explicitly
    (in corpus.yaml, RAGASSETS_* variables or run config) count, so a default never masks a value.
    """
    from ragassets.settings import LlmSettings

    if role not in ("llm", "small_llm"):
        raise ValueError(f"unknown LLM role {role!r}; use 'llm' or 'small_llm'")
    resolved = base if base is not None else LlmSettings()
    blocks = [settings.llm, settings.small_llm] if role == "small_llm" else [settings.llm]
    for block in blocks:
        resolved = resolved.model_copy(update={k: getattr(block, k) for k in block.model_fields_set})
    return resolved


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop when installed (less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _tasks_label(requests: Iterable[LLMRequest]) -> str:
    tasks = sorted({r.task for r in requests})
    return ",".join(tasks[:3]) + ("..." if len(tasks) > 3 else "") if tasks else "-"


def summarize_failures(results: Sequence[Result | StructuredResult], limit: int = 5) -> dict[str, Any]:
    """Counts by reason plus a few example details, for stage metadata."""
    counts: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for r in results:
        if r.error:
            counts[r.error] = counts.get(r.error, 0) + 1
            ex = examples.setdefault(r.error, [])
            if len(ex) < limit and r.error_detail:
                ex.append(r.error_detail[:300])
    return {"failures_by_reason": counts, "failure_examples": examples}


ProgressFn = Callable[[ProgressEvent], None]
