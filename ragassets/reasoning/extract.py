"""Find the final answer in a model's solution: a math answer, or a Python program.

Math, in order of trust (the first that is found wins):

1. the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced, as MATH solutions write it;
2. the last "the answer is ..." / "final answer: ..." (the seed's prompt asks for
   "Therefore, the answer is ..."), up to the end of its sentence;
3. the last number in the text.

What is found is cleaned of wrapping (``$...$``, ``\\(...\\)``, bold, a final period). A phrase with
no digit and no mathematics in it ("the answer is not determined", "I don't know") is not an answer:
it counts as ``no_answer``, not as a wrong one, so the pass-rate report can tell a model that does
not conclude from one that concludes wrongly.

Code: the last fenced code block marked python (or unmarked), else None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Method = Literal["boxed", "answer_is", "last_number"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_IS = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*(?::\s*)?(?P<rest>[^\n]*)", re.IGNORECASE
)
_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d])|(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?")
_FENCE = re.compile(r"```[ \t]*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)(?:```|\Z)", re.DOTALL)
_MATHY = re.compile(r"[\d\\^_=+\-*/()\[\]{}<>√π∞]|\b[a-zA-Z]\b")
_NON_ANSWER = re.compile(
    r"\b(not|cannot|can't|unknown|undetermined|unclear|impossible|don't|do not|no solution|none)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extracted:
    text: str
    method: Method


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` with balanced braces (``\\boxed 5``
    without braces too), or None."""
    found = None
    for m in _BOXED.finditer(text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{" and text[j - 1] != "\\":
                    depth += 1
                elif text[j] == "}" and text[j - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        found = text[i + 1 : j]
                        break
                j += 1
        else:
            word = re.match(r"[^\s$]+", text[i:])
            if word:
                found = word.group(0)
    return found.strip() if found is not None else None


def _strip_wrapping(s: str) -> str:
    s = s.strip()
    for _ in range(3):
        before = s
        s = s.strip().rstrip(".;,!").strip()
        s = re.sub(r"^\*\*(.*)\*\*$", r"\1", s).strip("*").strip()
        s = re.sub(r"^\$+(.*?)\$+$", r"\1", s, flags=re.DOTALL)
        s = re.sub(r"^\\\((.*)\\\)$", r"\1", s, flags=re.DOTALL)
        s = re.sub(r"^\\\[(.*)\\\]$", r"\1", s, flags=re.DOTALL)
        if s == before:
            break
    return s.strip()


def _sentence(rest: str) -> str:
    """The answer phrase up to the end of its sentence (a period followed by a space or the end,
    not a decimal point), a boxed answer inside it preferred."""
    boxed = last_boxed(rest)
    if boxed is not None:
        return boxed
    cut = re.search(r"\.(?=\s|$)(?<!\d\.)|\.(?=\s+[A-Z])", rest)
    if cut:
        rest = rest[: cut.start()]
    return rest


def is_answer_like(s: str) -> bool:
    """False for empty text and for words without mathematics ("not determined", "unknown")."""
    s = s.strip()
    if not s:
        return False
    if re.search(r"\d", s):
        return True
    if _NON_ANSWER.search(s):
        return False
    words = re.findall(r"[A-Za-z]{2,}", s)
    if len(words) >= 2 and not re.search(r"\\[a-zA-Z]+", s):
        return False  # prose, not an expression
    return bool(_MATHY.search(s))


def extract_math_answer(text: str) -> Extracted | None:
    """The final answer of a math solution, or None when it gives none (see the module docstring)."""
    if not text or not text.strip():
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        ans = _strip_wrapping(boxed)
        return Extracted(ans, "boxed") if is_answer_like(ans) else None
    matches = list(_ANSWER_IS.finditer(text))
    if matches:
        ans = _strip_wrapping(_sentence(matches[-1].group("rest")))
        if is_answer_like(ans):
            return Extracted(ans, "answer_is")
        return None  # it concluded, with something that is not an answer
    numbers = _NUMBER.findall(text)
    if numbers:
        return Extracted(numbers[-1], "last_number")
    return None


def reference_from_solution(solution: str) -> str | None:
    """The reference answer of a MATH-style worked solution: its last ``\\boxed{}``."""
    boxed = last_boxed(solution or "")
    return _strip_wrapping(boxed) if boxed else None


def extract_code(text: str) -> str | None:
    """The last fenced Python code block (```python, ```py, or unmarked ```), or None."""
    if not text:
        return None
    blocks = [m for m in _FENCE.finditer(text) if m.group("body").strip()]
    python = [m for m in blocks if m.group("lang").lower() in ("python", "python3", "py", "")]
    if not python:
        return None
    return python[-1].group("body").rstrip() + "\n"
