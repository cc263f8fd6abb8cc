"""``questions.json``: the questions of a corpus in AutoDidact's format, which its users already read.

AutoDidact writes a JSON list of ``{"chunk_id", "question", "answer", "difficulty"}`` objects. This
file is the same list with our stable ``chunk_id`` (a hash, not a list position) and one more key,
``question_id``, so a record can be traced back to the ``questions`` table. Keys are written in a
fixed order and the file is replaced atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ragassets.storage import atomic_write_text

FIELDS = ("chunk_id", "question", "answer", "difficulty", "question_id")
DIFFICULTIES = frozenset({"easy", "medium", "hard"})


class QuestionsFileError(ValueError):
    """A questions.json that is not what this module writes; the message names the record and key."""


def to_records(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The records of questions.json from rows holding at least the :data:`FIELDS` (table rows)."""
    out = []
    for i, row in enumerate(rows):
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise QuestionsFileError(f"row {i} lacks {missing}; a questions.json record needs {', '.join(FIELDS)}")
        out.append({k: str(row[k]) for k in FIELDS})
    return out


def write_questions_json(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write the records of ``rows`` to ``path`` (UTF-8, indented, atomic); returns how many."""
    records = to_records(rows)
    for i, r in enumerate(records):
        _validate(r, i, path)
    atomic_write_text(Path(path), json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    return len(records)


def _validate(record: Any, i: int, where: Path | str) -> None:
    if not isinstance(record, dict):
        raise QuestionsFileError(f"{where}: record {i} is a {type(record).__name__}, expected an object")
    missing = [k for k in FIELDS if k not in record]
    if missing:
        raise QuestionsFileError(f"{where}: record {i} lacks {', '.join(missing)}")
    for k in FIELDS:
        if not isinstance(record[k], str) or not record[k].strip():
            raise QuestionsFileError(f"{where}: record {i} has an empty or non-text {k!r}")
    if record["difficulty"] not in DIFFICULTIES:
        raise QuestionsFileError(
            f"{where}: record {i} has difficulty {record['difficulty']!r}; expected easy, medium or hard"
        )


def read_questions_json(path: Path) -> list[dict[str, str]]:
    """The records of a questions.json, validated (keys present, texts non-empty, difficulty known)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise QuestionsFileError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise QuestionsFileError(f"{path}: expected a JSON list of question records, got {type(data).__name__}")
    for i, r in enumerate(data):
        _validate(r, i, path)
    return [{k: r[k] for k in FIELDS} for r in data]
