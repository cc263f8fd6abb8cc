from pathlib import Path

import pytest

from ragassets.settings import SettingsError, load_settings


def write_yaml(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.yaml").write_text(text)
    return folder


def test_defaults_without_corpus_yaml(tmp_path):
    s = load_settings(tmp_path, environ={})
    assert s.documents.max_file_mb == 50
    assert s.llm.provider == "offline"
    assert s.embedder.provider == "minilm"


def test_precedence_defaults_env_yaml_run_config(tmp_path):
    folder = write_yaml(tmp_path / "c", "chunks: {chunk_size: 128}\nllm: {model: from-yaml}\n")
    env = {"RAGASSETS_LLM_MODEL": "from-env", "RAGASSETS_LLM_PROVIDER": "openai", "RAGASSETS_CHUNKS_CHUNK_OVERLAP": "7"}
    s = load_settings(folder, run_config={"chunks": {"chunk_size": 64}}, environ=env)
    assert s.chunks.chunk_size == 64  # run config wins over corpus.yaml
    assert s.llm.model == "from-yaml"  # corpus.yaml wins over the environment
    assert s.llm.provider == "openai"  # the environment wins over defaults
    assert s.chunks.chunk_overlap == 7  # env values are parsed (an int here)


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    folder = write_yaml(tmp_path / "c", "chunks: {chunk_sise: 128}\n")
    with pytest.raises(SettingsError) as err:
        load_settings(folder, environ={})
    msg = str(err.value)
    assert "chunks.chunk_sise" in msg and str(folder / "corpus.yaml") in msg
    assert "chunk_size" in msg  # the known keys are listed


def test_unknown_block_and_ill_typed_value(tmp_path):
    folder = write_yaml(tmp_path / "c", "chunkz: {}\ndocuments: {max_file_mb: lots}\n")
    with pytest.raises(SettingsError) as err:
        load_settings(folder, environ={})
    msg = str(err.value)
    assert "'chunkz'" in msg and "documents.max_file_mb" in msg and "'lots'" in msg


def test_bad_run_config_is_named_as_run_config(tmp_path):
    with pytest.raises(SettingsError, match=r"run config: unknown key 'pii.treshold'"):
        load_settings(tmp_path, run_config={"pii": {"treshold": 0.3}}, environ={})


def test_unsupported_language_is_a_clear_error(tmp_path):
    folder = write_yaml(tmp_path / "c", "pii: {language: xx}\n")
    with pytest.raises(SettingsError, match=r"pii.language.*unsupported language 'xx'"):
        load_settings(folder, environ={})


def test_not_yaml_and_not_a_mapping(tmp_path):
    folder = write_yaml(tmp_path / "a", "chunks: [unclosed\n")
    with pytest.raises(SettingsError, match="not valid YAML"):
        load_settings(folder, environ={})
    folder = write_yaml(tmp_path / "b", "- just\n- a list\n")
    with pytest.raises(SettingsError, match="expected blocks"):
        load_settings(folder, environ={})


def test_a_key_pasted_into_api_key_env_is_not_echoed(tmp_path):
    secret = "sk-live-0123456789abcdefTOPSECRET"
    folder = write_yaml(tmp_path / "c", f"llm: {{api_key_env: '{secret}'}}\n")
    with pytest.raises(SettingsError) as err:
        load_settings(folder, environ={})
    assert "llm.api_key_env" in str(err.value)
    assert secret not in str(err.value) and "TOPSECRET" not in str(err.value)


def test_alerts_in_corpus_yaml_is_an_error_that_says_where_they_go(tmp_path):
    folder = write_yaml(tmp_path / "c", "alerts: {min_severity: ERROR}\n")
    with pytest.raises(SettingsError, match=r"corpus.yaml: 'alerts' cannot be set per corpus.*RAGASSETS_ALERTS_"):
        load_settings(folder, environ={})
