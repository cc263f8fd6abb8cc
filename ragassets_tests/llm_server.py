"""An OpenAI-compatible test server with latency, capacity and fault injection.

For tests and benchmarks of anything that talks to an LLM or embedding endpoint; no model inside.
It serves, on 127.0.0.1:

- ``POST /v1/chat/completions``: a deterministic reply (a function of the request body, so the
  same request always gets the same answer) with ``usage``; when the request asks for
  ``response_format`` with a JSON schema, the reply is JSON matching that schema;
- ``POST /v1/embeddings``: deterministic unit vectors (``embedding_dim``, default 384) with usage;
- ``GET /v1/models``: the ``models`` it was given (404 without: a server that lacks the endpoint;
  then it answers any model name); ``GET /stats`` (counters); ``POST /control`` (change latency,
  capacity, faults, flavor while running); ``POST /reset`` (zero the counters).

Behaviour knobs: ``latency_s`` per request; ``capacity``: requests in flight beyond it get 429 with
``Retry-After``; ``faults``: probabilities of injected failures on chat requests, by name:

==============  =====================================================================
``500``         HTTP 500 with a JSON error
``429``         HTTP 429 with ``Retry-After: retry_after_s``
``timeout``     the answer comes only after ``timeout_sleep_s`` (clients time out first)
``malformed``   HTTP 200 whose body is not valid JSON
``truncated``   HTTP 200 whose body stops half-way and the connection closes
``bad_json``    HTTP 200, a valid envelope whose *content* is broken JSON (for repair loops)
==============  =====================================================================

``api_key``: when set, requests without ``Authorization: Bearer <api_key>`` get 401 (``/v1/models``
too). ``models``: the names served; a chat request for another name gets 404 as from vLLM.

``flavor``: how ``response_format`` and model names are taken, as by the servers people run:

====================  ============================================================================
``vllm`` (default)    ``json_schema`` and ``json_object`` (the latter: any JSON object; no schema)
``openai``            the same
``ollama``            the same; no key; ``/v1/models`` lists ``name:latest``, chat takes ``name``
``llama-server``      ``json_schema``, and ``json_object`` with a ``schema`` field (enforced);
                      ``/v1/models`` lists one model ``owned_by: llamacpp``; any model name answered
``llama-cpp-python``  ``json_object`` with a ``schema`` field only; ``json_schema`` gets HTTP 500 with
                      a validation error naming ``response_format.type``; any model name answered
``tgi``               no ``response_format`` at all: 422 "unknown variant" (schema in the prompt)
====================  ============================================================================

``reject_response_format=True`` is the older name of ``flavor="tgi"``.

Use in a test (a thread in the test process)::

    with LLMTestServer(latency_s=0.05, capacity=8, faults={"500": 0.1}) as srv:
        client = ...(base_url=srv.base_url)
        srv.stats()["chat_requests"]

or as a separate process (for benchmarks, so the server has its own core)::

    with LLMTestServer.subprocess(latency_s=0.1, capacity=64) as srv: ...

    python -m ragassets_tests.llm_server --latency 0.1 --capacity 64   # prints "LISTENING <port>"
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import math
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

import httpx
from aiohttp import web

FAULTS = ("500", "429", "timeout", "malformed", "truncated", "bad_json")
FLAVORS = ("vllm", "openai", "ollama", "llama-server", "llama-cpp-python", "tgi")

Responder = Callable[[dict[str, Any]], str]


def body_key(body: dict[str, Any]) -> str:
    """Identity of a chat request as the server sees it: a hash of its messages."""
    blob = json.dumps(body.get("messages"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def _schema_instance(schema: dict[str, Any], seed: str, defs: dict[str, Any] | None = None) -> Any:
    """A deterministic value matching a simple JSON schema (objects, arrays, enums, scalars)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return _schema_instance(defs[schema["$ref"].split("/")[-1]], seed, defs)
    if "enum" in schema:
        return schema["enum"][int(seed[:4], 16) % len(schema["enum"])]
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            return _schema_instance(schema[combo][0], seed, defs)
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0]
    if t == "object" or "properties" in schema:
        return {
            k: _schema_instance(v, hashlib.sha256((seed + k).encode()).hexdigest(), defs)
            for k, v in schema.get("properties", {}).items()
        }
    if t == "array":
        n = max(int(schema.get("minItems", 0)), 1)
        return [
            _schema_instance(schema.get("items", {}), hashlib.sha256(f"{seed}{i}".encode()).hexdigest(), defs)
            for i in range(n)
        ]
    if t == "string":
        return f"s-{seed[:8]}"
    if t == "integer":
        lo, hi = int(schema.get("minimum", 0)), int(schema.get("maximum", 100))
        return lo + int(seed[:6], 16) % (hi - lo + 1)
    if t == "number":
        lo, hi = float(schema.get("minimum", 0)), float(schema.get("maximum", 1))
        return lo + (int(seed[:6], 16) % 1000) / 1000 * (hi - lo)
    if t == "boolean":
        return int(seed[:2], 16) % 2 == 0
    return None


def enforced_schema(body: dict[str, Any], flavor: str = "vllm") -> dict[str, Any] | None:
    """The JSON schema the server would constrain its answer to, as ``flavor`` reads ``response_format``:
    ``json_schema.schema`` everywhere; a ``json_object``'s ``schema`` field only on llama.cpp servers."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    if fmt.get("type") == "json_object" and flavor in ("llama-server", "llama-cpp-python"):
        return fmt.get("schema")
    return None


def default_responder(body: dict[str, Any], flavor: str = "vllm") -> str:
    """Same body, same reply. JSON matching the schema when ``response_format`` enforces one, a JSON
    object when it asks for ``json_object`` without a schema the server reads, else text."""
    key = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
    schema = enforced_schema(body, flavor)
    if schema:
        return json.dumps(_schema_instance(schema, key))
    if (body.get("response_format") or {}).get("type") == "json_object":
        return json.dumps({"reply": key[:16]})
    return f"reply {key[:16]} to {len(body.get('messages') or [])} message(s)"


def refuse_response_format(body: dict[str, Any], flavor: str) -> tuple[int, dict[str, Any]] | None:
    """The (status, body) with which ``flavor`` refuses the request's ``response_format``, or None.
    The bodies are worded as those servers word them."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if flavor == "tgi":
        message = (
            "Failed to deserialize the JSON body into the target type: response_format: unknown variant "
            f"`{kind}`, expected `json` or `regex` at line 1 column 120"
        )
        return 422, {"error": message, "error_type": "validation"}
    if flavor == "llama-cpp-python" and kind not in ("text", "json_object"):
        # its route handler turns a request validation error into HTTP 500
        message = (
            "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be "
            f"'text' or 'json_object' [type=literal_error, input_value='{kind}', input_type=str]"
        )
        return 500, {
            "error": {"message": message, "type": "internal_server_error", "param": None, "code": None}
        }
    return None


def embed_text(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for ``text``."""
    out: list[float] = []
    counter = 0
    while len(out) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        out.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    vec = out[:dim]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


class _State:
    def __init__(
        self,
        *,
        latency_s: float,
        capacity: int | None,
        faults: dict[str, float],
        seed: int,
        timeout_sleep_s: float,
        retry_after_s: float,
        api_key: str | None,
        embedding_dim: int,
        responder: Responder | None,
        reject_response_format: bool = False,
        flavor: str = "vllm",
        models: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; known: {', '.join(FLAVORS)}")
        self.latency_s = latency_s
        self.capacity = capacity
        self.faults = dict(faults)
        self.rng = random.Random(seed)
        self.timeout_sleep_s = timeout_sleep_s
        self.retry_after_s = retry_after_s
        self.api_key = api_key
        self.embedding_dim = embedding_dim
        self.responder = responder
        self.flavor = "tgi" if reject_response_format else flavor
        self.models = list(models) if models is not None else None
        self.reset()

    @property
    def reject_response_format(self) -> bool:
        return self.flavor == "tgi"

    @reject_response_format.setter
    def reject_response_format(self, value: bool) -> None:
        self.flavor = "tgi" if value else "vllm"

    def respond(self, body: dict[str, Any]) -> str:
        return self.responder(body) if self.responder is not None else default_responder(body, self.flavor)

    def listed_models(self) -> list[dict[str, Any]]:
        """``/v1/models`` entries as ``flavor`` lists them."""
        names = self.models or []
        if self.flavor == "ollama":
            names = [n if ":" in n else f"{n}:latest" for n in names]
        owner = {"llama-server": "llamacpp", "llama-cpp-python": "me", "ollama": "library"}.get(
            self.flavor, "vllm"
        )
        return [{"id": n, "object": "model", "owned_by": owner} for n in names]

    def serves(self, model: Any) -> bool:
        """Whether a chat request for ``model`` is answered (llama.cpp servers answer any name)."""
        if self.models is None or self.flavor in ("llama-server", "llama-cpp-python"):
            return True
        ids = {m["id"] for m in self.listed_models()}
        return model in ids or f"{model}:latest" in ids

    def reset(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.counters: Counter = Counter()
        self.keys: Counter = Counter()  # chat requests received, by body_key
        self.ok_keys: Counter = Counter()  # chat answers delivered, by body_key
        self.auth_seen: set[str] = set()
        self.bodies: collections.deque[dict[str, Any]] = collections.deque(maxlen=5000)  # last chat bodies
        self.in_flight_samples: list[tuple[float, int]] = []

    def pick_fault(self) -> str | None:
        x = self.rng.random()
        acc = 0.0
        for name in FAULTS:
            acc += self.faults.get(name, 0.0)
            if x < acc:
                return name
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "counters": dict(self.counters),
            "chat_requests": self.counters["chat_requests"],
            "chat_ok": self.counters["chat_ok"],
            "embedding_requests": self.counters["embedding_requests"],
            "keys": dict(self.keys),
            "ok_keys": dict(self.ok_keys),
            "auth_headers": sorted(self.auth_seen),
            "config": {
                "latency_s": self.latency_s,
                "capacity": self.capacity,
                "faults": self.faults,
                "flavor": self.flavor,
                "models": self.models,
            },
        }


def _make_app(state: _State) -> web.Application:
    def check_auth(request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        if header:
            state.auth_seen.add(header)
        if state.api_key and header != f"Bearer {state.api_key}":
            return web.json_response({"error": {"message": "invalid api key", "type": "auth"}}, status=401)
        return None

    async def chat(request: web.Request) -> web.StreamResponse:
        state.counters["chat_requests"] += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        state.in_flight_samples.append((time.monotonic(), state.in_flight))
        try:
            denied = check_auth(request)
            if denied is not None:
                state.counters["auth_denied"] += 1
                return denied
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
            key = body_key(body)
            state.keys[key] += 1
            state.bodies.append(body)
            refusal = refuse_response_format(body, state.flavor)
            if refusal is not None:
                state.counters["response_format_refused"] += 1
                return web.json_response(refusal[1], status=refusal[0])
            if not state.serves(body.get("model")):
                state.counters["model_not_found"] += 1
                message = f"The model `{body.get('model')}` does not exist."
                return web.json_response(
                    {"object": "error", "message": message, "type": "NotFoundError", "code": 404}, status=404
                )
            if state.capacity is not None and state.in_flight > state.capacity:
                state.counters["capacity_429"] += 1
                return web.json_response(
                    {"error": {"message": "server at capacity", "type": "rate_limit"}},
                    status=429,
                    headers={"Retry-After": f"{state.retry_after_s:g}"},
                )
            fault = state.pick_fault()
            if fault:
                state.counters[f"fault_{fault}"] += 1
            if fault == "timeout":
                await asyncio.sleep(state.timeout_sleep_s)
            elif state.latency_s > 0:
                await asyncio.sleep(state.latency_s)
            if fault == "500":
                return web.json_response({"error": {"message": "injected server error"}}, status=500)
            if fault == "429":
                return web.json_response(
                    {"error": {"message": "injected rate limit"}},
                    status=429,
                    headers={"Retry-After": f"{state.retry_after_s:g}"},
                )
            content = state.respond(body)
            if fault == "bad_json":
                content = 'Sure! Here is the JSON you asked for: {"oops": ' + content[:20]
            # like a real server, stop at max_tokens (a token is a word here) and say so
            finish_reason = "stop"
            max_tokens = body.get("max_tokens")
            if isinstance(max_tokens, int) and len(content.split()) > max_tokens:
                content = " ".join(content.split()[:max_tokens])
                finish_reason = "length"
            messages = body.get("messages") or []
            payload = {
                "id": f"chatcmpl-{key}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in messages),
                    "completion_tokens": len(content.split()),
                    "total_tokens": 0,
                },
            }
            payload["usage"]["total_tokens"] = (
                payload["usage"]["prompt_tokens"] + payload["usage"]["completion_tokens"]
            )
            raw = json.dumps(payload).encode()
            if fault == "malformed":
                return web.Response(body=raw[: len(raw) // 2] + b"<<garbage", content_type="application/json")
            if fault == "truncated":
                resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
                resp.content_length = len(raw)
                await resp.prepare(request)
                await resp.write(raw[: len(raw) // 2])
                if request.transport is not None:
                    request.transport.close()
                return resp
            state.counters["chat_ok"] += 1
            state.ok_keys[key] += 1
            return web.Response(body=raw, content_type="application/json")
        finally:
            state.in_flight -= 1

    async def embeddings(request: web.Request) -> web.Response:
        state.counters["embedding_requests"] += 1
        denied = check_auth(request)
        if denied is not None:
            return denied
        body = await request.json()
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(t, str) for t in inputs):
            return web.json_response(
                {"error": {"message": "input must be a string or a list of strings"}}, status=400
            )
        if state.latency_s > 0:
            await asyncio.sleep(state.latency_s)
        dim = int(body.get("dimensions") or state.embedding_dim)
        data = [
            {"object": "embedding", "index": i, "embedding": embed_text(t, dim)} for i, t in enumerate(inputs)
        ]
        tokens = sum(len(t.split()) for t in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "test-embedder"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def models(request: web.Request) -> web.Response:
        state.counters["models_requests"] += 1
        if state.models is None:
            return web.json_response({"error": {"message": "Not Found"}}, status=404)
        denied = check_auth(request)
        if denied is not None:
            return denied
        return web.json_response({"object": "list", "data": state.listed_models()})

    async def stats(request: web.Request) -> web.Response:
        snap = state.snapshot()
        if request.query.get("bodies"):
            snap["bodies"] = list(state.bodies)
        return web.json_response(snap)

    async def control(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("flavor", FLAVORS[0]) not in FLAVORS:
            return web.json_response({"error": f"unknown flavor {body['flavor']!r}"}, status=400)
        for name in (
            "latency_s",
            "capacity",
            "timeout_sleep_s",
            "retry_after_s",
            "reject_response_format",
            "flavor",
            "models",
        ):
            if name in body:
                setattr(state, name, body[name])
        if "faults" in body:
            unknown = set(body["faults"]) - set(FAULTS)
            if unknown:
                return web.json_response({"error": f"unknown faults {sorted(unknown)}"}, status=400)
            state.faults = dict(body["faults"])
        return web.json_response(state.snapshot()["config"])

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/stats", stats)
    app.router.add_post("/control", control)
    app.router.add_post("/reset", reset)
    return app


class LLMTestServer:
    """The server in a background thread of this process (see the module docstring)."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        capacity: int | None = None,
        faults: dict[str, float] | None = None,
        seed: int = 0,
        timeout_sleep_s: float = 30.0,
        retry_after_s: float = 0.05,
        api_key: str | None = None,
        embedding_dim: int = 384,
        responder: Responder | None = None,
        port: int = 0,
        reject_response_format: bool = False,
        flavor: str = "vllm",
        models: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self.state = _State(
            latency_s=latency_s,
            capacity=capacity,
            faults=faults or {},
            seed=seed,
            timeout_sleep_s=timeout_sleep_s,
            retry_after_s=retry_after_s,
            api_key=api_key,
            embedding_dim=embedding_dim,
            responder=responder,
            reject_response_format=reject_response_format,
            flavor=flavor,
            models=models,
        )
        self._port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client takes as ``base_url`` (ends in /v1)."""
        return f"{self.url}/v1"

    def start(self) -> LLMTestServer:
        ready = threading.Event()
        error: list[BaseException] = []

        def serve() -> None:
            loop = _new_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner = web.AppRunner(
                    _make_app(self.state), handler_cancellation=True, access_log=None
                )
                loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
                loop.run_until_complete(site.start())
                self.port = self._runner.addresses[0][1]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the starting thread
                error.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="llm-test-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if error:
            raise error[0]
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        return _call_in_loop(self._loop, self.state.snapshot)

    def bodies(self) -> list[dict[str, Any]]:
        """The last chat request bodies received (up to 5000), oldest first."""
        return _call_in_loop(self._loop, lambda: list(self.state.bodies))

    def control(self, **changes: Any) -> None:
        def apply() -> None:
            for name, value in changes.items():
                if name == "faults":
                    unknown = set(value) - set(FAULTS)
                    if unknown:
                        raise ValueError(f"unknown faults {sorted(unknown)}")
                if name == "flavor" and value not in FLAVORS:
                    raise ValueError(f"unknown flavor {value!r}; known: {', '.join(FLAVORS)}")
                if not hasattr(self.state, name):
                    raise ValueError(f"unknown server setting {name!r}")
                setattr(self.state, name, value)

        _call_in_loop(self._loop, apply)

    def reset(self) -> None:
        _call_in_loop(self._loop, self.state.reset)

    @classmethod
    @contextmanager
    def subprocess(cls, **options: Any) -> Iterator[RemoteServer]:
        """The server in a child process; yields a handle with the same ``base_url``/``stats()``."""
        args = [sys.executable, "-m", "ragassets_tests.llm_server"]
        for name, value in options.items():
            if name in ("faults", "models"):
                args += [f"--{name}", json.dumps(value)]
            elif value is not None:
                args += [f"--{name.removesuffix('_s').replace('_', '-')}", str(value)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("LISTENING"):
                raise RuntimeError(f"test server did not start: {line!r}")
            yield RemoteServer(int(line.split()[1]), pid=proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (the server then costs less CPU per request), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _call_in_loop(loop: asyncio.AbstractEventLoop | None, fn: Callable[[], Any]) -> Any:
    if loop is None:
        raise RuntimeError("the test server is not running")

    async def run() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(run(), loop).result(10)


class RemoteServer:
    """A handle on a server in another process, over its /stats, /control and /reset endpoints."""

    def __init__(self, port: int, pid: int | None = None) -> None:
        self.port = port
        self.pid = pid  # of the server process, when this handle started it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/stats", timeout=10).json()

    def bodies(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/stats", params={"bodies": "1"}, timeout=10).json()["bodies"]

    def control(self, **changes: Any) -> None:
        httpx.post(f"{self.url}/control", json=changes, timeout=10).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.url}/reset", timeout=10).raise_for_status()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible test server (no model).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--capacity", type=int, default=None, help="in-flight requests beyond this get 429")
    parser.add_argument(
        "--faults", type=json.loads, default={}, help='JSON, e.g. {"500": 0.1, "timeout": 0.05}'
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-sleep", type=float, default=30.0)
    parser.add_argument("--retry-after", type=float, default=0.05)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--embedding-dim", type=int, default=384)
    parser.add_argument("--flavor", choices=FLAVORS, default="vllm", help="which server to behave like")
    parser.add_argument(
        "--models", type=json.loads, default=None, help='JSON list of served names, e.g. ["m"]'
    )
    args = parser.parse_args(argv)
    state = _State(
        latency_s=args.latency,
        capacity=args.capacity,
        faults=args.faults,
        seed=args.seed,
        timeout_sleep_s=args.timeout_sleep,
        retry_after_s=args.retry_after,
        api_key=args.api_key,
        embedding_dim=args.embedding_dim,
        responder=None,
        flavor=args.flavor,
        models=args.models,
    )

    async def serve() -> None:
        runner = web.AppRunner(_make_app(state), handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        print(f"LISTENING {port}", flush=True)
        await asyncio.Event().wait()

    try:
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
