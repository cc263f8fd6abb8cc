"""Readers that turn one file into documents, or into a rejection a person understands.

Every reader returns a :class:`ReadResult`: zero or more :class:`Document` and zero or more
:class:`Rejection`. A reader never raises for bad input; it explains. Text comes out as Unicode NFC
with ``\\n`` line endings. No Dagster import.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragassets.settings import DocumentsSettings

# Reasons are short, stable, and grouped in metadata; `detail` carries the specifics.
UNSUPPORTED = "unsupported file type"
EMPTY = "empty file"
NO_TEXT = "no extractable text"
TOO_LARGE = "file over the size limit"
SYMLINK_OUTSIDE = "symlink leaves the corpus folder"
UNDECODABLE = "undecodable text"
BINARY = "binary content"
BROKEN = "broken or truncated file"
ENCRYPTED = "password-protected file"
BAD_LINE = "bad JSONL line"
DUPLICATE = "duplicate"
HIDDEN = "hidden file"
UNREADABLE = "unreadable file"


@dataclass
class Document:
    source_path: str
    format: str
    title: str
    text: str
    doc_id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.title = clean_title(self.title)


@dataclass
class Rejection:
    source_path: str
    reason: str
    detail: str


@dataclass
class ReadResult:
    documents: list[Document] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def content_hash(data: bytes) -> str:
    """The id of a file's content: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


def normalize_text(text: str) -> str:
    """Unicode NFC, ``\\n`` line endings, no trailing spaces, no NULs, at most two blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text.strip()


_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")
# a line break inside a sentence: the line before does not end one, and the next line goes on in
# lower case, with a bracket, or with a number that is not a list marker ("October\n2023. In total"
# joins; "steps:\n2. Open" and "\n12) Close" stay)
_SOFT_BREAK = re.compile(r"(?<=[^\n.!?:;])\n(?=[a-z(]|\d(?!\d?[.)](?:\s|$)))")


_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"})


def repair_pdf_text(text: str) -> str:
    """Undo the line breaks and ligatures of PDF text extraction.

    ``exam-\\nple`` becomes ``example``; a single line break inside a sentence (the line before does
    not end one; the next starts in lower case, with a bracket, or with a number that is not a list
    marker) becomes a space; typographic ligatures (``ﬁ``) become letters. Blank lines stay:
    they are paragraph breaks.
    """
    text = _HYPHEN_BREAK.sub(r"\1\2", text.translate(_LIGATURES))
    return _SOFT_BREAK.sub(" ", text)


def clean_title(title: str) -> str:
    """One line, no control characters, at most 120 characters."""
    title = "".join(ch for ch in title if ch.isprintable() or ch == " ")
    return " ".join(title.split())[:120]


def _first_line_title(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return ""


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return control > max(8, len(sample) // 20)


def decode_text(data: bytes) -> tuple[str | None, str]:
    """Decode bytes of a text file: UTF-8 (with or without BOM) first, else the detected encoding.

    Returns ``(text, encoding)``, or ``(None, why)`` when the bytes are not text.
    """
    if _looks_binary(data):
        return None, "the file holds binary bytes (NUL or control characters), not text"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None, "no text encoding fits these bytes; save the file as UTF-8"
    # Short texts fit several single-byte encodings equally well; among the equally good ones prefer
    # Windows-1252 (a superset of Latin-1), by far the most common legacy encoding of text files.
    top = min((m.chaos, -m.coherence) for m in matches)
    tied = [m for m in matches if (m.chaos, -m.coherence) == top]
    best = next((m for m in tied if m.encoding in ("cp1252", "latin_1", "iso8859_15")), tied[0])
    return str(best), best.encoding


def _text_reader(fmt: str) -> Callable[[Path, bytes, str, DocumentsSettings], ReadResult]:
    def read(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
        text, encoding = decode_text(data)
        if text is None:
            reason = BINARY if "binary" in encoding else UNDECODABLE
            return ReadResult(rejections=[Rejection(rel, reason, encoding)])
        text = normalize_text(text)
        if not text:
            return ReadResult(rejections=[Rejection(rel, NO_TEXT, "the file holds only whitespace")])
        meta = {"encoding": encoding}
        return ReadResult([Document(rel, fmt, _first_line_title(text), text, content_hash(data), meta)])

    return read


def read_html(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
    """Visible text of an HTML page: scripts, styles and hidden elements dropped."""
    from bs4 import BeautifulSoup

    text, encoding = decode_text(data)
    if text is None:
        return ReadResult(rejections=[Rejection(rel, UNDECODABLE, encoding)])
    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    body = normalize_text(soup.get_text("\n"))
    body = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", body)
    if not body:
        return ReadResult(rejections=[Rejection(rel, NO_TEXT, "the page has no visible text")])
    doc = Document(rel, "html", title or _first_line_title(body), body, content_hash(data), {"encoding": encoding})
    return ReadResult([doc])


def read_pdf(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
    """Text of a PDF, page by page (pypdf), with line-break and hyphenation repair."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            opened = False
            for password in ("", settings.pdf_password):
                if password is None:
                    continue
                try:
                    if reader.decrypt(password):
                        opened = True
                        break
                except (FileNotDecryptedError, NotImplementedError):
                    continue
            if not opened:
                detail = (
                    "encrypted PDF: the pdf_password in corpus.yaml does not open it"
                    if settings.pdf_password
                    else "encrypted PDF: set pdf_password in corpus.yaml"
                )
                return ReadResult(rejections=[Rejection(rel, ENCRYPTED, detail)])
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
        pdf_title = (info.title or "").strip() if info else ""
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AssertionError, RecursionError) as exc:
        return ReadResult(rejections=[Rejection(rel, BROKEN, f"pypdf could not read this PDF: {exc}")])
    page_texts = [repair_pdf_text(normalize_text(p)) for p in pages]
    text = "\n\n".join(t for t in page_texts if t)
    if not text.strip():
        detail = f"{len(pages)} page(s) with no text layer (scanned PDF? OCR is not enabled)"
        return ReadResult(rejections=[Rejection(rel, NO_TEXT, detail)])
    starts, pos = [], 0
    for t in page_texts:
        starts.append(pos)
        if t:
            pos += len(t) + 2
    meta = {"pages": len(pages), "page_starts": starts, "encrypted": reader.is_encrypted}
    title = pdf_title if pdf_title and pdf_title.lower() != "untitled" else _first_line_title(text)
    return ReadResult([Document(rel, "pdf", title, text, content_hash(data), meta)])


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _docx_table_markdown(table: Any) -> str:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # merged cells repeat the same cell object; keep one
            key = id(cell._tc)
            if key in seen:
                continue
            seen.add(key)
            cells.append(_md_cell(cell.text))
        rows.append(cells)
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def read_docx(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
    """Paragraphs and tables of a Word file in document order; headings and tables as Markdown."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(data)):
        head = data[:8]
        why = "it is an OLE file: an old .doc or an encrypted .docx" if head.startswith(b"\xd0\xcf\x11\xe0") else (
            "it is not a zip archive, so not a Word .docx file"
        )
        reason = ENCRYPTED if head.startswith(b"\xd0\xcf\x11\xe0") else BROKEN
        return ReadResult(rejections=[Rejection(rel, reason, why)])
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        return ReadResult(rejections=[Rejection(rel, BROKEN, f"python-docx could not open it: {exc}")])
    blocks: list[str] = []
    title = (document.core_properties.title or "").strip()
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            md = _docx_table_markdown(item)
            if md:
                blocks.append(md)
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = 0
        if style == "Title":
            level = 1
        elif m := re.match(r"Heading (\d)", style):
            level = min(int(m.group(1)), 6)
        if level:
            blocks.append("#" * level + " " + " ".join(text.split()))
            title = title or text
        elif style.startswith("List"):
            blocks.append("- " + text)
        else:
            blocks.append(text)
    body = normalize_text("\n\n".join(blocks))
    if not body:
        return ReadResult(rejections=[Rejection(rel, NO_TEXT, "the Word file has no text in its body")])
    meta = {"paragraphs": len(document.paragraphs), "tables": len(document.tables)}
    return ReadResult([Document(rel, "docx", title or _first_line_title(body), body, content_hash(data), meta)])


def read_jsonl(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
    """One document per line, text under ``jsonl_text_key``; other keys kept as metadata.

    A bad line is rejected with its line number; the rest of the file is kept.
    """
    text, encoding = decode_text(data)
    if text is None:
        return ReadResult(rejections=[Rejection(rel, UNDECODABLE, encoding)])
    file_id = content_hash(data)
    key, title_key = settings.jsonl_text_key, settings.jsonl_title_key
    out = ReadResult()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            out.rejections.append(Rejection(rel, BAD_LINE, f"line {lineno}: not valid JSON ({exc.msg})"))
            continue
        if not isinstance(record, dict):
            out.rejections.append(Rejection(rel, BAD_LINE, f"line {lineno}: expected a JSON object"))
            continue
        value = record.get(key)
        if not isinstance(value, str):
            what = "is missing" if value is None else f"is a {type(value).__name__}, not a string"
            out.rejections.append(
                Rejection(rel, BAD_LINE, f"line {lineno}: key '{key}' {what} (set documents.jsonl_text_key)")
            )
            continue
        body = normalize_text(value)
        if not body:
            out.rejections.append(Rejection(rel, BAD_LINE, f"line {lineno}: key '{key}' is empty"))
            continue
        meta = {k: v for k, v in record.items() if k != key}
        meta["line"] = lineno
        title = record.get(title_key) if isinstance(record.get(title_key), str) else _first_line_title(body)
        doc_id = hashlib.sha256(f"{file_id}:{lineno}".encode()).hexdigest()[:16]
        out.documents.append(Document(rel, "jsonl", title, body, doc_id, meta))
    if not out.documents and not out.rejections:
        out.rejections.append(Rejection(rel, NO_TEXT, "the file has no non-empty lines"))
    return out


READERS: dict[str, tuple[str, Callable[[Path, bytes, str, DocumentsSettings], ReadResult]]] = {
    ".txt": ("txt", _text_reader("txt")),
    ".text": ("txt", _text_reader("txt")),
    ".md": ("md", _text_reader("md")),
    ".markdown": ("md", _text_reader("md")),
    ".pdf": ("pdf", read_pdf),
    ".docx": ("docx", read_docx),
    ".jsonl": ("jsonl", read_jsonl),
    ".html": ("html", read_html),
    ".htm": ("html", read_html),
}


def read_file(path: Path, data: bytes, rel: str, settings: DocumentsSettings) -> ReadResult:
    """Read one file's bytes with the reader for its extension."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        supported = ", ".join(sorted(READERS))
        return ReadResult(rejections=[Rejection(rel, UNSUPPORTED, f"'{suffix or path.name}' is not one of {supported}")])
    if not data:
        return ReadResult(rejections=[Rejection(rel, EMPTY, "the file has 0 bytes")])
    return READERS[suffix][1](path, data, rel, settings)
