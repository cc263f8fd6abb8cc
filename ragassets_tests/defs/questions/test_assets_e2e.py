"""End to end: paraphrased_chunks, paraphrase_index, questions and their checks, materialized by
Dagster on the sample corpus with the offline provider, and with the LLM test server."""

import json
import shutil

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml

from ragassets.generation.paraphrase_index import ID_MAP_FILE, load_paraphrase_index
from ragassets.generation.questions_json import read_questions_json
from ragassets.storage import read_table
from ragassets_tests.conftest import REPO, SAMPLE, check_results, materialize
from ragassets_tests.generation.responders import QUESTION_MARK, model_like
from ragassets_tests.llm_server import LLMTestServer

pytestmark = pytest.mark.slow

EVERYTHING = "+key:questions or +key:paraphrase_index"
QUESTION_COLUMNS = ["corpus", "question_id", "chunk_id", "question", "answer", "difficulty", "provider", "model"]
MY_CHECKS = {"paraphrase_fidelity", "paraphrase_retrieval", "questions_reference_chunks", "difficulty_values",
             "answers_grounded", "question_coverage"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data root shared by this module's tests (materializing is the slow part)."""
    data = tmp_path_factory.mktemp("gen") / "data"
    (data / "corpora").mkdir(parents=True)
    (data / "dagster_home").mkdir()
    shutil.copyfile(REPO / "dagster.yaml", data / "dagster_home" / "dagster.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGASSETS_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        yield data


@pytest.fixture(scope="module")
def offline(root):
    shutil.copytree(SAMPLE, root / "corpora" / "sample")
    return materialize("sample", EVERYTHING)


def test_offline_tables(root, offline):
    chunks = read_table("chunks", "sample", root)
    para = read_table("paraphrased_chunks", "sample", root)
    assert para.columns == ["corpus", "paraphrase_id", "chunk_id", "variant", "text", "provider", "model"]
    assert para.height > 0 and set(para["provider"]) == {"offline"}
    assert set(para["chunk_id"]) <= set(chunks["chunk_id"]) and para["paraphrase_id"].n_unique() == para.height
    q = read_table("questions", "sample", root)
    assert q.columns == QUESTION_COLUMNS
    assert q.height > 0 and set(q["chunk_id"]) <= set(chunks["chunk_id"])
    assert set(q["difficulty"]) <= {"easy", "medium", "hard"} and set(q["provider"]) == {"offline"}
    outcomes = read_table("question_outcomes", "sample", root)
    assert sorted(outcomes["chunk_id"]) == sorted(chunks["chunk_id"])  # every chunk accounted for
    assert outcomes["kept"].sum() == q.height


def test_questions_json_export_round_trips(root, offline):
    q = read_table("questions", "sample", root)
    records = read_questions_json(root / "exports" / "sample" / "questions.json")
    assert records == [
        {k: r[k] for k in ("chunk_id", "question", "answer", "difficulty", "question_id")}
        for r in q.iter_rows(named=True)
    ]


def test_paraphrase_index_artifact_and_export(root, offline):
    para = read_table("paraphrased_chunks", "sample", root)
    index, id_map, spec, manifest = load_paraphrase_index(root / "artifacts" / "paraphrase_index" / "sample")
    assert index.ntotal == para.height == manifest["n_vectors"]
    assert [(r["paraphrase_id"], r["chunk_id"]) for r in id_map] == list(
        zip(para["paraphrase_id"], para["chunk_id"])
    )
    chunk_spec = json.loads((root / "artifacts" / "chunk_index" / "sample" / "embedder.json").read_text())
    assert spec["model"] == chunk_spec["model"] and spec["dimension"] == chunk_spec["dimension"]
    export = root / "exports" / "sample" / "paraphrase_index"
    assert {p.name for p in export.iterdir()} >= {"index.faiss", "ids.json", "embedder.json", ID_MAP_FILE}
    # a stored vector finds its own row first
    _, rows = index.search(np.asarray([index.reconstruct(0)]), 1)
    assert rows[0][0] == 0


def _pii_gates(result) -> dict[str, bool]:
    """asset -> passed, for the no_residual_pii checks that ran."""
    return {
        e.event_specific_data.asset_key.to_user_string(): e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == "no_residual_pii"
    }


def test_offline_checks(offline):
    checks = check_results(offline)
    assert MY_CHECKS <= set(checks)
    gates = _pii_gates(offline)
    assert gates["questions"] and gates["paraphrased_chunks"]
    for name in ("questions_reference_chunks", "difficulty_values", "answers_grounded", "question_coverage",
                 "paraphrase_retrieval"):
        assert checks[name].passed, (name, checks[name].description)
    retrieval = checks["paraphrase_retrieval"].metadata
    assert retrieval["recall_at_1"].value >= 0.9 and "recall_at_k_plot" in retrieval
    assert retrieval["recall_at_k_plot"].value.startswith("![")
    # fidelity is a quality figure: a warning at most, with its counts and histogram
    fidelity = checks["paraphrase_fidelity"]
    assert fidelity.severity == dg.AssetCheckSeverity.WARN
    meta = fidelity.metadata
    assert meta["too_close"].value + meta["too_far"].value <= 18
    assert "fidelity_histogram" in meta


def test_through_the_test_server(root, offline):
    """Prompts carry the window, parsed answers land in the table, failures are explained, answers
    that the window does not support fail the grounding check, and a re-run asks nothing again."""
    seen: list[dict] = []

    def responder(body):
        seen.append(body)
        first_user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        current = first_user.split('CURRENT passage:\n"""\n')[-1]
        if "CURRENT passage" in first_user and "FABRICATE" in current:  # an answer the text does not support
            return json.dumps({"questions": [{"question": f"{QUESTION_MARK} What lives in the cupboard?",
                                              "answer": "seventeen purple elephants since 1985", "difficulty": "hard"}]})
        return model_like(body)

    corpus = root / "corpora" / "served"
    shutil.copytree(SAMPLE, corpus)
    (corpus / "fabricate.md").write_text(
        "# Notes\n\nFABRICATE marker. The seed library keeps its ledgers in the ferry office cupboard.\n"
    )
    (corpus / "broken.md").write_text(
        "# Broken\n\nUNPARSEABLE marker. The volunteers meet every second Tuesday in the library hall.\n"
    )
    with LLMTestServer(responder=responder) as srv:
        (corpus / "corpus.yaml").write_text(yaml.safe_dump({
            "llm": {"provider": "openai", "base_url": srv.base_url, "model": "test-model", "max_repairs": 1},
            "questions": {"min_grounded": 1.0},
        }))
        result = materialize("served", "+key:questions or +key:paraphrased_chunks")
        first_round = srv.stats()["chat_requests"]
        again = materialize("served", "key:questions")
        assert srv.stats()["chat_requests"] == first_round  # every answer came from the response cache
    assert again.success

    chunks = read_table("chunks", "served", root).sort(["doc_id", "seq"])
    by_doc = chunks.partition_by("doc_id", as_dict=False, maintain_order=True)
    prompts = {}
    for body in seen:
        user = body["messages"][-1]["content"]
        if len(body["messages"]) == 2 and "CURRENT passage" in user:
            prompts[user.split('CURRENT passage:\n"""\n')[1].split('\n"""')[0]] = user
    checked = 0
    for doc in by_doc:
        texts = doc["text"].to_list()
        for i, text in enumerate(texts):
            if len(text.split()) < 5:  # too short to ask about: not sent
                continue
            user = prompts[text.strip()]
            if i > 0:
                assert f'Previous passage (context only):\n"""\n{texts[i - 1].strip()}' in user
            else:
                assert "Previous passage" not in user
            if i + 1 < len(texts):
                assert f'Next passage (context only):\n"""\n{texts[i + 1].strip()}' in user
            else:
                assert "Next passage" not in user
            checked += 1
    assert checked >= 15 and any(len(d) > 2 for d in by_doc)  # several multi-chunk documents were seen

    q = read_table("questions", "served", root)
    assert q.height > 0 and all(x.startswith(QUESTION_MARK) for x in q["question"])
    assert set(q["provider"]) == {"openai"} and set(q["model"]) == {"test-model"}
    assert set(read_questions_json(root / "exports" / "served" / "questions.json")[0]) >= {"question_id"}

    para = read_table("paraphrased_chunks", "served", root)
    assert para.height == chunks.height and set(para["provider"]) == {"openai"}
    paraphrase_prompts = [b["messages"][-1]["content"] for b in seen if "Passage:" in b["messages"][-1]["content"]]
    for cid, text in para.select("chunk_id", "text").iter_rows():
        original = chunks.filter(pl.col("chunk_id") == cid)["text"][0]
        assert any(f'"""\n{original.strip()}\n"""' in u for u in paraphrase_prompts)  # the chunk was sent
        assert not text.startswith("Here is")  # the responder's preamble was cleaned off
        assert sorted(text.split()) == sorted(" ".join(original.split()).split())  # its reordered sentences

    outcomes = read_table("question_outcomes", "served", root)
    broken = outcomes.join(chunks.select("chunk_id", "text"), on="chunk_id").filter(
        pl.col("text").str.contains("UNPARSEABLE")
    )
    assert broken["status"].to_list() == ["parse_failure"]

    checks = check_results(result)
    grounded = checks["answers_grounded"]
    assert not grounded.passed and grounded.severity == dg.AssetCheckSeverity.WARN
    examples = grounded.metadata["ungrounded_examples"].value
    assert [e["answer"] for e in examples] == ["seventeen purple elephants since 1985"]
    coverage = checks["question_coverage"].metadata
    assert coverage["without_questions/parse_failure"].value == 1
    assert coverage["examples_by_reason"].value["parse_failure"][0]["error"] == "parse_error"


def test_an_unreachable_server_fails_the_step_with_what_to_check(root):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    corpus = root / "corpora" / "down"
    shutil.copytree(SAMPLE, corpus)
    (corpus / "corpus.yaml").write_text(yaml.safe_dump({
        "llm": {"provider": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "max_retries": 0},
    }))
    result = materialize("down", "+key:questions", expect_success=False)
    assert not result.success
    failures = [str(e.event_specific_data) for e in result.all_events if e.is_failure]
    # the server check before the first request names the server and the setting to fix
    assert any("is down or unreachable" in f and "llm.base_url" in f for f in failures), failures
    # as a dg.Failure: the UI shows the message, not a ServerUnavailable stack trace
    errors = [e.event_specific_data.error for e in result.all_events if e.is_step_failure]
    assert [err.cls_name for err in errors] == ["Failure"], errors
