"""The chunker cuts where a person would: headings, blocks, sentences; tables and code stay whole."""

import itertools
import re

import polars as pl
import pytest

from ragassets.text.chunking import (
    Chunker,
    ChunkStats,
    chunk_frame,
    chunk_id,
    coverage,
    document_coverage,
    ends_cleanly,
    mid_sentence_share,
    parse_blocks,
)

SENT = "The crew powered down the command module to save the batteries for entry."  # ~15 tokens


def prose(n_sentences: int, stem: str = "Sentence") -> str:
    return " ".join(f"{stem} number {i} describes the oxygen tank and the fuel cells in detail." for i in range(n_sentences))


def spans(chunks):
    return [(c.char_start, c.char_end) for c in chunks]


def test_headings_split_sections_and_give_heading_path(counter):
    doc = "# Mission\n\nIntro text.\n\n## Launch\n\nLift-off was on time.\n\n### Staging\n\nS-IC cutoff.\n\n# Summary\n\nAll well."
    chunks = Chunker(counter, 64, 8).chunk(doc)
    assert [c.heading_path for c in chunks] == [
        ("Mission",),
        ("Mission", "Launch"),
        ("Mission", "Launch", "Staging"),
        ("Summary",),
    ]
    assert chunks[1].text == "## Launch\n\nLift-off was on time."
    for c in chunks:  # prose chunks are exact slices of the document
        assert doc[c.char_start : c.char_end] == c.text
    assert coverage(doc, spans(chunks)) == 1.0


def test_text_before_first_heading_has_empty_path(counter):
    chunks = Chunker(counter, 64, 8).chunk("MSC-02680\n\n# Title\n\nBody.")
    assert chunks[0].heading_path == () and chunks[0].text == "MSC-02680"


def test_empty_sections_are_carried_into_the_next(counter):
    doc = "# 7.1 Consumables\n\n## 7.1.6 Batteries\n\nThe command module was powered down.\n\n# Last heading"
    stats = ChunkStats()
    chunks = Chunker(counter, 64, 8).chunk(doc, stats)
    assert stats.empty_sections_carried == 1
    assert chunks[0].heading_path == ("7.1 Consumables", "7.1.6 Batteries")
    assert chunks[0].text.startswith("# 7.1 Consumables\n\n## 7.1.6 Batteries\n\nThe command")
    # a trailing heading with no text is kept (nothing is lost), as its own small chunk
    assert chunks[-1].text == "# Last heading"
    assert all(c.text.strip() for c in chunks)
    assert coverage(doc, spans(chunks)) == 1.0


def test_long_section_is_cut_between_sentences_within_size(counter):
    doc = "# Anomaly\n\n" + prose(60)
    chunker = Chunker(counter, 80, 16)
    chunks = chunker.chunk(doc)
    assert len(chunks) > 3
    for c in chunks:
        assert c.n_tokens <= 80
        assert counter.count(c.text) == c.n_tokens
        assert c.text.rstrip().endswith("."), c.text[-40:]
        assert ends_cleanly(doc, c.char_end)
    # chunks of one section are balanced: no tiny remainder at the end
    sizes = [c.n_tokens for c in chunks]
    assert min(sizes) >= 0.5 * max(sizes)
    assert coverage(doc, spans(chunks)) == 1.0


def test_overlap_repeats_whole_sentences(counter):
    doc = prose(40)
    chunks = Chunker(counter, 80, 20).chunk(doc)
    overlaps = 0
    for a, b in itertools.pairwise(chunks):
        if b.char_start < a.char_end:
            overlaps += 1
            shared = doc[b.char_start : a.char_end]
            assert shared.startswith("Sentence number") and shared.endswith("detail.")
            assert counter.count(shared) <= 20
    assert overlaps == len(chunks) - 1


def test_overlap_zero_gives_disjoint_chunks(counter):
    chunks = Chunker(counter, 60, 0).chunk(prose(30))
    assert all(b.char_start >= a.char_end for a, b in itertools.pairwise(chunks))


def test_a_single_sentence_over_the_size_is_cut_between_words(counter):
    words = " ".join(f"word{i}" for i in range(400)) + "."
    doc = f"Short intro. {words} Short outro."
    stats = ChunkStats()
    chunks = Chunker(counter, 50, 5).chunk(doc, stats)
    assert stats.sentences_cut == 1
    for c in chunks:
        assert c.n_tokens <= 50
        # cuts fall between words, never inside "word123"
        assert re.match(r"^(Short|word\d+)", c.text), c.text[:20]
        assert re.search(r"(word\d+|\.)$", c.text), c.text[-20:]
    assert coverage(doc, spans(chunks)) == 1.0


def markdown_table(rows: int) -> str:
    head = "| Event | Time, hr:min:sec | Remark |\n|---|---:|---|\n"
    return head + "\n".join(f"| Event {i} | {i:02d}:{i % 60:02d}:00 | nominal |" for i in range(rows))


def test_small_markdown_table_stays_whole_with_its_caption(counter):
    doc = "# Events\n\nTable 3-I lists the events.\n\n" + markdown_table(5) + "\n\nAfter the table."
    stats = ChunkStats()
    chunks = Chunker(counter, 200, 16).chunk(doc, stats)
    assert stats.tables_whole == 1
    holder = [c for c in chunks if "| Event 0 |" in c.text]
    assert len(holder) == 1 and "| Event 4 |" in holder[0].text


def test_large_markdown_table_is_split_by_rows_with_header_repeated(counter):
    table = markdown_table(60)
    doc = "Intro.\n\n" + table + "\n\nOutro."
    stats = ChunkStats()
    chunks = Chunker(counter, 100, 10, max_tokens=120).chunk(doc, stats)
    parts = [c for c in chunks if c.kind == "table"]
    assert stats.tables_split_by_rows == 1 and stats.tables_cut_inside_row == 0
    assert len(parts) > 3
    seen = []
    for p in parts:
        lines = p.text.split("\n")
        assert lines[0] == "| Event | Time, hr:min:sec | Remark |" and lines[1] == "|---|---:|---|"
        assert all(re.fullmatch(r"\| Event \d+ \| \d\d:\d\d:00 \| nominal \|", ln) for ln in lines[2:])
        assert p.n_tokens <= 120
        seen += lines[2:]
    assert len(seen) == 60 and len(set(seen)) == 60  # every row exactly once
    assert coverage(doc, spans(chunks)) == 1.0


APOLLO_TABLE_ROW = (
    "<tr><td>Translunar injection</td><td>S-IVB</td><td>2:35:46.4</td><td>350.8</td><td>10039</td></tr>"
)


def apollo_html_table(rows: int) -> str:
    """An HTML table on one line, as the OCR of the Apollo 13 report has them."""
    header = (
        "<tr><td>Maneuver</td><td>System</td><td>Ignition time, hr:min:sec</td>"
        "<td>Firing time, sec</td><td>Velocity change, ft/sec</td></tr>"
    )
    body = "".join(APOLLO_TABLE_ROW.replace("350.8", f"{i}.5") for i in range(rows))
    return f"<html><body><table>{header}{body}</table></body></html>"


def test_html_table_as_in_apollo_report_is_split_by_rows_with_header(counter):
    doc = "# 4.0 TRAJECTORY\n\nTABLE 4-III.- MANEUVER SUMMARY\n\n" + apollo_html_table(40) + "\n\nThe maneuvers went well."
    assert [b.kind for b in parse_blocks(doc)] == ["heading", "paragraph", "html_table", "paragraph"]
    stats = ChunkStats()
    chunks = Chunker(counter, 200, 24, max_tokens=254).chunk(doc, stats)
    parts = [c for c in chunks if c.kind == "table" or "<table>" in c.text]
    assert stats.tables_split_by_rows == 1 and stats.tables_cut_inside_row == 0
    assert len(parts) >= 4
    for p in parts:
        body = p.text[p.text.index("<html>") :]
        assert body.startswith("<html><body><table><tr><td>Maneuver</td>")
        assert body.endswith("</table></body></html>")
        rows = re.findall(r"<tr>.*?</tr>", body)
        assert all(r.startswith("<tr><td>") and r.endswith("</td></tr>") for r in rows)
        assert p.n_tokens <= 254
    all_rows = [r for p in parts for r in re.findall(r"<tr><td>Translunar.*?</tr>", p.text)]
    assert len(all_rows) == 40
    assert parts[0].heading_path == ("4.0 TRAJECTORY",)
    assert coverage(doc, spans(chunks)) == 1.0


def test_html_table_that_fits_stays_whole(counter):
    doc = "Text.\n\n" + apollo_html_table(1)
    stats = ChunkStats()
    chunks = Chunker(counter, 200, 24, max_tokens=254).chunk(doc, stats)
    assert stats.tables_whole == 1
    assert sum("<table>" in c.text for c in chunks) == 1


def test_html_table_with_a_giant_row_is_cut_between_cells(counter):
    cell = "<td>" + " ".join(f"event{i}" for i in range(300)) + "</td>"
    doc = f"<table><tr><td>Event</td><td>Time</td></tr><tr>{cell}<td>00:01</td></tr></table>"
    stats = ChunkStats()
    chunks = Chunker(counter, 100, 10, max_tokens=120).chunk(doc, stats)
    assert stats.tables_cut_inside_row == 1
    assert all(c.n_tokens <= 120 for c in chunks)
    assert coverage(doc, spans(chunks)) == 1.0


CODE = "```python\n" + "\n".join(f"def f{i}(x):\n    return x * {i}\n" for i in range(12)) + "```"


def test_code_block_is_kept_whole_even_with_blank_lines(counter):
    doc = "# Code\n\nThe helper:\n\n" + CODE + "\n\nThat is all."
    stats = ChunkStats()
    n_code = counter.count(CODE)
    assert n_code > 100
    chunks = Chunker(counter, 100, 10, max_tokens=400).chunk(doc, stats)
    assert stats.code_blocks_whole == 1
    holder = [c for c in chunks if "def f0" in c.text]
    assert len(holder) == 1 and CODE in holder[0].text


def test_code_block_over_the_window_is_split_by_lines_with_fences(counter):
    long_code = "```\n" + "\n".join(f"x{i} = compute({i}, {i + 1})" for i in range(200)) + "\n```"
    stats = ChunkStats()
    chunks = Chunker(counter, 100, 10, max_tokens=120).chunk(long_code, stats)
    assert stats.code_blocks_split == 1
    assert len(chunks) > 5
    for c in chunks:
        assert c.text.startswith("```\n") and c.text.endswith("\n```")
        assert all(re.fullmatch(r"x\d+ = compute\(\d+, \d+\)", ln) for ln in c.text.split("\n")[1:-1])
        assert c.n_tokens <= 120
    assert coverage(long_code, spans(chunks)) == 1.0


def test_long_list_is_cut_between_items(counter):
    items = "\n".join(f"- Item {i}: check the valve position and record the pressure reading." for i in range(40))
    doc = "# Checklist\n\n" + items
    assert [b.kind for b in parse_blocks(doc)] == ["heading", "list"]
    chunks = Chunker(counter, 80, 0).chunk(doc)
    assert len(chunks) > 3
    for c in chunks:
        body = c.text.split("\n\n")[-1]
        assert body.startswith("- Item ")
        assert body.endswith("reading.")


def test_cjk_text_is_split_at_full_width_terminators(counter):
    sentence = "阿波罗十三号在飞往月球途中发生了氧气罐爆炸事故。"
    doc = "# 事故\n\n" + sentence * 40
    chunks = Chunker(counter, 60, 0).chunk(doc)
    assert len(chunks) > 2
    for c in chunks:
        assert c.text.endswith("。")
        assert c.n_tokens <= 60
    assert coverage(doc, spans(chunks)) == 1.0


def test_arabic_text_is_split_at_sentence_ends(counter):
    sentence = "انفجر خزان الأكسجين في المركبة أبولو ثلاثة عشر أثناء الرحلة إلى القمر. "
    question = "هل عاد الطاقم بسلام؟ "
    doc = (sentence + question) * 20
    chunks = Chunker(counter, 60, 0).chunk(doc)
    assert len(chunks) > 2
    for c in chunks:
        assert c.text.endswith((".", "؟"))
    assert coverage(doc, spans(chunks)) == 1.0


def test_ends_cleanly_and_mid_sentence_share():
    doc = "One sentence here. Another one\nwraps here.\n\nNext paragraph."
    assert ends_cleanly(doc, doc.index("here.") + 5)
    assert not ends_cleanly(doc, doc.index("Another one") + 7)
    assert ends_cleanly(doc, doc.index("wraps here.") + 11)  # end of paragraph
    assert ends_cleanly(doc, len(doc))
    assert mid_sentence_share(doc, [len(doc), doc.index("Another") + 4]) == 0.5


def test_coverage_counts_non_whitespace_only():
    text = "ab  cd\n\nef"
    assert coverage(text, [(0, 2), (4, 6), (8, 10)]) == 1.0
    assert coverage(text, [(0, 2)]) == pytest.approx(2 / 6)
    assert coverage("   \n", []) == 1.0


def test_chunk_frame_ids_links_and_stability(counter):
    docs = pl.DataFrame(
        {"corpus": ["c", "c"], "doc_id": ["d1", "d2"], "text": ["# A\n\n" + prose(30), "Only one line."]}
    )
    chunker = Chunker(counter, 80, 10)
    df = chunk_frame(docs, chunker)
    assert df.columns == [
        "corpus", "chunk_id", "doc_id", "seq", "heading_path", "text", "n_tokens",
        "char_start", "char_end", "prev_chunk_id", "next_chunk_id",
    ]
    d1 = df.filter(pl.col("doc_id") == "d1")
    assert d1["seq"].to_list() == list(range(d1.height))
    assert d1["prev_chunk_id"][0] is None and d1["next_chunk_id"][-1] is None
    assert d1["next_chunk_id"].to_list()[:-1] == d1["chunk_id"].to_list()[1:]
    assert d1["prev_chunk_id"].to_list()[1:] == d1["chunk_id"].to_list()[:-1]
    assert df["chunk_id"].n_unique() == df.height
    assert df["chunk_id"][0] == chunk_id("d1", 0, df["text"][0])
    # stable across runs
    assert chunk_frame(docs, chunker)["chunk_id"].to_list() == df["chunk_id"].to_list()
    # an edit at the end of d1 keeps the ids of its earlier chunks
    edited = docs.with_columns(
        pl.when(pl.col("doc_id") == "d1").then(pl.col("text") + " An extra sentence.").otherwise(pl.col("text"))
    )
    again = chunk_frame(edited, chunker).filter(pl.col("doc_id") == "d1")["chunk_id"].to_list()
    assert again[:2] == d1["chunk_id"].to_list()[:2]
    assert document_coverage(docs, df) == {"d1": 1.0, "d2": 1.0}


def test_empty_and_blank_documents_give_no_chunks(counter):
    docs = pl.DataFrame({"corpus": ["c", "c"], "doc_id": ["e", "b"], "text": ["", " \n\n "]})
    df = chunk_frame(docs, Chunker(counter, 80, 10))
    assert df.height == 0 and df.schema["heading_path"] == pl.List(pl.String)


def test_bad_sizes_are_refused_with_a_reason(counter):
    with pytest.raises(ValueError, match="chunk_overlap"):
        Chunker(counter, 50, 30)
    with pytest.raises(ValueError, match="chunk_size"):
        Chunker(counter, 5, 0)


def test_corpus_yaml_with_an_overlap_of_half_a_chunk_is_refused():
    from ragassets.settings import SettingsError, validate_settings

    with pytest.raises(SettingsError, match="chunks.chunk_overlap"):
        validate_settings({"chunks": {"chunk_size": 40, "chunk_overlap": 30}}, "corpus.yaml")
    assert validate_settings({"chunks": {"chunk_size": 40, "chunk_overlap": 19}}, "x").chunks.chunk_overlap == 19
