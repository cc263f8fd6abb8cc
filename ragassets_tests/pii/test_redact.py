"""Redaction: nothing planted survives under any operator, nothing original is stored, pseudonyms are
consistent within a corpus and differ between corpora, and the residual check sees what is left."""

import json
import re

import pytest

from ragassets.pii.operators import Pseudonymizer, corpus_key, keyed_hash, mask, normalise
from ragassets.pii.redact import redact_corpus
from ragassets.pii.residual import residual_pii
from ragassets.pii.synthetic import planted_pii_documents
from ragassets.settings import PiiSettings

NAMED = [
    ("n1", "Saturday mornings are led by Daniel Okafor. Reach him at daniel.okafor@example.com."),
    ("n2", "Questions go to Margaret Ellison on 555-201-4477. Daniel Okafor is away."),
    ("n3", "The caretaker, Mr. Alvarez, keeps the keys; Houston is where the library began."),
]


@pytest.fixture(scope="module")
def planted():
    return planted_pii_documents(20, seed=33)


def _docs(planted):
    return [(d.doc_id, d.text) for d in planted] + NAMED


def _originals(planted) -> list[str]:
    return [v for d in planted for _, v in d.planted] + [
        "Daniel Okafor",
        "daniel.okafor@example.com",
        "Margaret Ellison",
        "555-201-4477",
        "Alvarez",
    ]


@pytest.mark.parametrize("operator", ["replace", "pseudonym", "mask", "hash"])
def test_no_planted_value_survives_and_the_check_passes(analyzer, planted, operator: str) -> None:
    policy = PiiSettings(operator=operator, allow_list=["Houston"])
    result = redact_corpus("sample", _docs(planted), policy, analyzer)
    stored = json.dumps([result.documents, result.findings])  # everything that goes into tables
    for value in _originals(planted):
        assert value not in stored, (operator, value)
        assert normalise("PHONE_NUMBER", value) not in re.sub(r"[^0-9A-Za-z]", "", stored) or len(value) < 8
    assert "Houston" in result.documents[-1]["text"]  # allowed, so kept
    report = residual_pii(
        [d["text"] for d in result.documents],
        [d["doc_id"] for d in result.documents],
        policy,
        [f["replacement"] for f in result.findings],
        analyzer,
    )
    assert report.passed, report.describe()
    if operator == "pseudonym":
        assert report.ignored_pseudonyms > 0  # fakes look like PII on purpose


def test_rows_and_findings_describe_the_redaction(analyzer) -> None:
    result = redact_corpus("sample", NAMED, PiiSettings(), analyzer)
    first = result.documents[0]
    assert first["text"] == "Saturday mornings are led by <PERSON>. Reach him at <EMAIL_ADDRESS>."
    assert (
        json.loads(first["findings_by_type"]) == {"EMAIL_ADDRESS": 1, "PERSON": 1}
        and first["n_findings"] == 2
    )
    for f in result.findings:
        doc = dict(NAMED)[f["doc_id"]]
        redacted = next(d["text"] for d in result.documents if d["doc_id"] == f["doc_id"])
        assert (
            redacted[f["redacted_start"] : f["redacted_end"]] == f["replacement"] == f"<{f['entity_type']}>"
        )
        assert 0 <= f["start"] < f["end"] <= len(doc) and 0.5 <= f["score"] <= 1 and f["recognizer"]
    assert result.counts_by_type == {"EMAIL_ADDRESS": 1, "PERSON": 4, "PHONE_NUMBER": 1}


def test_pseudonyms_are_consistent_within_a_corpus_and_differ_between_corpora(analyzer) -> None:
    policy = PiiSettings(operator="pseudonym")

    def fakes(corpus: str) -> dict[str, str]:
        result = redact_corpus(corpus, NAMED, policy, analyzer)
        return {(f["doc_id"], f["start"]): f["replacement"] for f in result.findings}

    a, again, b = fakes("alpha"), fakes("alpha"), fakes("beta")
    assert a == again  # re-runs give the same text
    texts = dict(NAMED)
    first, second = ("n1", texts["n1"].index("Daniel Okafor")), ("n2", texts["n2"].index("Daniel Okafor"))
    assert a[first] == a[second] != "Daniel Okafor"  # the same person, in two documents, the same fake
    assert " " in a[first] and a[first] != b[first]
    assert sum(a[k] != b[k] for k in a) >= len(a) - 1  # different corpora, different fakes


def test_a_pseudonym_never_reuses_an_original_name_or_value() -> None:
    key = corpus_key("c")
    free = Pseudonymizer(key).pseudonym("PERSON", "Ann Lee")
    blocked = Pseudonymizer(key, forbidden=[("PERSON", free)]).pseudonym("PERSON", "Ann Lee")
    assert blocked != free and not set(blocked.lower().split()) & set(free.lower().split())
    p = Pseudonymizer(key)
    card = p.pseudonym("CREDIT_CARD", "4111 1111 1111 1111")
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", card) and card == p.pseudonym(
        "CREDIT_CARD", "4111111111111111"
    )
    assert p.pseudonym("PHONE_NUMBER", "+44 20 7946 0958").startswith("+44 ")
    assert ":" in p.pseudonym("IP_ADDRESS", "2001:db8::1") and "@" in p.pseudonym("EMAIL_ADDRESS", "a@b.com")


def test_mask_and_hash() -> None:
    assert mask("555-201-4477") == "***-***-****"
    key = corpus_key("c")
    h = keyed_hash(key, "US_SSN", "536-22-8726")
    assert re.fullmatch(r"<US_SSN:[0-9a-f]{16}>", h) and h == keyed_hash(key, "US_SSN", "536 22 8726")
    assert h != keyed_hash(corpus_key("other"), "US_SSN", "536-22-8726")


def test_a_secret_key_changes_hashes_and_must_exist(monkeypatch) -> None:
    monkeypatch.setenv("PII_TEST_SECRET", "s3cret")
    assert corpus_key("c", "PII_TEST_SECRET") != corpus_key("c")
    monkeypatch.delenv("PII_TEST_SECRET")
    with pytest.raises(ValueError, match=r"pii\.secret_env.*PII_TEST_SECRET.*not set"):
        corpus_key("c", "PII_TEST_SECRET")


def test_the_check_fails_with_counts_and_ids_when_a_type_is_not_redacted(analyzer) -> None:
    weak = PiiSettings(entities=["EMAIL_ADDRESS", "PERSON"])  # phone numbers no longer redacted
    result = redact_corpus("sample", NAMED, weak, analyzer)
    report = residual_pii(
        [d["text"] for d in result.documents],
        [d["doc_id"] for d in result.documents],
        weak,
        [f["replacement"] for f in result.findings],
        analyzer,
    )
    assert not report.passed
    assert report.counts_by_type == {"PHONE_NUMBER": 1} and report.ids == ["n2"]
    assert "555" not in report.describe() and "PHONE_NUMBER" in report.describe()
    accepted = weak.model_copy(update={"check_entities": ["EMAIL_ADDRESS", "PERSON"]})
    assert residual_pii([d["text"] for d in result.documents], ["x"] * 3, accepted, analyzer=analyzer).passed


def test_empty_and_foreign_documents(analyzer) -> None:
    german = (
        "Die Bibliothek bleibt im Sommer geschlossen, weil die Räume renoviert werden müssen und wir "
        "keine andere Lösung gefunden haben. Schreiben Sie an info@example.de, wenn Sie Fragen haben."
    )
    result = redact_corpus("c", [("empty", ""), ("blank", "  \n"), ("de", german)], PiiSettings(), analyzer)
    assert result.empty_doc_ids == ["empty", "blank"]
    assert [d["n_findings"] for d in result.documents] == [0, 0, 1]
    assert "<EMAIL_ADDRESS>" in result.documents[2]["text"]  # analysed anyway
    assert result.language_warnings == [{"doc_id": "de", "looks_like": "de"}]


def test_a_10_mb_document_is_redacted_in_bounded_memory(analyzer) -> None:
    resource = pytest.importorskip("resource")
    # a realistic large file: a short letter followed by a 10 MB export of encoded data lines
    letter = "Dear committee, the export is attached. Contact first@example.com with questions.\n"
    line = (
        "data: " + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3" + "\n"
    )
    text = letter + line * (10_000_000 // len(line)) + "Sent by last@example.org"
    assert len(text) >= 10_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = redact_corpus(
        "c", [("big", text)], PiiSettings(entities=["EMAIL_ADDRESS", "CREDIT_CARD"]), analyzer
    )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.documents[0]["n_findings"] == 2 and len(result.documents[0]["text"]) < len(text)
    assert grown_mb < 400, f"peak memory grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize("operator", ["pseudonym", "replace"])
def test_a_corpus_redacted_in_batches_is_the_corpus_redacted_at_once(analyzer, planted, operator: str) -> None:
    """CorpusRedactor reads the corpus in batches (twice) and writes what redact_corpus writes at once."""
    from ragassets.pii.redact import CorpusRedactor

    docs = _docs(planted)
    policy = PiiSettings(operator=operator, allow_list=["Houston"])
    whole = redact_corpus("sample", docs, policy, analyzer)
    reads = []

    def read_batches():
        reads.append(1)
        for i in range(0, len(docs), 5):
            yield docs[i : i + 5]

    redactor = CorpusRedactor("sample", policy, analyzer, processes=1)
    out = list(redactor.batches(read_batches))
    assert len(reads) == 2 and len(out) == -(-len(docs) // 5)
    assert [d for batch, _ in out for d in batch] == whole.documents
    assert [f for _, batch in out for f in batch] == whole.findings
    summary = redactor.summary
    assert (summary.n_documents, summary.n_findings) == (len(docs), len(whole.findings))
    assert summary.counts_by_type == whole.counts_by_type and summary.n_documents_with_findings > 0


def test_a_fake_never_equals_an_original_from_a_later_batch(analyzer) -> None:
    """Every batch is analysed before any fake is drawn: the fake the first document's address would
    get is a real address in the last batch, so it must be drawn again."""
    from ragassets.pii.redact import CorpusRedactor

    policy = PiiSettings(operator="pseudonym", entities=["EMAIL_ADDRESS"])
    first_choice = Pseudonymizer(corpus_key("c", None), "en").pseudonym("EMAIL_ADDRESS", "ann@example.com")
    docs = [("d1", "Write to ann@example.com today."), ("d2", "Nothing here."), ("d3", f"Or to {first_choice}.")]

    redactor = CorpusRedactor("c", policy, analyzer, processes=1)
    out = list(redactor.batches(lambda: ([d] for d in docs)))
    first_text = out[0][0][0]["text"]
    assert "ann@example.com" not in first_text and first_choice not in first_text


def test_documents_that_change_between_the_two_reads_are_an_error(analyzer) -> None:
    from ragassets.pii.redact import CorpusRedactor

    calls = []

    def read_batches():
        calls.append(1)
        yield [("a", "x@example.com"), ("b" if len(calls) == 1 else "c", "text")]

    redactor = CorpusRedactor("c", PiiSettings(entities=["EMAIL_ADDRESS"]), analyzer, processes=1)
    with pytest.raises(RuntimeError, match="changed while they were redacted"):
        list(redactor.batches(read_batches))
