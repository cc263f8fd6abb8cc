"""The offline engine: built without any model download, pattern recognizers kept, PERSON present,
clear errors for settings that cannot work."""

import os

import pytest
import spacy

from ragassets.pii.analyze import analyze_texts
from ragassets.pii.engine import PiiEngineError, build_analyzer, supported_entities, validate_entities
from ragassets.settings import PiiSettings, SettingsError, load_settings


def test_offline_engine_keeps_presidio_pattern_recognizers_and_adds_person(analyzer) -> None:
    names = {r.name for r in analyzer.registry.recognizers}
    for kept in (
        "EmailRecognizer",
        "PhoneRecognizer",
        "CreditCardRecognizer",
        "UsSsnRecognizer",
        "IbanRecognizer",
        "IpRecognizer",
        "UrlRecognizer",
    ):
        assert kept in names
    assert "NameListPersonRecognizer" in names and "FormattedPhoneRecognizer" in names
    assert "SpacyRecognizer" not in names  # a blank pipeline finds no entities; it would only hide that
    assert analyzer.nlp_engine.nlp["en"].pipe_names == []  # blank: tokenizer only
    assert {"PERSON", "EMAIL_ADDRESS", "URL", "IBAN_CODE"} <= supported_entities(analyzer, "en")
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""


def test_a_saved_blank_pipeline_can_be_named_as_the_model(tmp_path) -> None:
    path = tmp_path / "blank_en"
    spacy.blank("en").to_disk(path)
    engine = build_analyzer("en", str(path))
    found = engine.analyze(
        "Write to ann@example.com, Daniel Okafor.",
        language="en",
        score_threshold=0.5,
        entities=["EMAIL_ADDRESS", "PERSON"],
    )
    assert sorted(r.entity_type for r in found) == ["EMAIL_ADDRESS", "PERSON"]


def test_a_model_that_is_not_installed_is_an_error_naming_the_key() -> None:
    if spacy.util.is_package("en_core_web_zz"):  # pragma: no cover
        pytest.skip("a model of that name is installed")
    with pytest.raises(PiiEngineError, match=r"pii\.spacy_model.*not installed.*never downloads"):
        build_analyzer("en", "en_core_web_zz")


def test_entities_the_engine_cannot_find_are_an_error_naming_the_key(analyzer) -> None:
    with pytest.raises(PiiEngineError, match=r"pii\.entities: LOCATION .*spacy_model"):
        validate_entities(analyzer, PiiSettings(entities=["EMAIL_ADDRESS", "LOCATION"]))
    with pytest.raises(PiiEngineError, match=r"pii\.check_entities: NOT_A_TYPE"):
        validate_entities(analyzer, PiiSettings(check_entities=["NOT_A_TYPE"]))


def test_unsupported_language_in_corpus_yaml_names_key_and_file(tmp_path) -> None:
    (tmp_path / "corpus.yaml").write_text("pii:\n  language: xx\n")
    with pytest.raises(SettingsError, match=r"corpus\.yaml.*'pii\.language'.*unsupported language 'xx'"):
        load_settings(tmp_path)


def test_allow_and_deny_lists_must_not_share_a_term(tmp_path) -> None:
    (tmp_path / "corpus.yaml").write_text("pii:\n  allow_list: [Houston]\n  deny_list: [houston]\n")
    with pytest.raises(SettingsError, match=r"pii\.deny_list.*houston"):
        load_settings(tmp_path)


def test_a_context_word_lifts_bare_numbers_to_the_threshold(analyzer, policy) -> None:
    texts = ["Call me at 2127365000 today.", "My SSN is 536228726.", "Order 2127365000 shipped."]
    found = analyze_texts(analyzer, texts, policy)
    assert [f.entity_type for f in found[0]] == ["PHONE_NUMBER"]
    assert [f.entity_type for f in found[1]] == ["US_SSN"]
    assert found[2] == []  # the same digits without a context word are an order number


def test_other_policy_languages_get_the_pattern_recognizers_too() -> None:
    engine = build_analyzer("de")
    entities = supported_entities(engine, "de")
    assert {"CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS", "IBAN_CODE", "PHONE_NUMBER", "PERSON"} <= entities
    text = "Bitte überweisen Sie an DE89 3704 0044 0532 0130 00, Kontakt: Herr Müller, mueller@example.de."
    found = {r.entity_type for r in engine.analyze(text, language="de", score_threshold=0.5)}
    assert {"IBAN_CODE", "EMAIL_ADDRESS", "PERSON"} <= found


def test_importing_the_pii_package_keeps_tldextract_offline() -> None:
    """tldextract reads its URL list when first imported; importing any ragassets.pii module sets it first."""
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "PRESIDIO_DEVICE")
    }
    code = (
        "import ragassets.pii, tldextract.tldextract as t, os; "
        "assert t.TLD_EXTRACTOR.suffix_list_urls == (), t.TLD_EXTRACTOR.suffix_list_urls; "
        "assert os.environ['PRESIDIO_DEVICE'] == 'cpu'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_model_with_ner_adds_its_entities(tmp_path) -> None:
    # an untrained pipeline with an "ner" component stands in for en_core_web_lg (no download)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in ("PERSON", "GPE", "ORG"):
        ner.add_label(label)
    nlp.initialize()
    nlp.to_disk(tmp_path / "tiny_ner")
    engine = build_analyzer("en", str(tmp_path / "tiny_ner"))
    names = {r.name for r in engine.registry.recognizers}
    assert {"SpacyRecognizer", "NameListPersonRecognizer"} <= names
    assert {"LOCATION", "ORGANIZATION", "PERSON"} <= supported_entities(engine, "en")
    engine.analyze("Daniel Okafor lives in Houston.", language="en")  # runs end to end
    without_lists = build_analyzer("en", str(tmp_path / "tiny_ner"), name_lists=False)
    assert "NameListPersonRecognizer" not in {r.name for r in without_lists.registry.recognizers}
