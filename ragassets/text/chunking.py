"""Structure-aware chunking of Markdown text, sized in tokens of the embedder's tokenizer.

Why not fixed-size character windows: cutting a report into 1,000-character pieces ends most chunks
mid-sentence and cuts tables in half, so the pieces a question generator or a retriever sees are
fragments. Here a document is cut where a person would cut it:

1. by the Markdown heading hierarchy (every ATX heading starts a section; a chunk never spans two
   sections; a heading with no text of its own is carried into the next section's first chunk);
2. inside a section, between blocks (paragraphs, lists, tables, code blocks) packed greedily up to
   ``chunk_size`` tokens, with chunk sizes balanced so a section does not end in a tiny remainder;
3. a block larger than a chunk is cut between list items, then between sentences; a single
   sentence is cut at token boundaries (between words) only when it alone is over the size;
4. tables (Markdown pipe tables and HTML ``<table>``) and fenced code blocks are kept whole when they
   fit the embedder's window ``max_tokens`` (they may exceed ``chunk_size``, prose never does);
   a larger table is cut between rows with the header row(s) repeated in every part, a larger code
   block between lines with its fences repeated.

Neighbouring prose chunks of one section share up to ``chunk_overlap`` tokens of whole sentences
(never part of a sentence, never table rows or code).

Every chunk records ``char_start``/``char_end`` into the document text. For prose and whole tables
``text == document[char_start:char_end]``; for a part of a split table the text is the header plus
that part's rows, and the span covers those rows. :func:`coverage` measures how much of a document
the spans cover, so lost content is detectable.

No Dagster import: the ``chunks`` asset calls :func:`chunk_frame`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ragassets.text.sentences import CLOSERS, LATIN_END, WIDE_END, sentence_spans
from ragassets.text.tokens import TokenCounter

# --------------------------------------------------------------------------------------------------
# Blocks: the Markdown structure of a document, with character offsets

HEADING_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
LIST_ITEM_RE = re.compile(r"^( *)(?:[-*+•]|\d{1,9}[.)])[ \t]+\S")
HTML_TABLE_TAG_RE = re.compile(r"<table\b|</table\s*>", re.IGNORECASE)
HTML_ROW_RE = re.compile(r"<tr\b.*?</tr\s*>", re.IGNORECASE | re.DOTALL)
HTML_CELL_RE = re.compile(r"<t[dh]\b.*?</t[dh]\s*>", re.IGNORECASE | re.DOTALL)
MD_CELL_RE = re.compile(r"(?<!\\)\|")
ROWSPAN_RE = re.compile(r"rowspan\s*=\s*[\"']?(\d+)", re.IGNORECASE)
THEAD_END_RE = re.compile(r"</thead\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Block:
    """A structural unit of a Markdown document: ``text[start:end]`` (no trailing newline)."""

    kind: str  # heading | paragraph | list | table | html_table | code
    start: int
    end: int
    level: int = 0  # heading level 1-6
    title: str = ""  # heading text


def _is_md_delimiter(line: str) -> bool:
    s = line.strip()
    return bool(s) and "-" in s and set(s) <= set("|:- \t") and ("|" in s or s.count("-") >= 3 and ":" in s)


def _starts_html_table(line: str) -> bool:
    s = line.lstrip()
    return s.startswith("<") and "<table" in s.lower()


def _html_table_end(text: str, pos: int) -> int | None:
    """Offset just after the ``</table>`` that closes the table opened at or after ``pos``."""
    depth = 0
    for m in HTML_TABLE_TAG_RE.finditer(text, pos):
        if m.group(0).lower().startswith("<table"):
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return m.end()
    return None


def parse_blocks(text: str) -> list[Block]:
    """Split Markdown ``text`` into headings, paragraphs, lists, tables and code blocks.

    A pragmatic, offset-preserving reading of CommonMark block structure: ATX headings, fenced code,
    pipe tables (header line + delimiter row), HTML tables (as OCR and PDF converters emit them),
    bullet and numbered lists, and paragraphs separated by blank lines.
    """
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    pos = 0
    for line in lines:
        starts.append(pos)
        pos += len(line)
    n = len(lines)

    def line_end(i: int) -> int:  # end of line i without its newline
        return starts[i] + len(lines[i].rstrip("\r\n"))

    def starts_block(i: int) -> bool:
        line = lines[i]
        return bool(
            HEADING_RE.match(line.rstrip("\r\n"))
            or FENCE_RE.match(line)
            or _starts_html_table(line)
            or ("|" in line and i + 1 < n and _is_md_delimiter(lines[i + 1]))
        )

    blocks: list[Block] = []
    i = 0
    while i < n:
        line = lines[i]
        bare = line.rstrip("\r\n")
        if not bare.strip():
            i += 1
            continue
        if m := FENCE_RE.match(line):
            fence = m.group(1)
            close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
            j = i + 1
            while j < n and not close.match(lines[j].rstrip("\r\n")):
                j += 1
            j = min(j, n - 1)
            blocks.append(Block("code", starts[i], line_end(j)))
            i = j + 1
            continue
        if m := HEADING_RE.match(bare):
            title = m.group(2).strip()
            blocks.append(Block("heading", starts[i], line_end(i), level=len(m.group(1)), title=title))
            i += 1
            continue
        if _starts_html_table(line):
            end = _html_table_end(text, starts[i] + line.lower().index("<table"))
            if end is not None:
                j = i
                while j + 1 < n and starts[j + 1] <= end - 1:
                    j += 1
                blocks.append(Block("html_table", starts[i], line_end(j)))
                i = j + 1
                continue
        if "|" in line and i + 1 < n and _is_md_delimiter(lines[i + 1]):
            j = i + 1
            while j + 1 < n and lines[j + 1].strip() and "|" in lines[j + 1]:
                j += 1
            blocks.append(Block("table", starts[i], line_end(j)))
            i = j + 1
            continue
        if LIST_ITEM_RE.match(line):
            j = i
            while j + 1 < n:
                nxt = lines[j + 1]
                if nxt.strip():
                    if starts_block(j + 1):
                        break
                    j += 1
                    continue
                # a blank line: the list goes on if the next non-blank line is an item or indented
                k = j + 1
                while k < n and not lines[k].strip():
                    k += 1
                if k < n and (LIST_ITEM_RE.match(lines[k]) or lines[k].startswith(("  ", "\t"))):
                    j = k
                    continue
                break
            blocks.append(Block("list", starts[i], line_end(j)))
            i = j + 1
            continue
        j = i
        while j + 1 < n and lines[j + 1].strip() and not starts_block(j + 1) and not LIST_ITEM_RE.match(lines[j + 1]):
            j += 1
        blocks.append(Block("paragraph", starts[i], line_end(j)))
        i = j + 1
    return blocks


# --------------------------------------------------------------------------------------------------
# Units and packing


@dataclass
class _Unit:
    start: int
    end: int
    n: int
    kind: str  # heading | prose | piece | table | code
    text: str | None = None  # set when the text is not document[start:end] (a part of a split table)
    alone: bool = False  # must be a chunk of its own (split table part, code over the size)
    overlap: bool = False  # may be repeated at the start of the next chunk


@dataclass(frozen=True)
class Chunk:
    """One chunk of one document (offsets into that document's text)."""

    seq: int
    text: str
    char_start: int
    char_end: int
    n_tokens: int
    heading_path: tuple[str, ...]
    kind: str = "text"  # text (prose only, at most chunk_size) | table | code (may fill the window)


@dataclass
class ChunkStats:
    """What the chunker did, summed over documents; shown in the asset's metadata."""

    tables_whole: int = 0
    tables_split_by_rows: int = 0
    tables_header_not_repeated: int = 0  # header so large that it stays in the first part only
    tables_cut_inside_row: int = 0  # a row longer than a whole chunk: cut between cells
    code_blocks_whole: int = 0
    code_blocks_split: int = 0
    sentences_cut: int = 0  # single sentences longer than a chunk, cut between words
    empty_sections_carried: int = 0

    def add(self, other: ChunkStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Section:
    path: tuple[str, ...]
    blocks: list[Block] = field(default_factory=list)
    headings: list[Block] = field(default_factory=list)  # the heading(s) that open it (carried ones first)


class Chunker:
    """Cuts documents into chunks of at most ``chunk_size`` tokens of ``counter``'s tokenizer.

    ``max_tokens`` is the embedder's window (in content tokens): tables and code blocks up to it are
    kept whole even when over ``chunk_size`` (prose never is). ``chunk_overlap`` tokens of whole
    sentences are repeated between neighbouring prose chunks of a section.
    """

    def __init__(
        self,
        counter: TokenCounter,
        chunk_size: int = 200,
        chunk_overlap: int = 24,
        max_tokens: int | None = None,
    ):
        if chunk_size <= 8:
            raise ValueError(f"chunk_size must be more than 8 tokens, got {chunk_size}")
        if not 0 <= chunk_overlap < chunk_size // 2:
            raise ValueError(
                f"chunk_overlap must be at least 0 and less than half of chunk_size ({chunk_size}), "
                f"got {chunk_overlap}"
            )
        self.counter = counter
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.max_tokens = max(max_tokens or chunk_size, chunk_size)

    # ---- public

    def chunk(self, text: str, stats: ChunkStats | None = None) -> list[Chunk]:
        """The chunks of one document, in reading order."""
        stats = stats if stats is not None else ChunkStats()
        if not text.strip():
            return []
        sections = self._sections(text, parse_blocks(text), stats)
        chunks: list[Chunk] = []
        for sec in sections:
            units = self._section_units(text, sec, stats)
            for start, end, body, n, kind in self._pack(text, units) if units else []:
                chunks.append(Chunk(len(chunks), body, start, end, n, sec.path, kind))
        return chunks

    # ---- sections

    def _sections(self, text: str, blocks: list[Block], stats: ChunkStats) -> list[_Section]:
        """Group blocks under their headings; a heading with no text is carried into the next section."""
        sections: list[_Section] = []
        stack: list[tuple[int, str]] = []
        current = _Section(path=())  # text before the first heading
        for b in blocks:
            if b.kind != "heading":
                current.blocks.append(b)
                continue
            carried: list[Block] = []
            if current.blocks:
                sections.append(current)
            elif current.headings:
                # carry the empty section's heading(s) on, unless the chain of headings grows past
                # half a chunk (a run of empty headings): then they become a chunk of their own
                texts = [text[h.start : h.end] for h in [*current.headings, b]]
                if sum(self.counter.count_many(texts)) <= self.chunk_size // 2:
                    carried = current.headings
                    stats.empty_sections_carried += 1
                else:
                    sections.append(current)
            while stack and stack[-1][0] >= b.level:
                stack.pop()
            stack.append((b.level, b.title))
            current = _Section(path=tuple(t for _, t in stack), headings=[*carried, b])
        if current.blocks or current.headings:
            # trailing heading(s) with no text stay a (small) chunk of their own: nothing is dropped
            sections.append(current)
        return sections

    # ---- units of a section

    def _section_units(self, text: str, sec: _Section, stats: ChunkStats) -> list[_Unit]:
        units: list[_Unit] = []
        head_n = 0
        if sec.headings:
            counts = self.counter.count_many([text[h.start : h.end] for h in sec.headings])
            for h, n in zip(sec.headings, counts):
                if n > self.chunk_size:  # a "heading" longer than a chunk (OCR noise): cut like prose
                    units.extend(self._sentence_units(text, h.start, h.end, self.chunk_size, stats))
                    continue
                units.append(_Unit(h.start, h.end, n, "heading"))
                head_n += n
        size = self.chunk_size
        for i, b in enumerate(sec.blocks):
            # the first block shares its chunk with the heading(s): leave them room
            budget = size - head_n if i == 0 and head_n < size // 2 else size
            units.extend(self._block_units(text, b, budget, stats))
        return units

    def _block_units(self, text: str, b: Block, budget: int, stats: ChunkStats) -> list[_Unit]:
        body = text[b.start : b.end]
        n = self.counter.count(body)
        if b.kind in ("table", "html_table"):
            # tables (like code) may use the embedder's whole window to stay in one piece
            if n <= self.max_tokens - (self.chunk_size - budget):
                stats.tables_whole += 1
                return [_Unit(b.start, b.end, n, "table")]
            return self._table_units(text, b, budget, stats)
        if b.kind == "code":
            if n <= self.max_tokens - (self.chunk_size - budget):
                stats.code_blocks_whole += 1
                return [_Unit(b.start, b.end, n, "code", alone=n > budget)]
            stats.code_blocks_split += 1
            return self._code_units(text, b, budget)
        if n <= budget:
            return [_Unit(b.start, b.end, n, "prose", overlap=True)]
        if b.kind == "list":
            out: list[_Unit] = []
            for s, e in _list_items(text, b):
                m = self.counter.count(text[s:e])
                if m <= budget:
                    out.append(_Unit(s, e, m, "prose", overlap=True))
                else:
                    out.extend(self._sentence_units(text, s, e, budget, stats))
            return out
        return self._sentence_units(text, b.start, b.end, budget, stats)

    def _sentence_units(self, text: str, start: int, end: int, budget: int, stats: ChunkStats) -> list[_Unit]:
        spans = sentence_spans(text, start, end)
        counts = self.counter.count_many([text[s:e] for s, e in spans])
        out: list[_Unit] = []
        for (s, e), m in zip(spans, counts):
            if m <= budget:
                out.append(_Unit(s, e, m, "prose", overlap=True))
                continue
            stats.sentences_cut += 1
            sentence = text[s:e]
            for ws, we in self.counter.windows(sentence, budget, self.chunk_overlap):
                piece = sentence[ws:we]
                out.append(_Unit(s + ws, s + we, self.counter.count(piece), "piece"))
        return out

    def _table_units(self, text: str, b: Block, budget: int, stats: ChunkStats) -> list[_Unit]:
        """A table over the size: parts of whole rows, each with the header row(s) repeated.

        Fallbacks, each counted in the stats: when the header is so large that header plus the
        largest row would not fit the window, the header is not repeated (it stays in the first part);
        a single row longer than a part is cut between cells (and a cell longer than a part between
        words); a table with no rows at all is cut between words.
        """
        limit = self.max_tokens - (self.chunk_size - budget)  # leave the heading its room, if any
        if b.kind == "html_table":
            rows = [(m.start(), m.end()) for m in HTML_ROW_RE.finditer(text, b.start, b.end)]
            if not rows:
                stats.tables_cut_inside_row += 1
                return self._windows_alone(text, b, limit, "table")
            n_head = _html_header_rows(text, b, rows)
            prefix, suffix = text[b.start : rows[0][0]], text[rows[-1][1] : b.end]
            head_rows, body_rows = rows[:n_head], rows[n_head:]
            header = text[head_rows[0][0] : head_rows[-1][1]] if head_rows else ""
            cell_re = HTML_CELL_RE
        else:
            lines = _line_spans(text, b.start, b.end)
            prefix = suffix = ""
            head_rows, body_rows = lines[:2], lines[2:]
            header = text[head_rows[0][0] : head_rows[-1][1]] + "\n"
            cell_re = MD_CELL_RE
        if not body_rows:  # only header rows: nothing to repeat
            head_rows, body_rows, header = [], head_rows, ""
        counts = self.counter.count_many([text[s:e] for s, e in body_rows])
        frame = self.counter.count(prefix + header + suffix)
        if header and (frame > limit // 2 or frame + max(counts) > limit):
            stats.tables_header_not_repeated += 1
            body_rows, header = head_rows + body_rows, ""
            counts = self.counter.count_many([text[s:e] for s, e in body_rows])
            frame = self.counter.count(prefix + suffix)
        room = max(8, limit - frame)
        rows_fit: list[tuple[int, int]] = []
        cut = False
        for (s, e), m in zip(body_rows, counts):
            if m <= room:
                rows_fit.append((s, e))
            else:
                cut = True
                rows_fit.extend(self._split_span(text, s, e, room, cell_re))
        stats.tables_cut_inside_row += cut
        stats.tables_split_by_rows += 1
        return self._row_parts(text, b, prefix, header, rows_fit, suffix, "table", limit)

    def _split_span(
        self, text: str, start: int, end: int, room: int, cell_re: re.Pattern[str] | None
    ) -> list[tuple[int, int]]:
        """Cut one table row (or code line) longer than ``room`` tokens between cells, else words."""
        cuts = [start]
        if cell_re is not None:
            cuts += [m.end() for m in cell_re.finditer(text, start, end) if start < m.end() < end]
        cuts.append(end)
        segs = list(itertools.pairwise(cuts))
        counts = self.counter.count_many([text[s:e] for s, e in segs])
        out: list[tuple[int, int]] = []
        cur_s, used = None, 0
        for (s, e), m in zip(segs, counts):
            if m > room:  # one cell longer than a part
                if cur_s is not None:
                    out.append((cur_s, s))
                    cur_s, used = None, 0
                out.extend((s + ws, s + we) for ws, we in self.counter.windows(text[s:e], room, 0))
                continue
            if cur_s is not None and used + m > room:
                out.append((cur_s, s))
                cur_s, used = None, 0
            if cur_s is None:
                cur_s = s
            used += m
        if cur_s is not None:
            out.append((cur_s, end))
        return out

    def _code_units(self, text: str, b: Block, budget: int) -> list[_Unit]:
        """A code block longer than the embedder's window: parts of whole lines, fences repeated."""
        limit = self.max_tokens - (self.chunk_size - budget)
        lines = _line_spans(text, b.start, b.end)
        closing = lines[-1] if len(lines) > 1 and FENCE_RE.match(text[lines[-1][0] : lines[-1][1]]) else None
        body = lines[1:-1] if closing else lines[1:]
        if not body:
            return self._windows_alone(text, b, limit, "code")
        header = text[lines[0][0] : lines[0][1]] + "\n"
        suffix = "\n" + text[closing[0] : closing[1]] if closing else ""
        room = max(8, limit - self.counter.count(header + suffix))
        counts = self.counter.count_many([text[s:e] for s, e in body])
        rows: list[tuple[int, int]] = []
        for (s, e), m in zip(body, counts):
            rows.extend([(s, e)] if m <= room else self._split_span(text, s, e, room, None))
        return self._row_parts(text, b, "", header, rows, suffix, "code", limit)

    def _row_parts(
        self,
        text: str,
        b: Block,
        prefix: str,
        header: str,
        rows: list[tuple[int, int]],
        suffix: str,
        kind: str,
        limit: int,
    ) -> list[_Unit]:
        """Group consecutive rows into parts of at most ``limit`` tokens: prefix + header + rows + suffix."""
        frame = self.counter.count(prefix + header + suffix)
        counts = self.counter.count_many([text[s:e] for s, e in rows])
        groups: list[list[int]] = []
        cur: list[int] = []
        used = frame
        for idx, m in enumerate(counts):
            if cur and used + m > limit:
                groups.append(cur)
                cur, used = [], frame
            cur.append(idx)
            used += m
        if cur:
            groups.append(cur)
        units: list[_Unit] = []
        queue = deque(groups)
        while queue:
            g = queue.popleft()
            s, e = rows[g[0]][0], rows[g[-1]][1]
            # rows are whole lines/rows of the source, so the join keeps the source's separators
            body = prefix + header + text[s:e] + suffix
            m = self.counter.count(body)
            if m > limit and len(g) > 1:  # joins cost a token or two with some tokenizers
                queue.appendleft(g[-1:])
                queue.appendleft(g[:-1])
                continue
            units.append(_Unit(s, e, m, kind, text=body, alone=True))
        units[0].start = b.start
        units[-1].end = b.end
        return units

    def _windows_alone(self, text: str, b: Block, budget: int, kind: str) -> list[_Unit]:
        body = text[b.start : b.end]
        out = []
        for ws, we in self.counter.windows(body, budget, 0):
            piece = body[ws:we]
            out.append(_Unit(b.start + ws, b.start + we, self.counter.count(piece), kind, alone=True))
        return out

    # ---- packing

    def _emit(self, text: str, group: list[_Unit]) -> tuple[int, int, str, int, str]:
        start, end = group[0].start, group[-1].end
        body = text[start:end]
        kinds = {u.kind for u in group}
        kind = "table" if "table" in kinds else "code" if "code" in kinds else "text"
        return start, end, body, self.counter.count(body), kind

    def _pack(self, text: str, units: list[_Unit]) -> list[tuple[int, int, str, int, str]]:
        """Greedy packing of one section's units into chunks: (start, end, text, n_tokens, kind).

        Chunks of a section are balanced: the soft target is the section's size divided evenly over
        the number of chunks it needs (plus 10 %), so a 450-token section gives 3 x ~170 rather than
        200 + 200 + 50. The hard limit stays ``chunk_size``, checked on the exact token count of the
        joined text (joins can cost a token with some tokenizers).
        """
        size, overlap = self.chunk_size, self.chunk_overlap
        packable = sum(u.n for u in units if not u.alone)
        target = size
        if packable > size:
            parts = math.ceil((packable - overlap) / (size - overlap))
            target = min(size, math.ceil((packable + (parts - 1) * overlap) / parts * 1.1))

        out: list[tuple[int, int, str, int, str]] = []
        queue = deque(units)
        cur: list[_Unit] = []  # overlap units from the previous chunk first, then fresh units
        n_fresh = 0

        def flush(keep_overlap: bool) -> None:
            nonlocal cur, n_fresh
            group = list(cur)
            n_old = len(group) - n_fresh
            piece = self._emit(text, group)
            # whole tables and code blocks may fill the embedder's window; prose stops at chunk_size
            limit = self.max_tokens if any(x.kind in ("table", "code") for x in group) else size
            while piece[3] > limit:
                if len(group) - n_old > 1 and group[-1].kind != "heading":
                    queue.appendleft(group.pop())
                elif n_old > 0:
                    group.pop(0)
                    n_old -= 1
                else:
                    break
                piece = self._emit(text, group)
            out.append(piece)
            cur = self._overlap_tail(group, overlap) if keep_overlap else []
            n_fresh = 0

        while queue:
            u = queue.popleft()
            has_content = any(x.kind != "heading" for x in cur[len(cur) - n_fresh :])
            if u.alone:
                if has_content:
                    queue.appendleft(u)
                    flush(keep_overlap=False)
                    continue
                heads = [x for x in cur if x.kind == "heading"]
                body = u.text if u.text is not None else text[u.start : u.end]
                if heads:  # glue the section's heading(s) to its first (table or code) part
                    start = heads[0].start
                    glued = text[start : u.start] + body
                    n_glued = self.counter.count(glued)
                    if n_glued <= max(self.max_tokens, u.n):
                        out.append((start, u.end, glued, n_glued, u.kind))
                        cur, n_fresh = [], 0
                        continue
                    out.append(self._emit(text, heads))  # too long together: the heading on its own
                out.append((u.start, u.end, body, u.n, u.kind))
                cur, n_fresh = [], 0
                continue
            est = sum(x.n for x in cur)
            fits = est + u.n <= target
            if not fits and u.kind in ("table", "code") and est <= size // 4:
                # a short lead-in (a caption, "the values are:") stays with its table or code block,
                # which may fill the embedder's window
                fits = est + u.n <= self.max_tokens
            if has_content and not fits:
                queue.appendleft(u)
                flush(keep_overlap=True)
                # the overlap must leave room for the next unit
                while cur and sum(x.n for x in cur) + queue[0].n > size:
                    cur.pop(0)
                continue
            cur.append(u)
            n_fresh += 1
        if n_fresh:
            flush(keep_overlap=False)
            if queue:  # units pushed back by the exact-count check
                out.extend(self._pack(text, list(queue)))
        return out

    @staticmethod
    def _overlap_tail(group: list[_Unit], overlap: int) -> list[_Unit]:
        """Trailing whole sentences/paragraphs of a chunk, at most ``overlap`` tokens, to repeat next."""
        tail: list[_Unit] = []
        total = 0
        for u in reversed(group[1:]):  # never repeat the whole previous chunk
            if not u.overlap or total + u.n > overlap:
                break
            tail.insert(0, u)
            total += u.n
        return tail


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def _list_items(text: str, b: Block) -> list[tuple[int, int]]:
    """Spans of the top-level items of a list block (nested items stay with their parent)."""
    lines = _line_spans(text, b.start, b.end)
    first = LIST_ITEM_RE.match(text[lines[0][0] : lines[0][1]])
    indent = len(first.group(1)) if first else 0
    items: list[list[int]] = []
    for s, e in lines:
        m = LIST_ITEM_RE.match(text[s:e])
        if (m and len(m.group(1)) <= indent + 1) or not items:
            items.append([s, e])
        else:
            items[-1][1] = e
    return [(s, e) for s, e in items]


def _html_header_rows(text: str, b: Block, rows: list[tuple[int, int]]) -> int:
    """How many leading rows of an HTML table form its header (thead, or a rowspan'd first row)."""
    if not rows:
        return 0
    thead = THEAD_END_RE.search(text, b.start, b.end)
    if thead:
        return max(1, sum(1 for s, _ in rows if s < thead.start()))
    spans = [int(x) for x in ROWSPAN_RE.findall(text, rows[0][0], rows[0][1])]
    return min(len(rows), max([1, *spans]))


# --------------------------------------------------------------------------------------------------
# Ids, coverage, sentence-end quality


def chunk_id(doc_id: str, seq: int, text: str) -> str:
    """Stable id of a chunk: the first 16 hex digits of SHA-256 over (doc_id, position, text)."""
    return hashlib.sha256(f"{doc_id}\x1f{seq}\x1f{text}".encode()).hexdigest()[:16]


def coverage(text: str, spans: Iterable[tuple[int, int]]) -> float:
    """Share of the non-whitespace characters of ``text`` inside at least one of ``spans``.

    1.0 for a text with no non-whitespace characters (nothing to lose).
    """
    if not text:
        return 1.0
    arr = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    # str.isspace over the distinct code points, then a vectorised lookup
    uniq = np.unique(arr)
    space_set = np.array([chr(c).isspace() for c in uniq], dtype=bool)
    nonws = ~space_set[np.searchsorted(uniq, arr)]
    total = int(nonws.sum())
    if total == 0:
        return 1.0
    covered = np.zeros(len(text) + 1, dtype=np.int32)
    for s, e in spans:
        s, e = max(0, s), min(len(text), e)
        if e > s:
            covered[s] += 1
            covered[e] -= 1
    mask = np.cumsum(covered[:-1]) > 0
    return float((nonws & mask).sum()) / total


_CLEAN_LAST = set(LATIN_END + WIDE_END + ":;>|`")
_BLOCK_START_RE = re.compile(r"\s*\n\s*(?:\n|#{1,6}\s|[-*+•]\s|\d{1,9}[.)]\s|\||<|```|~~~)")


def ends_cleanly(text: str, end: int) -> bool:
    """Whether a chunk ending at ``end`` ends where a reader would stop, not mid-sentence.

    Clean: the end of the document; a sentence terminator (``.!?`` and CJK/Arabic ones, possibly
    followed by a closing quote or bracket), the end of a table row or code fence as last character;
    or the end of a block (a blank line, or a heading, list item or table next).
    """
    if not text[end:].strip():
        return True
    tail = text[:end].rstrip()
    tail = tail.rstrip(CLOSERS)
    if tail and tail[-1] in _CLEAN_LAST:
        return True
    return bool(_BLOCK_START_RE.match(text, end))


def mid_sentence_share(text: str, ends: Sequence[int]) -> float:
    """Share of chunk ends (offsets into ``text``) that fall mid-sentence."""
    if not ends:
        return 0.0
    return sum(not ends_cleanly(text, e) for e in ends) / len(ends)


# --------------------------------------------------------------------------------------------------
# Frames

CHUNKS_SCHEMA = {
    "corpus": pl.String,
    "chunk_id": pl.String,
    "doc_id": pl.String,
    "seq": pl.Int64,
    "heading_path": pl.List(pl.String),
    "text": pl.String,
    "n_tokens": pl.Int64,
    "char_start": pl.Int64,
    "char_end": pl.Int64,
    "prev_chunk_id": pl.String,
    "next_chunk_id": pl.String,
}


def chunk_frame(documents: pl.DataFrame, chunker: Chunker, stats: ChunkStats | None = None) -> pl.DataFrame:
    """Chunk every row of ``documents`` (columns corpus, doc_id, text) into the ``chunks`` table.

    Rows come out in document order, then chunk order; ``prev_chunk_id``/``next_chunk_id`` link the
    neighbours within a document (null at its ends).
    """
    missing = {"corpus", "doc_id", "text"} - set(documents.columns)
    if missing:
        raise ValueError(f"documents table lacks column(s) {sorted(missing)}; expected corpus, doc_id, text")
    stats = stats if stats is not None else ChunkStats()
    rows: list[dict] = []
    for corpus, doc_id, text in documents.select("corpus", "doc_id", "text").iter_rows():
        chunks = chunker.chunk(text or "", stats)
        ids = [chunk_id(doc_id, c.seq, c.text) for c in chunks]
        for c, cid in zip(chunks, ids):
            rows.append(
                {
                    "corpus": corpus,
                    "chunk_id": cid,
                    "doc_id": doc_id,
                    "seq": c.seq,
                    "heading_path": list(c.heading_path),
                    "text": c.text,
                    "n_tokens": c.n_tokens,
                    "char_start": c.char_start,
                    "char_end": c.char_end,
                    "prev_chunk_id": ids[c.seq - 1] if c.seq > 0 else None,
                    "next_chunk_id": ids[c.seq + 1] if c.seq + 1 < len(ids) else None,
                }
            )
    return pl.DataFrame(rows, schema=CHUNKS_SCHEMA)


def document_coverage(documents: pl.DataFrame | Iterable[pl.DataFrame], chunks: pl.DataFrame) -> dict[str, float]:
    """Per doc_id, the share of its non-whitespace characters covered by its chunks' spans.

    ``documents`` (doc_id, text) may come in batches; ``chunks`` needs only doc_id, char_start, char_end."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for doc_id, s, e in chunks.select("doc_id", "char_start", "char_end").iter_rows():
        spans.setdefault(doc_id, []).append((s, e))
    batches = [documents] if isinstance(documents, pl.DataFrame) else documents
    return {
        doc_id: coverage(text or "", spans.get(doc_id, []))
        for batch in batches
        for doc_id, text in batch.select("doc_id", "text").iter_rows()
    }


class ChunkSummary:
    """The figures of :func:`summarize_chunks`, gathered batch by batch.

    Each :meth:`add` takes a batch of whole documents and their chunks (a document never spans two
    batches, and doc_ids are unique), so per-document figures (clean ends, coverage) combine by sum
    and min; only the chunks' token counts are kept, as integers, for the quantiles.
    """

    def __init__(self) -> None:
        self.chunks = 0
        self.documents_chunked = 0
        self.mid_sentence_ends = 0
        self.min_coverage: float | None = None
        self._tokens: list[np.ndarray] = []

    def add(self, documents: pl.DataFrame, chunks: pl.DataFrame) -> None:
        """Count one batch: ``documents`` (doc_id, text) and the chunks of exactly those documents."""
        texts = dict(documents.select("doc_id", "text").iter_rows())
        self.mid_sentence_ends += sum(
            not ends_cleanly(texts.get(doc_id) or "", end)
            for doc_id, end in chunks.select("doc_id", "char_end").iter_rows()
        )
        cov = document_coverage(documents, chunks)
        if cov:
            low = min(cov.values())
            self.min_coverage = low if self.min_coverage is None else min(self.min_coverage, low)
        if chunks.height:
            self.chunks += chunks.height
            self.documents_chunked += chunks["doc_id"].n_unique()
            self._tokens.append(chunks["n_tokens"].to_numpy().astype(np.int64, copy=False))

    def figures(self, stats: ChunkStats | None = None) -> dict:
        """Sizes, clean ends, coverage (and the chunker's ``stats``) for the asset's metadata."""
        tokens = pl.Series(np.concatenate(self._tokens)) if self._tokens else pl.Series([0])
        out = {
            "chunks": self.chunks,
            "documents_chunked": self.documents_chunked,
            "tokens_total": int(tokens.sum()),
            "tokens_p50": int(tokens.quantile(0.5, "nearest") or 0),
            "tokens_p95": int(tokens.quantile(0.95, "nearest") or 0),
            "tokens_max": int(tokens.max() or 0),
            "ends_mid_sentence_share": round(self.mid_sentence_ends / self.chunks, 4) if self.chunks else 0.0,
            "min_document_coverage": round(self.min_coverage, 4) if self.min_coverage is not None else 1.0,
        }
        if stats is not None:
            out.update({f"chunker/{k}": v for k, v in vars(stats).items()})
        return out


def summarize_chunks(documents: pl.DataFrame, chunks: pl.DataFrame, stats: ChunkStats | None = None) -> dict:
    """Figures about a chunking run for the asset's metadata: sizes, clean ends, coverage, tables."""
    summary = ChunkSummary()
    summary.add(documents, chunks)
    return summary.figures(stats)


def chunk_batches(
    documents: Iterable[pl.DataFrame],
    chunker: Chunker,
    stats: ChunkStats | None = None,
    summary: ChunkSummary | None = None,
) -> Iterator[pl.DataFrame]:
    """:func:`chunk_frame` over batches of whole documents: one chunks frame per batch, together the
    same rows, ids and order as the whole table gives (a chunk depends only on its own document).
    ``summary``, when given, counts every batch."""
    for batch in documents:
        table = chunk_frame(batch, chunker, stats)
        if summary is not None:
            summary.add(batch, table)
        yield table
