"""The LLM tasks of the graph: their templates, variables and output models.

Stages build requests with :func:`task_request` and read answers with
``LLMClient.generate_structured(requests, TASKS[task].output)`` (or ``run`` for free text)::

    lib = PromptLibrary(corpus_dir)
    req = task_request("questions", lib, id=chunk_id, previous=prev, current=text, next=nxt,
                       n=2, difficulties=["easy", "hard"])

Variables per task (all required; pass "" for an absent neighbour):

========== ==================== ================================================ ==================
task       template             variables                                        output
========== ==================== ================================================ ==================
paraphrase paraphrase           text, variant (int, 0 for the first)             free text
questions  question_generation  previous, current, next, n, difficulties (list)  GeneratedQuestions
conversation conversation       passages (list of {id, text}), n_turns           GeneratedConversation
rag_answer rag_answer           source, context (str), rag_failed (bool)         RagAnswer
chunk_filter chunk_filter       text                                             ChunkVerdict
judge      judge                question, answer, context                        JudgeVerdict
========== ==================== ================================================ ==================
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragassets.llm.prompts import PromptLibrary
from ragassets.llm.types import LLMRequest, SamplingParams

Difficulty = Literal["easy", "medium", "hard"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class GeneratedQuestion(_Out):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    difficulty: Difficulty
    evidence: str = Field("", description="The sentence of the current chunk that holds the answer.")


class GeneratedQuestions(_Out):
    questions: list[GeneratedQuestion]


class ConversationTurn(_Out):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class GeneratedConversation(_Out):
    turns: list[ConversationTurn] = Field(min_length=2)


class RagAnswer(_Out):
    """A question about the source passage and the answer a RAG assistant gives it."""

    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class ChunkVerdict(_Out):
    """Whether a chunk is worth training data: an enum, so nothing depends on wording."""

    verdict: Literal["suitable", "not_suitable"]
    reason: str = Field(min_length=1, description="One line: why.")

    @property
    def suitable(self) -> bool:
        return self.verdict == "suitable"


class JudgeVerdict(_Out):
    """The judge's rubric for one question/answer pair (see ragassets.judging.rubric): accuracy 0-3,
    relevance 0-2, clarity 0-2, usefulness 0-3, overall 0-10, each criterion with a short reason written
    before its score. The rubric's wording is in the judge prompt; the schema stays small (it travels with
    every request)."""

    accuracy_reason: str = ""
    accuracy: int = Field(ge=0, le=3)
    relevance_reason: str = ""
    relevance: int = Field(ge=0, le=2)
    clarity_reason: str = ""
    clarity: int = Field(ge=0, le=2)
    usefulness_reason: str = ""
    usefulness: int = Field(ge=0, le=3)
    overall: int = Field(ge=0, le=10)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    template: str
    variables: tuple[str, ...]
    output: type[BaseModel] | None  # None: free text


TASKS: dict[str, TaskSpec] = {
    "paraphrase": TaskSpec("paraphrase", "paraphrase", ("text", "variant"), None),
    "questions": TaskSpec(
        "questions",
        "question_generation",
        ("previous", "current", "next", "n", "difficulties"),
        GeneratedQuestions,
    ),
    "conversation": TaskSpec("conversation", "conversation", ("passages", "n_turns"), GeneratedConversation),
    "rag_answer": TaskSpec("rag_answer", "rag_answer", ("source", "context", "rag_failed"), RagAnswer),
    "chunk_filter": TaskSpec("chunk_filter", "chunk_filter", ("text",), ChunkVerdict),
    "judge": TaskSpec("judge", "judge", ("question", "answer", "context"), JudgeVerdict),
}


@functools.cache
def _schema(model: type) -> dict[str, Any]:
    """A task's JSON schema, built once per output model (pydantic rebuilds it on every call)."""
    return model.model_json_schema()


def task_request(
    task: str,
    prompts: PromptLibrary,
    *,
    id: str | None = None,
    params: SamplingParams | None = None,
    **variables: Any,
) -> LLMRequest:
    """Render the task's template and wrap it as a request carrying task name, template version,
    the JSON schema of the task's output model (if any) and the variables (for the offline
    provider). ``params=None`` takes the client's defaults."""
    if task not in TASKS:
        raise ValueError(f"unknown LLM task {task!r}; known tasks: {', '.join(TASKS)}")
    spec = TASKS[task]
    rendered = prompts.render(spec.template, **variables)
    return LLMRequest(
        messages=rendered.messages,
        params=params,
        json_schema=_schema(spec.output) if spec.output is not None else None,
        task=task,
        template=spec.template,
        template_version=rendered.version,
        inputs=dict(variables),
        id=id,
    )
