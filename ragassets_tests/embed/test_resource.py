"""The embedder resource: deployment defaults < corpus settings, clear failures, the cache switch."""

import dagster as dg
import pytest

from ragassets.embed.cache import EmbeddingCache
from ragassets.embed.providers import MiniLMEmbedder, OpenAICompatibleEmbedder
from ragassets.resources.embedder import EmbedderResource
from ragassets.settings import validate_settings


def corpus(block):
    return validate_settings({"embedder": block}, "corpus.yaml")


def test_corpus_settings_override_the_deployment():
    res = EmbedderResource(provider="openai", base_url="http://emb:8000/v1", model="bge-small")
    eff = res.effective_settings(corpus({"batch_size": 8}))
    assert (eff.provider, eff.base_url, eff.model, eff.batch_size) == ("openai", "http://emb:8000/v1", "bge-small", 8)
    # a corpus that switches provider does not inherit the deployment's model name
    eff = res.effective_settings(corpus({"provider": "minilm"}))
    assert eff.provider == "minilm" and eff.model is None
    assert isinstance(res.for_corpus(corpus({"provider": "minilm"})), MiniLMEmbedder)
    assert isinstance(res.for_corpus(None), OpenAICompatibleEmbedder)


def test_default_is_offline_minilm_and_bad_config_fails_clearly(tmp_path):
    assert isinstance(EmbedderResource().for_corpus(corpus({})), MiniLMEmbedder)
    with pytest.raises(dg.Failure, match="base_url"):
        EmbedderResource(provider="openai").for_corpus(corpus({}))
    with pytest.raises(dg.Failure, match="not a local folder"):
        EmbedderResource().for_corpus(corpus({"provider": "sentence_transformers", "model": str(tmp_path / "x")}))


def test_cache_location_and_switch(tmp_path):
    res = EmbedderResource()
    assert isinstance(res.cache(tmp_path), EmbeddingCache)
    assert res.cache(tmp_path).path == tmp_path / "embedding_cache.sqlite"
    assert res.cache(tmp_path, corpus({"cache": False})) is None
    assert EmbedderResource(cache_path=str(tmp_path / "c.sqlite")).cache(tmp_path).path == tmp_path / "c.sqlite"
