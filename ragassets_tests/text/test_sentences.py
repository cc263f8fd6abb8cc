"""The package's one sentence splitter (spaCy's sentencizer, with the chunker's abbreviation rules)."""

import subprocess
import sys

import pytest

from ragassets.text.sentences import sentence_spans, split_sentences


@pytest.mark.parametrize(
    "text,expected",
    [
        ("It lifted off. The crew was fine.", ["It lifted off.", "The crew was fine."]),
        ("Launch was on Nov. 7, 1963 at dawn. Next.", ["Launch was on Nov. 7, 1963 at dawn.", "Next."]),
        ("See Fig. 3 and table 4-I. Then stop.", ["See Fig. 3 and table 4-I.", "Then stop."]),
        ("The value was 3.5 psi, e.g. nominal. Done!", ["The value was 3.5 psi, e.g. nominal.", "Done!"]),
        ("J. A. Lovell commanded. F. W. Haise flew.", ["J. A. Lovell commanded.", "F. W. Haise flew."]),
        (
            '"Houston, we\'ve had a problem." Then silence.',
            ['"Houston, we\'ve had a problem."', "Then silence."],
        ),
        ("第一句。第二句！第三句？", ["第一句。", "第二句！", "第三句？"]),
        ("انفجر الخزان. هل عاد الطاقم بسلام؟ نعم.", ["انفجر الخزان.", "هل عاد الطاقم بسلام؟", "نعم."]),
        ("1. The first item is long.", ["1. The first item is long."]),
        # spaCy's own exceptions ("g.", "p.m.") do not hide a sentence end; a lower-case word goes on
        (
            "It had indicated 0.05g. A manual start followed.",
            ["It had indicated 0.05g.", "A manual start followed."],
        ),
        (
            "Dr. Smith arrived at 5 p.m. on Monday. He left.",
            ["Dr. Smith arrived at 5 p.m. on Monday.", "He left."],
        ),
        ("It was U.S. policy. Next one.", ["It was U.S. policy.", "Next one."]),
        # runs of terminators end one sentence; an opening bracket starts the next
        (
            "It ended. (A new one.) Wait... Then what?! Yes.",
            ["It ended.", "(A new one.)", "Wait...", "Then what?!", "Yes."],
        ),
        ("  Padded.   Text.  ", ["Padded.", "Text."]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_sentence_spans(text, expected):
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == expected
    assert all(text[s:e] == text[s:e].strip() for s, e in spans)  # whitespace belongs to neither


def test_spans_of_a_slice_are_offsets_into_the_whole_text():
    text = "Intro. Alpha one. Beta two. Outro."
    start, end = text.index("Alpha"), text.index(" Outro")
    assert [text[s:e] for s, e in sentence_spans(text, start, end)] == ["Alpha one.", "Beta two."]


def test_split_sentences_ends_at_blocks_and_collapses_whitespace():
    text = "Dr. Smith arrived at 5 p.m.\non Monday. He left.\n# Heading\n- item one\n\nLast   one"
    assert split_sentences(text) == [
        "Dr. Smith arrived at 5 p.m. on Monday.",
        "He left.",
        "# Heading",
        "- item one",
        "Last one",
    ]


def test_the_splitter_is_built_once_without_loading_spacy_plugins():
    code = (
        "import sys\n"
        "from ragassets.text.sentences import sentencizer\n"
        "assert sentencizer() is sentencizer()\n"
        "assert [s.text for s in sentencizer()('One. Two.').sents] == ['One.', 'Two.']\n"
        "assert 'presidio_analyzer' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
