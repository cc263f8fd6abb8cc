"""The offline PERSON detection does at least as well as docs/pii.md says, on text it was not tuned on."""

import re
from pathlib import Path

import pytest

from ragassets.pii.evaluation import evaluate_engine, generate_name_corpus, score_names

DOC = Path(__file__).resolve().parents[2] / "docs" / "pii.md"
SEED, N_DOCS = 7, 150  # not the seed of the published figures (2024), nor one used while tuning


def published_floors() -> dict[str, float]:
    """The floors docs/pii.md publishes, from its `<!-- asserted: name>=value ... -->` line."""
    line = re.search(r"<!-- asserted: (.*?) -->", DOC.read_text(encoding="utf-8"))
    assert line, f"{DOC} lost its '<!-- asserted: ... -->' line"
    return {k: float(v) for k, v in re.findall(r"(\w+)>=([\d.]+)", line.group(1))}


def test_precision_and_recall_are_at_least_the_published_figures(analyzer) -> None:
    floors = published_floors()
    assert set(floors) == {"precision", "recall", "recall_listed", "recall_held_out"}
    s = evaluate_engine(N_DOCS, SEED)
    assert s.n_names > 500
    assert s.precision >= floors["precision"], s.false_positives
    assert s.recall >= floors["recall"], s.missed[:30]
    assert s.recall_by_pool["known"] >= floors["recall_listed"]
    assert s.recall_by_pool["held_out"] >= floors["recall_held_out"]


def test_the_generated_corpus_labels_what_it_plants() -> None:
    docs = generate_name_corpus(20, seed=3)
    for doc in docs:
        assert len(doc.names) == len(doc.pools)
        for s, e in doc.names:
            assert doc.text[s:e].strip() == doc.text[s:e] and doc.text[s:e][:1].isalpha()
    assert {p for d in docs for p in d.pools} == {"known", "held_out"}


def test_scoring_counts_half_found_names_as_missed() -> None:
    docs = generate_name_corpus(5, seed=5)
    whole = score_names(docs, lambda texts: [list(d.names) for d in docs])
    assert whole.precision == 1.0 and whole.recall == 1.0
    halves = score_names(docs, lambda texts: [[(s, s + 1) for s, _ in d.names] for d in docs])
    assert halves.precision == 1.0 and halves.recall == pytest.approx(0.0)
    nothing = score_names(docs, lambda texts: [[] for _ in texts])
    assert nothing.recall == 0.0 and nothing.n_predicted == 0
