"""Where users set the LLM: corpus.yaml llm:/small_llm: blocks and RAGASSETS_LLM_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragassets.llm import LLMClient, LLMRequest, ProviderUnavailable, ResponseCache
from ragassets.llm.providers import OfflineProvider
from ragassets.llm.providers.openai import OpenAIProvider
from ragassets.settings import SettingsError, load_settings


def corpus(tmp_path: Path, yaml_text: str) -> Path:
    path = tmp_path / "corpora" / "c"
    path.mkdir(parents=True)
    (path / "corpus.yaml").write_text(yaml_text)
    return path


def test_offline_is_the_default() -> None:
    settings = load_settings(environ={})
    client = LLMClient.from_settings(settings.llm, cache=None)
    assert isinstance(client.provider, OfflineProvider) and settings.small_llm.provider == "offline"


def test_environment_sets_defaults_for_every_corpus(server, tmp_path: Path) -> None:
    env = {
        "RAGASSETS_LLM_PROVIDER": "openai",
        "RAGASSETS_LLM_BASE_URL": server.base_url,
        "RAGASSETS_LLM_MODEL": "env-model",
    }
    settings = load_settings(corpus(tmp_path, "llm: {max_concurrency: 3, temperature: 0.1}\n"), environ=env)
    assert (settings.llm.provider, settings.llm.model, settings.llm.max_concurrency) == (
        "openai",
        "env-model",
        3,
    )
    client = LLMClient.from_settings(settings.llm, cache=ResponseCache(":memory:"))
    assert isinstance(client.provider, OpenAIProvider)
    assert client.provider.structured_output == "auto" and client.structured_mode == "json_schema"  # default
    assert client.max_concurrency == 3 and client.defaults.temperature == 0.1
    (res,) = client.run([LLMRequest.chat("hi")])
    assert res.ok and res.provider == "openai" and res.model == "env-model"
    (body,) = server.bodies()
    assert body["model"] == "env-model" and body["temperature"] == 0.1


def test_corpus_yaml_overrides_the_environment(tmp_path: Path) -> None:
    env = {"RAGASSETS_LLM_PROVIDER": "openai", "RAGASSETS_LLM_MODEL": "env-model"}
    path = corpus(
        tmp_path,
        "llm: {provider: offline}\nsmall_llm: {provider: openai, model: small, structured_output: json_object}\n",
    )
    settings = load_settings(path, environ=env)
    assert settings.llm.provider == "offline" and settings.small_llm.model == "small"
    assert settings.small_llm.structured_output == "json_object"


def test_structured_output_setting_and_the_old_json_schema_key(tmp_path: Path) -> None:
    env = {"RAGASSETS_LLM_STRUCTURED_OUTPUT": "prompt"}
    assert load_settings(environ=env).llm.structured_output == "prompt"
    assert load_settings(environ={}).llm.structured_output == "auto"
    # the old key keeps working: false was the schema in the prompt, true the default
    old = load_settings(
        corpus(tmp_path, "llm: {json_schema: false}\nsmall_llm: {json_schema: true}\n"), environ={}
    )
    assert (old.llm.structured_output, old.small_llm.structured_output) == ("prompt", "auto")
    assert "structured_output" in old.llm.model_fields_set  # so it overlays the resource's default
    with pytest.raises(SettingsError, match=r"json_schema: false contradicts structured_output: json_object"):
        load_settings(
            run_config={"llm": {"json_schema": False, "structured_output": "json_object"}}, environ={}
        )
    with pytest.raises(SettingsError, match=r"'llm.structured_output'.*'auto', 'json_schema', 'json_object'"):
        load_settings(run_config={"llm": {"structured_output": "grammar"}}, environ={})
    provider = LLMClient.from_settings(
        load_settings(
            environ={
                "RAGASSETS_LLM_PROVIDER": "openai",
                "RAGASSETS_LLM_MODEL": "m",
                "RAGASSETS_LLM_BASE_URL": "http://127.0.0.1:9/v1",
                "RAGASSETS_LLM_STRUCTURED_OUTPUT": "json_object",
            }
        ).llm,
        cache=None,
    ).provider
    assert isinstance(provider, OpenAIProvider) and provider.structured_mode == "json_object"


def test_unknown_llm_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = corpus(tmp_path, "llm: {provder: openai}\n")
    with pytest.raises(SettingsError, match=r"corpus.yaml: unknown key 'llm.provder'.*provider"):
        load_settings(path, environ={})


def test_incomplete_openai_settings_are_clear_errors() -> None:
    settings = load_settings(environ={"RAGASSETS_LLM_PROVIDER": "openai", "RAGASSETS_LLM_MODEL": "m"})
    with pytest.raises(ProviderUnavailable, match="needs base_url.*RAGASSETS_LLM_BASE_URL"):
        LLMClient.from_settings(settings.llm, cache=None)
    settings = load_settings(
        environ={"RAGASSETS_LLM_PROVIDER": "openai", "RAGASSETS_LLM_BASE_URL": "http://x/v1"}
    )
    with pytest.raises(ProviderUnavailable, match="needs model"):
        LLMClient.from_settings(settings.llm, cache=None)


def test_stage_overrides_of_sampling() -> None:
    client = LLMClient.from_settings(load_settings(environ={}).llm, cache=None)
    params = client.sampling(temperature=0.2, seed=None)
    assert (
        params.temperature == 0.2 and params.max_tokens == client.defaults.max_tokens and params.seed is None
    )


def test_role_settings_small_llm_inherits_the_llm_block(tmp_path: Path) -> None:
    from ragassets.llm import role_settings

    path = corpus(
        tmp_path, "llm: {provider: openai, base_url: 'http://h/v1', model: big}\nsmall_llm: {model: small}\n"
    )
    settings = load_settings(path, environ={})
    small = role_settings(settings, "small_llm")
    assert (small.provider, small.base_url, small.model) == ("openai", "http://h/v1", "small")
    assert role_settings(settings, "llm").model == "big"
    assert role_settings(load_settings(environ={}), "small_llm").provider == "offline"
    with pytest.raises(ValueError, match="unknown LLM role"):
        role_settings(settings, "medium_llm")
