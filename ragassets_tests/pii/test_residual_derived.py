"""The residual-PII gate on derived text (chunks, paraphrases, questions): judged in the redacted document it
comes from, it agrees with the redaction (no false alarm on the chunks of the Apollo 13 report), and a name or
pattern PII that survives in a chunk still fails it."""

import polars as pl
import pytest

from ragassets.pii.person import source_knowledge
from ragassets.pii.residual import residual_pii, row_sources
from ragassets.settings import PiiSettings
from ragassets_tests.conftest import shared_corpus

# a redacted document, as redaction leaves it: no person in it, but capitalised words that look like
# names in a piece that lacks the rest ("Iwo Jima" once "USS" is cut off; a heading of lowercase words)
DOCUMENT = (
    "# Recovery\n\n"
    "The crew was flown by helicopter to the recovery ship USS Iwo Jima. The cryogenic oxygen tank "
    "samples and the secondary propellant valves were sealed; <PERSON> signed the log.\n\n"
    "| Event | Time |\n|---|---|\n| Command module secured aboard USS Iwo Jima | 1936 |\n\n"
    "# Cryogenic Oxygen Tank Incident\n\n"
    "The panel listed three actions:\nb. Helium 2 on quad D\nC. Secondary propellant valves were closed.\n"
)
# pieces cut from it where the evidence against a name is elsewhere in the document
PIECES = [
    "Iwo Jima | 1936 |",
    "# Cryogenic Oxygen Tank Incident\n\nThe panel listed three actions:",
    "Helium 2 on quad D\nC. Secondary propellant valves were closed.",
]
SURVIVING_NAMES = [
    "The log was signed by Priya Raman.",
    "Review by Dr. Reyes followed.",
    "The treasurer wrote to Thomas Whitfield twice.",
    "Commander Lovell reported the bang.",
]
PATTERN_PII = {
    "EMAIL_ADDRESS": "Write to daniel.okafor@example.com for the log.",
    "PHONE_NUMBER": "Call 555-201-4477 for the log.",
    "CREDIT_CARD": "Paid with 4111 1111 1111 1111 yesterday.",
    "US_SSN": "The applicant's SSN is 536-90-4399.",
    "IBAN_CODE": "Transfer to DE89 3704 0044 0532 0130 00 today.",
    "IP_ADDRESS": "The ground station was at 192.168.14.27 that night.",
}


def _gate(analyzer, texts, sources, policy=None):
    return residual_pii(
        texts,
        [f"c{i}" for i in range(len(texts))],
        policy or PiiSettings(),
        analyzer=analyzer,
        sources=sources,
    )


def test_pieces_are_judged_in_their_source_document(analyzer) -> None:
    alone = _gate(analyzer, PIECES, None)
    assert alone.counts_by_type == {"PERSON": 3}, "without their document, the pieces should look like names"
    report = _gate(analyzer, PIECES, [DOCUMENT] * len(PIECES))
    assert report.passed, report.describe()
    assert report.n_judged_in_source == len(PIECES)
    assert "judged in their source document" in report.describe()
    # the source is per text: a piece whose document is unknown is judged alone
    assert not _gate(analyzer, PIECES, [DOCUMENT, DOCUMENT, None]).passed


@pytest.mark.parametrize("sentence", SURVIVING_NAMES)
def test_a_name_that_survives_in_a_chunk_fails_the_gate(analyzer, sentence: str) -> None:
    texts = [*PIECES, PIECES[0] + "\n\n" + sentence]
    report = _gate(analyzer, texts, [DOCUMENT] * len(texts))
    assert not report.passed and report.counts_by_type == {"PERSON": 1}, report.describe()
    assert report.ids == [f"c{len(PIECES)}"]


@pytest.mark.parametrize("entity", sorted(PATTERN_PII))
def test_pattern_pii_in_a_chunk_fails_the_gate(analyzer, entity: str) -> None:
    texts = [*PIECES, PATTERN_PII[entity]]
    report = _gate(analyzer, texts, [DOCUMENT] * len(texts))
    assert report.counts_by_type == {entity: 1} and report.ids == [f"c{len(PIECES)}"], report.describe()


def test_source_knowledge_only_ever_removes_evidence(person) -> None:
    """Knowledge of any document never adds a finding or raises a score: a text without its source is
    judged at least as strictly."""
    from ragassets.pii.evaluation import generate_name_corpus

    docs = generate_name_corpus(60, seed=3)
    for i, doc in enumerate(docs):
        knowledge = source_knowledge(DOCUMENT + "\n\n" + docs[(i + 1) % len(docs)].text)
        alone = person.find_names(doc.text)
        for s, e, score, _ in person.find_names(doc.text, knowledge):
            assert any(s2 <= s and e <= e2 and score <= sc2 for s2, e2, sc2, _ in alone), doc.text[s:e]


def test_knowledge_records_what_the_document_says_against_names() -> None:
    k = source_knowledge(DOCUMENT)
    assert {"cryogenic", "oxygen", "tank", "secondary", "propellant"} <= k.ordinary
    assert ("iwo", "jima") in k.not_people  # after the ship prefix, though the text never says "the Iwo Jima"
    lake = source_knowledge("We swam in Lake Jennifer.")
    assert ("jennifer",) not in lake.not_people  # one word after a prefix is not enough


def test_sources_must_match_the_texts(analyzer) -> None:
    with pytest.raises(ValueError, match="one \\(or None\\) per text"):
        _gate(analyzer, PIECES, [DOCUMENT])


def test_row_sources_follow_doc_id_or_chunk_id() -> None:
    documents = pl.DataFrame({"doc_id": ["d1", "d2"], "text": ["one", "two"]})
    chunks = pl.DataFrame(
        {"chunk_id": ["c1", "c2", "c3"], "doc_id": ["d2", "d1", "gone"], "text": ["a", "b", "c"]}
    )
    assert row_sources("chunks", chunks, documents) == (["two", "one", None], "doc_id")
    questions = pl.DataFrame({"question_id": ["q1", "q2", "q3"], "chunk_id": ["c2", "c9", "c1"]})
    sources, how = row_sources("questions", questions, documents, chunks)
    assert sources == ["one", None, "two"] and how.startswith("chunk_id")
    assert row_sources("questions", questions, documents, None)[0] is None  # chunks missing: judged alone
    assert row_sources("chunks", chunks, None)[0] is None
    assert row_sources("redacted_documents", documents, documents)[0] is None  # the documents themselves
    conversations = pl.DataFrame(
        {
            "conversation_id": ["v1", "v2", "v3", "v4"],
            "source_chunk_ids": [["c1"], ["c1", "c2", "c1"], ["c1", "c9"], []],
        }
    )
    sources, how = row_sources("conversations", conversations, documents, chunks)
    assert sources == ["two", "two\n\none", None, None] and how.startswith("source_chunk_ids")
    assert row_sources("conversations", conversations, documents, None)[0] is None
    gone = pl.DataFrame({"conversation_id": ["v5"], "source_chunk_ids": [["c1", "c3"]]})  # c3's document is gone
    assert row_sources("conversations", gone, documents, chunks)[0] == [None]


@pytest.fixture(scope="module")
def apollo_chunks():
    """The Apollo 13 report redacted with the default policy, and cut by the default chunker."""
    from ragassets.embed.minilm import minilm_model_path
    from ragassets.pii.redact import redact_corpus
    from ragassets.settings import ChunksSettings
    from ragassets.text.chunking import Chunker, chunk_frame
    from ragassets.text.tokens import load_token_counter

    src = shared_corpus("apollo13")
    try:
        tokenizer = minilm_model_path()
    except FileNotFoundError as exc:
        pytest.skip(f"no tokenizer to chunk with: {exc}")
    text = (src / "mission_report.md").read_text(encoding="utf-8")
    result = redact_corpus("apollo13", [("mission_report.md", text)], PiiSettings())
    documents = pl.DataFrame(result.documents)
    settings = ChunksSettings()
    chunker = Chunker(
        load_token_counter(tokenizer), settings.chunk_size, settings.chunk_overlap, max_tokens=254
    )
    return documents, chunk_frame(documents, chunker)


def test_apollo_13_chunks_pass_the_gate_and_planted_pii_fails_it(analyzer, apollo_chunks) -> None:
    documents, chunks = apollo_chunks
    sources, how = row_sources("chunks", chunks, documents)
    report = residual_pii(
        chunks["text"].to_list(),
        chunks["chunk_id"].to_list(),
        PiiSettings(),
        analyzer=analyzer,
        sources=sources,
    )
    assert how == "doc_id" and report.n_judged_in_source == chunks.height
    assert report.passed, report.describe()

    # an unredacted name, a title and a name, and an email written into three chunks
    texts = chunks["text"].to_list()
    planted = {3: "Priya Raman", 40: "Dr. Reyes", 77: "jane.roe@example.com"}
    for i, value in planted.items():
        texts[i] = f"{texts[i]}\n\nReported by {value}."
    report = residual_pii(
        texts, chunks["chunk_id"].to_list(), PiiSettings(), analyzer=analyzer, sources=sources
    )
    assert report.counts_by_type == {"EMAIL_ADDRESS": 1, "PERSON": 2}, report.describe()
    assert set(report.ids) == {chunks["chunk_id"][i] for i in planted}


def test_the_pii_resource_judges_derived_text_in_its_source() -> None:
    """PiiResource.residual (what checks call) passes the source documents through, with the
    resource's process override applied."""
    from ragassets.resources.pii import PiiResource

    pii = PiiResource(processes=1)
    ids = [f"c{i}" for i in range(len(PIECES))]
    assert pii.residual(PIECES, ids, PiiSettings()).counts_by_type == {"PERSON": 3}
    assert pii.residual(PIECES, ids, PiiSettings(), sources=[DOCUMENT] * len(PIECES)).passed
    with pytest.raises(ValueError, match="sources for"):
        pii.residual(PIECES, ids, PiiSettings(), sources=[DOCUMENT])


def test_source_texts_are_read_a_few_documents_at_a_time_even_in_worker_processes(analyzer) -> None:
    """Source texts give the findings their knowledge gives, serially and in two worker processes,
    and the serial reader keeps the knowledge of its last documents only."""
    from ragassets.pii.analyze import _KnowledgeOfSources, analyze_texts

    policy = PiiSettings()
    texts = PIECES * 4
    knowledge = source_knowledge(DOCUMENT)
    as_knowledge = analyze_texts(analyzer, texts, policy, processes=1, sources=[knowledge] * len(texts))
    assert as_knowledge == analyze_texts(analyzer, texts, policy, processes=1, sources=[DOCUMENT] * len(texts))
    assert as_knowledge == analyze_texts(analyzer, texts, policy, processes=2, sources=[DOCUMENT] * len(texts))
    assert analyze_texts(analyzer, texts, policy, processes=1) != as_knowledge  # the sources do change the verdict
    reader = _KnowledgeOfSources("en", keep=2)
    docs = [f"{DOCUMENT}\n\nNote {i}." for i in range(5)]
    assert [reader.get(d) for d in docs] == [source_knowledge(d) for d in docs]
    assert len(reader._cache) == 2 and reader.get(None) is None and reader.get(knowledge) is knowledge
