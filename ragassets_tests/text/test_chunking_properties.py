"""Property tests: whatever the document, chunks cover it, are non-empty and stay within the window."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragassets.text.chunking import Chunker, coverage

WORDS = st.sampled_from(
    ["oxygen", "tank", "pressure", "Houston", "3.5", "psi", "e.g.", "Nov.", "valve", "crew", "月球", "氧气",
     "القمر", "λ", "S-IVB", "*bold*", "`code`", "|", "#", "<td>", "ﬁ", "\u00a0"]
)
SENTENCE = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(WORDS, min_size=1, max_size=30),
    st.sampled_from([".", "!", "?", "。", "؟", "", ":"]),
)
PARAGRAPH = st.builds(" ".join, st.lists(SENTENCE, min_size=1, max_size=12))
HEADING = st.builds(lambda lvl, t: "#" * lvl + " " + t, st.integers(1, 6), SENTENCE)
MD_TABLE = st.builds(
    lambda cols, rows: "| " + " | ".join(f"h{i}" for i in range(cols)) + " |\n|" + "---|" * cols + "\n"
    + "\n".join("| " + " | ".join(r[:cols] + [""] * (cols - len(r[:cols]))) + " |" for r in rows),
    st.integers(1, 5),
    st.lists(st.lists(WORDS, min_size=1, max_size=5), min_size=0, max_size=40),
)
HTML_TABLE = st.builds(
    lambda rows: "<html><body><table>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    + "</table></body></html>",
    st.lists(st.lists(SENTENCE, min_size=1, max_size=4), min_size=1, max_size=25),
)
CODE = st.builds(lambda lines: "```\n" + "\n".join(lines) + "\n```", st.lists(PARAGRAPH, min_size=0, max_size=30))
LIST = st.builds(lambda items: "\n".join(f"- {i}" for i in items), st.lists(PARAGRAPH, min_size=1, max_size=15))
BLOCK = st.one_of(HEADING, PARAGRAPH, PARAGRAPH, MD_TABLE, HTML_TABLE, CODE, LIST, st.just(""))
DOCUMENT = st.builds(
    lambda blocks, sep: sep.join(blocks), st.lists(BLOCK, min_size=0, max_size=25), st.sampled_from(["\n\n", "\n", "\n\n\n"])
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_chunks(doc, chunks, chunker):
    assert coverage(doc, [(c.char_start, c.char_end) for c in chunks]) >= 0.99
    for c in chunks:
        assert c.text.strip(), "empty chunk"
        assert 0 <= c.char_start < c.char_end <= len(doc)
        assert c.n_tokens <= chunker.max_tokens
        if c.kind == "text":
            assert doc[c.char_start : c.char_end] == c.text
            assert c.n_tokens <= chunker.chunk_size
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert [c.char_start for c in chunks] == sorted(c.char_start for c in chunks)


@SETTINGS
@given(doc=DOCUMENT, size=st.integers(30, 200), overlap=st.integers(0, 14))
def test_structured_documents_are_covered(counter, doc, size, overlap):
    chunker = Chunker(counter, size, overlap, max_tokens=size + 40)
    check_chunks(doc, chunker.chunk(doc), chunker)


@SETTINGS
@given(doc=st.text(min_size=0, max_size=3000), size=st.integers(20, 120))
def test_arbitrary_text_is_covered(counter, doc, size):
    chunker = Chunker(counter, size, 4)
    check_chunks(doc, chunker.chunk(doc), chunker)
