"""The embedding cache: unchanged texts are never embedded twice."""

import threading

import numpy as np

from ragassets.embed.cache import CacheStats, EmbeddingCache, embed_documents_cached


def test_second_run_embeds_nothing(tmp_path, hash_embedder):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    texts = [f"chunk {i}" for i in range(10)]
    s1 = CacheStats()
    v1 = embed_documents_cached(hash_embedder, texts, cache, s1)
    assert (s1.hits, s1.misses) == (0, 10) and len(hash_embedder.embedded) == 10
    s2 = CacheStats()
    v2 = embed_documents_cached(hash_embedder, texts, cache, s2)
    assert (s2.hits, s2.misses) == (10, 0) and len(hash_embedder.embedded) == 10
    assert np.array_equal(v1, v2) and v2.dtype == np.float32


def test_only_changed_texts_are_embedded_and_duplicates_once(tmp_path, hash_embedder):
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    embed_documents_cached(hash_embedder, ["a", "b", "c"], cache)
    hash_embedder.embedded.clear()
    out = embed_documents_cached(hash_embedder, ["a", "b2", "b2", "c"], cache)
    assert hash_embedder.embedded == ["b2"]
    assert np.array_equal(out[1], out[2])
    assert np.allclose(out, hash_embedder.embed_documents(["a", "b2", "b2", "c"]))


def test_cache_survives_reopening_and_separates_models(tmp_path, hash_embedder):
    path = tmp_path / "e.sqlite"
    embed_documents_cached(hash_embedder, ["x", "y"], EmbeddingCache(path))
    other = type(hash_embedder)(model="hash-other")
    stats = CacheStats()
    embed_documents_cached(other, ["x", "y"], EmbeddingCache(path), stats)
    assert stats.misses == 2  # another model never gets this model's vectors
    reopened = EmbeddingCache(path)
    assert reopened.count(hash_embedder.cache_key()) == 2 and reopened.count() == 4


def test_concurrent_writers(tmp_path, hash_embedder):
    path = tmp_path / "e.sqlite"
    errors = []

    def work(offset):
        try:
            cache = EmbeddingCache(path)
            emb = type(hash_embedder)()
            embed_documents_cached(emb, [f"t{offset + i}" for i in range(50)] + ["shared"], cache)
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert EmbeddingCache(path).count() == 201


def test_no_cache_means_plain_embedding(hash_embedder):
    stats = CacheStats()
    v = embed_documents_cached(hash_embedder, ["a", "b"], None, stats)
    assert v.shape == (2, 16) and stats.misses == 2
