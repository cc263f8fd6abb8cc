"""Finding PII: every written format of every pattern type, overlaps resolved to the specific type,
allow and deny lists, long documents in windows, empty and foreign text."""

import pytest

from ragassets.pii.analyze import (
    Finding,
    analyze_texts,
    apply_allow_list,
    resolve_overlaps,
    split_for_analysis,
)
from ragassets.pii.synthetic import planted_pii_documents
from ragassets.settings import PiiSettings

FORMATS = [
    ("PHONE_NUMBER", "+1 415 867 5309"),
    ("PHONE_NUMBER", "+1-415-867-5309"),
    ("PHONE_NUMBER", "(212) 736-5000"),
    ("PHONE_NUMBER", "212.736.5000"),
    ("PHONE_NUMBER", "212-736-5000"),
    ("PHONE_NUMBER", "+1 (555) 310-8842"),
    ("PHONE_NUMBER", "+44 20 7946 0958"),
    ("PHONE_NUMBER", "020 7946 0958"),
    ("PHONE_NUMBER", "+49 30 901820"),
    ("PHONE_NUMBER", "+33 1 42 68 53 00"),
    ("CREDIT_CARD", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "4111111111111111"),
    ("CREDIT_CARD", "5500-0000-0000-0004"),
    ("CREDIT_CARD", "3782 822463 10005"),
    ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
    ("IBAN_CODE", "DE89370400440532013000"),
    ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("IBAN_CODE", "FR14 2004 1010 0505 0001 3M02 606"),
    ("IBAN_CODE", "NL91ABNA0417164300"),
    ("IBAN_CODE", "ES9121000418450200051332"),
    ("US_SSN", "536-22-8726"),
    ("US_SSN", "536 22 8726"),
    ("IP_ADDRESS", "192.168.1.20"),
    ("IP_ADDRESS", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("IP_ADDRESS", "2001:db8::1"),
    ("IP_ADDRESS", "fe80::1ff:fe23:4567:890a"),
    ("EMAIL_ADDRESS", "john.doe@example.com"),
]
WRAPPERS = ["Value: {} here.", "({}), then more text", "{}"]


@pytest.mark.parametrize(("entity_type", "value"), FORMATS)
def test_each_written_format_is_found_whole(analyzer, policy, entity_type: str, value: str) -> None:
    texts = [w.format(value) for w in WRAPPERS]
    for text, found in zip(texts, analyze_texts(analyzer, texts, policy), strict=True):
        start = text.index(value)
        assert [(f.entity_type, f.start, f.end) for f in found] == [
            (entity_type, start, start + len(value))
        ], text


@pytest.mark.parametrize(
    "text", ["Mail <jane@example.org> today", "See [Jane](mailto:jane.roe@corp.co.uk) for details"]
)
def test_emails_in_angle_brackets_and_markdown_links_are_one_email(analyzer, policy, text: str) -> None:
    urls = policy.model_copy(update={"entities": ["EMAIL_ADDRESS", "URL"]})
    [found] = analyze_texts(analyzer, [text], urls)
    emails = [f for f in found if f.entity_type == "EMAIL_ADDRESS"]
    assert len(emails) == 1 and "@" in text[emails[0].start : emails[0].end]
    # the URL recognizer's "corp.co.uk" inside the address is not a second finding
    assert all(not (f.start < emails[0].end and emails[0].start < f.end) for f in found if f is not emails[0])


def test_planted_documents_every_value_found(analyzer, policy) -> None:
    docs = planted_pii_documents(12, seed=21)
    for doc, found in zip(docs, analyze_texts(analyzer, [d.text for d in docs], policy), strict=True):
        for entity_type, value in doc.planted:
            start = doc.text.index(value)
            assert any(
                f.start <= start and start + len(value) <= f.end and f.entity_type == entity_type
                for f in found
            ), (entity_type, value)


def test_overlaps_become_one_span_of_the_most_specific_type() -> None:
    email = Finding("EMAIL_ADDRESS", 10, 30, 1.0, "EmailRecognizer")
    url = Finding("URL", 19, 30, 0.5, "UrlRecognizer")
    ip = Finding("IP_ADDRESS", 40, 55, 0.6, "IpRecognizer")
    phone = Finding("PHONE_NUMBER", 44, 55, 0.75, "PhoneRecognizer")
    partial = Finding("PERSON", 60, 70, 0.9, "NameListPersonRecognizer")
    card = Finding("CREDIT_CARD", 65, 84, 1.0, "CreditCardRecognizer")
    assert resolve_overlaps([url, phone, email, ip, partial, card]) == [
        email,
        ip,
        Finding("CREDIT_CARD", 60, 84, 1.0, "CreditCardRecognizer"),  # the union: nothing of either leaks
    ]


def test_phone_number_inside_an_ip_address_is_the_ip(analyzer, policy) -> None:
    text = "The host 10.212.736.50 is not an address, but 212.73.65.123 is; call 212.736.5000."
    [found] = analyze_texts(analyzer, [text], policy)
    by_text = {text[f.start : f.end]: f.entity_type for f in found}
    assert by_text["212.73.65.123"] == "IP_ADDRESS"
    assert by_text["212.736.5000"] == "PHONE_NUMBER"


def test_allow_list_terms_survive_and_are_cut_out_of_names(analyzer) -> None:
    policy = PiiSettings(allow_list=["Houston"], deny_list=["Project Falcon"])
    text = "Houston, we have a problem. Ask Houston Smith, not Daniel Okafor, about project falcon."
    [found] = analyze_texts(analyzer, [text], policy)
    values = [(f.entity_type, text[f.start : f.end]) for f in found]
    assert ("PERSON", "Daniel Okafor") in values and ("DENY_LIST", "project falcon") in values
    assert not any("Houston" in v for _, v in values)
    assert ("PERSON", "Smith") in values


def test_allow_list_keeps_pattern_findings_whole() -> None:
    text = "houston@nasa.gov and Houston"
    found = [Finding("EMAIL_ADDRESS", 0, 16, 1.0, "e"), Finding("PERSON", 21, 28, 0.6, "p")]
    assert apply_allow_list(text, found, ["Houston"]) == [found[0]]


def test_windows_own_every_position_exactly_once() -> None:
    text = ("word " * 3000).strip()
    windows = split_for_analysis(text, window=2500, overlap=1000)
    assert windows[0][0] == 0 and windows[-1][1] == windows[-1][2] == len(text)
    owned_from = 0
    for start, end, owned in windows:
        assert start <= owned_from < owned <= end and end - start <= 2500
        owned_from = owned
    assert split_for_analysis("short", window=2500) == [(0, 5, 5)]


def test_long_documents_are_analysed_in_windows_with_offsets_mapped_back(analyzer) -> None:
    filler = "The seed library lends seeds to gardeners in the valley every spring. " * 40
    parts, emails = [], []
    for k in range(60):
        email = f"member{k}@example.org"
        emails.append(email)
        parts.append(filler[: 37 * k % len(filler)] + f" {email} " + filler)
    text = "".join(parts)
    policy = PiiSettings(entities=["EMAIL_ADDRESS"], window_chars=5000)
    [found] = analyze_texts(analyzer, [text], policy)
    assert [text[f.start : f.end] for f in found] == emails  # each once, in order, at its real offset


def test_a_document_longer_than_spacys_max_length(analyzer) -> None:
    nlp = analyzer.nlp_engine.nlp["en"]
    body = "Germination is tested on fifty seeds rolled in a damp towel and counted after a week.\n"
    text = (
        "Write to first@example.com.\n" + body * (nlp.max_length // len(body) + 500) + "Or last@example.org"
    )
    assert len(text) > 1_000_000
    [found] = analyze_texts(analyzer, [text], PiiSettings(entities=["EMAIL_ADDRESS"]))
    assert [text[f.start : f.end] for f in found] == ["first@example.com", "last@example.org"]


def test_empty_and_blank_texts_have_no_findings(analyzer, policy) -> None:
    assert analyze_texts(analyzer, ["", "   \n", "Mail a@example.com"], policy)[:2] == [[], []]


def test_parallel_analysis_finds_what_serial_analysis_finds(analyzer, policy) -> None:
    texts = [d.text for d in planted_pii_documents(16, seed=4)]
    serial = analyze_texts(analyzer, texts, policy, processes=1)
    assert analyze_texts(analyzer, texts, policy, processes=2) == serial
    assert analyze_texts(analyzer, texts, policy, processes=3) == serial


def test_batches_share_one_set_of_worker_processes(analyzer, policy) -> None:
    """A corpus analysed in batches starts its workers once: the same processes answer every batch."""
    from ragassets.pii.analyze import AnalysisWorkers

    texts = [d.text for d in planted_pii_documents(16, seed=4)]
    serial = analyze_texts(analyzer, texts, policy, processes=1)
    with AnalysisWorkers(policy, total_chars=0, processes=2) as workers:
        first = analyze_texts(analyzer, texts[:8], policy, workers=workers)
        pool = workers.pool()
        pids = set(pool._processes)
        second = analyze_texts(analyzer, texts[8:], policy, workers=workers)
        # two analyses at once: this process and one worker
        assert workers.pool() is pool and set(pool._processes) == pids and len(pids) == 1
    assert first + second == serial
    assert workers._pool is None  # shut down with the block
    # below parallel_min_chars and no override: no processes at all
    assert AnalysisWorkers(policy, total_chars=10).count == 1
