"""ParaphraseSettings and QuestionsSettings: validation, normalisation, per-stage LLM choice."""

import pytest

from ragassets.settings import SettingsError, load_settings, validate_settings


def test_defaults():
    s = validate_settings({}, "defaults")
    assert s.questions.questions_per_chunk == 2 and s.questions.window == 1
    assert s.paraphrase.n_paraphrases == 1 and s.paraphrase.fidelity_band == (0.6, 0.995)
    assert sum(s.questions.difficulty_mix.values()) == pytest.approx(1.0)


def test_difficulty_mix_is_normalised_and_checked():
    s = validate_settings({"questions": {"difficulty_mix": {"hard": 3, "easy": 1, "medium": 0}}}, "x")
    assert s.questions.difficulty_mix == {"easy": 0.25, "hard": 0.75}
    with pytest.raises(SettingsError, match=r"corpus.yaml: 'questions.difficulty_mix'.*unknown difficulty expert"):
        validate_settings({"questions": {"difficulty_mix": {"expert": 1}}}, "corpus.yaml")
    with pytest.raises(SettingsError, match="at least one positive share"):
        validate_settings({"questions": {"difficulty_mix": {"easy": 0}}}, "corpus.yaml")


def test_fidelity_band_must_be_ordered():
    with pytest.raises(SettingsError, match="fidelity_band must be"):
        validate_settings({"paraphrase": {"fidelity_band": [0.99, 0.5]}}, "corpus.yaml")


def test_unknown_key_is_named():
    with pytest.raises(SettingsError, match="unknown key 'questions.question_per_chunk'"):
        validate_settings({"questions": {"question_per_chunk": 3}}, "corpus.yaml")


def test_stage_llm_settings_lay_the_stage_over_the_llm_block():
    s = validate_settings(
        {"llm": {"provider": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "small"},
         "questions": {"model": "big", "max_tokens": 2048, "temperature": 0.2}},
        "x",
    )
    q = s.questions.llm_settings(s.llm)
    assert (q.provider, q.base_url, q.model, q.max_tokens) == ("openai", "http://127.0.0.1:8000/v1", "big", 2048)
    # only explicit keys, so the llm resource's own config still fills in the rest
    assert q.model_fields_set == {"provider", "base_url", "model", "max_tokens"}
    assert s.paraphrase.llm_settings(s.llm).model == "small"  # no override: the llm block
    with pytest.raises(SettingsError, match="'paraphrase.api_key_env'.*NAME of an environment variable"):
        validate_settings({"paraphrase": {"api_key_env": "sk-secret key"}}, "corpus.yaml")


def test_environment_and_corpus_yaml(tmp_path):
    (tmp_path / "corpus.yaml").write_text("questions: {window: 2}\nparaphrase: {n_paraphrases: 3}\n")
    s = load_settings(tmp_path, environ={"RAGASSETS_QUESTIONS_QUESTIONS_PER_CHUNK": "4"})
    assert (s.questions.window, s.questions.questions_per_chunk, s.paraphrase.n_paraphrases) == (2, 4, 3)
