"""Prompt templates: sandboxed, strict, overridable per corpus, versioned into the cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragassets.llm import TASKS, LLMClient, PromptError, PromptLibrary, ResponseCache, task_request
from ragassets.llm.providers import OfflineProvider

VARIABLES = {
    "paraphrase": {"text": "The crew slept.", "variant": 0},
    "questions": {
        "previous": "",
        "current": "The crew slept.",
        "next": "",
        "n": 2,
        "difficulties": ["easy", "hard"],
    },
    "conversation": {"passages": [{"id": "passage 1", "text": "The crew slept."}], "n_turns": 2},
    "rag_answer": {"source": "The crew slept.", "context": "Chunk 1\nSource: x\n---\nThe crew slept.\n---",
                   "rag_failed": False},
    "chunk_filter": {"text": "The crew slept."},
    "judge": {"question": "Who slept?", "answer": "The crew", "context": "The crew slept."},
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_template_renders(task: str) -> None:
    lib = PromptLibrary()
    req = task_request(task, lib, **VARIABLES[task])
    assert req.messages[0]["role"] == "system" and req.messages[-1]["role"] == "user"
    assert "The crew slept." in req.messages[-1]["content"]
    assert req.template_version == lib.version(TASKS[task].template) and len(req.template_version) == 16
    assert (req.json_schema is None) == (TASKS[task].output is None)
    assert set(TASKS[task].variables) == set(lib.get(TASKS[task].template).variables)


def test_question_template_marks_the_current_chunk_and_neighbours() -> None:
    req = task_request(
        "questions",
        PromptLibrary(),
        previous="PREV TEXT",
        current="CUR TEXT",
        next="NEXT TEXT",
        n=3,
        difficulties=["easy", "medium", "hard"],
    )
    user = req.messages[-1]["content"]
    assert user.index("PREV TEXT") < user.index("CUR TEXT") < user.index("NEXT TEXT")
    assert "Write 3 questions" in user and "easy, medium, hard" in user
    bare = task_request(
        "questions", PromptLibrary(), previous="", current="CUR", next="", n=1, difficulties=["easy"]
    )
    assert "Previous passage" not in bare.messages[-1]["content"]


def test_missing_variable_is_a_clear_error() -> None:
    with pytest.raises(PromptError, match=r"needs variable\(s\) n_turns"):
        PromptLibrary().render("conversation", text="x")


def test_unknown_template_is_a_clear_error() -> None:
    with pytest.raises(PromptError, match="unknown prompt template 'nope'.*known templates: chunk_filter"):
        PromptLibrary().render("nope")
    with pytest.raises(PromptError, match="bad prompt template name"):
        PromptLibrary().render("../etc/passwd")
    with pytest.raises(ValueError, match="unknown LLM task"):
        task_request("nope", PromptLibrary())


def test_undefined_attribute_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "judge.j2").write_text("{% block user %}{{ question.missing }}{% endblock %}")
    with pytest.raises(PromptError, match="missing"):
        PromptLibrary(tmp_path).render("judge", question="q")


def test_sandbox_blocks_python_internals(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "evil.j2").write_text(
        "{% block user %}{{ text.__class__.__mro__[1].__subclasses__() }}{% endblock %}"
    )
    with pytest.raises(PromptError):
        PromptLibrary(tmp_path).render("evil", text="x")


def test_template_without_user_block_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "plain.j2").write_text("just text {{ x }}")
    with pytest.raises(PromptError, match="block user"):
        PromptLibrary(tmp_path).render("plain", x=1)


def test_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "broken.j2").write_text("{% block user %}\n{{ x \n{% endblock %}")
    with pytest.raises(PromptError, match=r"broken.j2 line \d"):
        PromptLibrary(tmp_path).render("broken", x=1)


def test_corpus_override_wins_and_changes_the_cache_key(tmp_path: Path) -> None:
    corpus = tmp_path / "corpora" / "mine"
    (corpus / "prompts").mkdir(parents=True)
    (corpus / "prompts" / "paraphrase.j2").write_text(
        "{% block system %}Be terse.{% endblock %}{% block user %}Rephrase: {{ text }}{% endblock %}"
    )
    builtin, custom = PromptLibrary(), PromptLibrary(corpus)
    assert custom.get("paraphrase").origin == corpus / "prompts" / "paraphrase.j2"
    assert custom.version("paraphrase") != builtin.version("paraphrase")
    a = task_request("paraphrase", builtin, text="The crew slept.", variant=0)
    b = task_request("paraphrase", custom, text="The crew slept.", variant=0)
    assert b.messages == (
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Rephrase: The crew slept."},
    )
    client = LLMClient(OfflineProvider(), cache=ResponseCache(":memory:"))
    assert client.key(a) != client.key(b)
    # the same text with another template version is another key even with equal messages
    assert client.key(b) != client.key(b.__class__(messages=b.messages, template_version="other"))
    assert "paraphrase" in custom.names() and "judge" in custom.names()


def test_editing_a_template_re_asks_only_its_requests(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    (corpus / "prompts").mkdir(parents=True)
    tpl = corpus / "prompts" / "paraphrase.j2"
    tpl.write_text("{% block user %}Rephrase: {{ text }}{% endblock %}")
    cache = ResponseCache(":memory:")
    client = LLMClient(OfflineProvider(), cache=cache)
    reqs = [
        task_request("paraphrase", PromptLibrary(corpus), text="A b c.", variant=0),
        task_request("chunk_filter", PromptLibrary(corpus), text="A b c."),
    ]
    client.run(reqs)
    tpl.write_text("{% block user %}Rewrite: {{ text }}{% endblock %}")
    reqs = [
        task_request("paraphrase", PromptLibrary(corpus), text="A b c.", variant=0),
        task_request("chunk_filter", PromptLibrary(corpus), text="A b c."),
    ]
    results = client.run(reqs)
    assert [r.cached for r in results] == [False, True]
