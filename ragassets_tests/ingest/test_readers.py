"""Readers on real files (../shared/corpora) and on a corpus of bad files built here."""

import json
import os
from pathlib import Path

import pytest

from ragassets.ingest.corpus import ingest_corpus, list_corpus_files, unaccounted_files
from ragassets.ingest.readers import decode_text, normalize_text, repair_pdf_text
from ragassets.settings import DocumentsSettings
from ragassets_tests.conftest import SAMPLE, shared_corpus


def test_normalize_text_nfc_and_line_endings():
    assert normalize_text("cafe\u0301\r\nline two  \r\n") == "caf\u00e9\nline two"


def test_pdf_repair_joins_hyphens_soft_breaks_and_ligatures():
    raw = "The experi-\nment was re-\npeated at the\nstation.\n\nNew para\ufb01t."
    assert repair_pdf_text(raw) == "The experiment was repeated at the station.\n\nNew parafit."


def test_pdf_repair_joins_a_sentence_wrapped_before_a_number_but_not_list_items():
    raw = "tests run between March and October\n2023. In total 148 lots.\nThe steps:\n1. Soak\n2. Count\n12) Sow"
    assert repair_pdf_text(raw) == (
        "tests run between March and October 2023. In total 148 lots.\nThe steps:\n1. Soak\n2. Count\n12) Sow"
    )
    assert repair_pdf_text("the crew of\n3 astronauts") == "the crew of 3 astronauts"


def test_latin1_text_is_detected():
    text, enc = decode_text("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, d\u00e9j\u00e0 vu na\u00efve fa\u00e7ade.".encode("latin-1"))
    assert text is not None and "crème brûlée" in text and enc != "utf-8"


@pytest.mark.parametrize("name", ["pdf-samples", "docx-samples"])
def test_every_shared_file_is_text_or_a_clear_rejection(name):
    folder = shared_corpus(name)
    result = ingest_corpus(folder, DocumentsSettings())
    files = {p.relative_to(folder).as_posix() for p in list_corpus_files(folder)}
    read = {d.source_path for d in result.documents}
    rejected = {r.source_path: r for r in result.rejections}
    assert read | set(rejected) == files
    for doc in result.documents:
        assert doc.text.strip() and "\r" not in doc.text
    for r in result.rejections:
        assert r.reason and len(r.detail) > 10
    assert len(read) >= len(files) // 2  # most real files read


def test_password_pdf_rejected_without_password_and_read_with_it():
    folder = shared_corpus("pdf-samples")
    without = ingest_corpus(folder, DocumentsSettings())
    rej = {r.source_path: r for r in without.rejections}["libreoffice-writer-password.pdf"]
    assert rej.detail == "encrypted PDF: set pdf_password in corpus.yaml"
    wrong = ingest_corpus(folder, DocumentsSettings(pdf_password="nope"))
    assert "does not open it" in {r.source_path: r for r in wrong.rejections}["libreoffice-writer-password.pdf"].detail
    opened = ingest_corpus(folder, DocumentsSettings(pdf_password="openpassword"))
    doc = next(d for d in opened.documents if d.source_path == "libreoffice-writer-password.pdf")
    assert "Lorem ipsum" in doc.text


def test_image_only_pdf_says_ocr_is_not_enabled():
    folder = shared_corpus("pdf-samples")
    result = ingest_corpus(folder, DocumentsSettings())
    rej = {r.source_path: r for r in result.rejections}["grayscale-image.pdf"]
    assert "OCR is not enabled" in rej.detail


def test_docx_tables_and_headings_become_markdown():
    result = ingest_corpus(SAMPLE, DocumentsSettings())
    doc = next(d for d in result.documents if d.format == "docx")
    assert doc.text.startswith("# Board Meeting Minutes")
    assert "## Budget" in doc.text
    assert "| Item | 2023 spend | 2024 budget |\n|---|---|---|\n| Envelopes and labels | 310 | 350 |" in doc.text
    assert doc.title == "Board Meeting Minutes, 12 January 2024"


def build_bad_corpus(root: Path, outside: Path) -> dict[str, str]:
    """At least 10 kinds of bad files, plus good ones; returns expected reason per file."""
    root.mkdir(parents=True)
    good_pdf = (SAMPLE / "germination-report.pdf").read_bytes()
    (root / "good.md").write_text("# Title\n\nSome real text.\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (root / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, d\u00e9j\u00e0 vu, na\u00efve.".encode("latin-1"))
    (root / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])
    (root / "notzip.docx").write_bytes(b"PK this is not really a zip archive")
    lines = [json.dumps({"text": "first good line", "id": 1}), "{broken json", json.dumps({"body": "no text key"}),
             json.dumps(["a", "list"]), json.dumps({"text": "second good line"})]
    (root / "records.jsonl").write_text("\n".join(lines) + "\n")
    (root / "all-bad.jsonl").write_text("{nope\n")
    (root / "slides.pptx").write_bytes(b"whatever")
    (root / "huge.txt").write_text("x" * (2 * 1024 * 1024))
    outside.write_text("secret outside the corpus")
    os.symlink(outside, root / "escape.txt")
    (root / "copy-of-good.md").write_bytes((root / "good.md").read_bytes())
    (root / "sub").mkdir()
    (root / "sub" / "nested.txt").write_text("nested text file")
    (root / ".DS_Store").write_bytes(b"\x00\x01")
    (root / "corpus.yaml").write_text("documents: {max_file_mb: 1}\n")  # config, not a document
    return {
        "empty.txt": "empty file",
        "binary.txt": "binary content",
        "truncated.pdf": "broken or truncated file",
        "notzip.docx": "broken or truncated file",
        "all-bad.jsonl": "bad JSONL line",
        "slides.pptx": "unsupported file type",
        "huge.txt": "file over the size limit",
        "escape.txt": "symlink leaves the corpus folder",
        ".DS_Store": "hidden file",
    }


def test_bad_input_corpus_every_file_accounted_for(tmp_path):
    root = tmp_path / "bad"
    expected = build_bad_corpus(root, tmp_path / "outside.txt")
    result = ingest_corpus(root, DocumentsSettings(max_file_mb=1))
    reasons = {}
    for r in result.rejections:
        reasons.setdefault(r.source_path, set()).add(r.reason)
    for path, reason in expected.items():
        assert reason in reasons.get(path, set()), (path, reasons.get(path))
    read = {d.source_path for d in result.documents}
    # files with identical bytes: one document, the other noted as its duplicate
    pair = {"good.md", "copy-of-good.md"}
    assert len(pair & read) == 1 and any("duplicate" in reasons.get(p, set()) for p in pair)
    assert {"latin1.txt", "records.jsonl", "sub/nested.txt"} <= read
    assert unaccounted_files(root, read, set(reasons)) == []
    assert result.files_seen == 14  # corpus.yaml is configuration, not a file of the corpus
    # JSONL: good lines kept, bad lines rejected with their line numbers
    jsonl = [d for d in result.documents if d.source_path == "records.jsonl"]
    assert [d.text for d in jsonl] == ["first good line", "second good line"]
    assert jsonl[0].metadata == {"id": 1, "line": 1}
    details = sorted(r.detail for r in result.rejections if r.source_path == "records.jsonl")
    assert [d.split(":")[0] for d in details] == ["line 2", "line 3", "line 4"]
    assert "jsonl_text_key" in details[1]
    assert "crème brûlée" in next(d.text for d in result.documents if d.source_path == "latin1.txt")
    assert "outside" not in " ".join(d.text for d in result.documents)


def test_ids_are_content_hashes_and_stable(tmp_path):
    a = ingest_corpus(SAMPLE, DocumentsSettings())
    b = ingest_corpus(SAMPLE, DocumentsSettings())
    assert [d.doc_id for d in a.documents] == [d.doc_id for d in b.documents]
    assert len({d.doc_id for d in a.documents}) == len(a.documents)
