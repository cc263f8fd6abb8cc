"""Typed settings: defaults < RAGASSETS_* environment < data/corpora/<corpus>/corpus.yaml < run config.

One block per stage or resource, named after it (``documents``, ``pii``, ``chunks``, ...). Every
block forbids unknown keys, so a typo in corpus.yaml is an error that names the key and the file
instead of a setting silently ignored. No Dagster import: domain code takes these models directly.
"""

from __future__ import annotations

import os
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


class PiiSettings(_Block):
    """PII policy of a corpus (Presidio)."""

    entities: list[str] = Field(
        default_factory=lambda: [
            "EMAIL_ADDRESS",
            "PHONE_NUMBER",
            "CREDIT_CARD",
            "US_SSN",
            "IBAN_CODE",
            "IP_ADDRESS",
            "PERSON",
        ]
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    operator: Literal["replace", "pseudonym", "mask", "hash"] = "replace"
    allow_list: list[str] = Field(default_factory=list)
    deny_list: list[str] = Field(default_factory=list)
    language: str = "en"
    spacy_model: str | None = Field(None, description="An installed spaCy model, e.g. en_core_web_lg.")

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        if v not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {v!r}; use one of {', '.join(SUPPORTED_LANGUAGES)}")
        return v


class ChunksSettings(_Block):
    """Markdown-aware chunking, sized in tokens of the embedder's tokenizer."""

    chunk_size: int = Field(200, gt=8, description="Target chunk size in tokens.")
    chunk_overlap: int = Field(24, ge=0, description="Tokens of overlap between neighbouring chunks.")
    tokenizer: str | None = Field(None, description="A local tokenizer path; default: the embedder's.")
    min_coverage: float = Field(0.99, ge=0.0, le=1.0)


class EmbedderSettings(_Block):
    provider: Literal["minilm", "sentence_transformers", "nomic", "openai"] = "minilm"
    model: str | None = Field(None, description="Model path or name; default depends on the provider.")
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    batch_size: int = Field(64, gt=0)
    index_type: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    approx_threshold: int = Field(20000, gt=0, description="Above this many vectors 'auto' goes approximate.")


class LlmSettings(_Block):
    provider: Literal["offline", "openai", "vllm", "transformers"] = "offline"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the key.")
    max_concurrency: int = Field(16, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, gt=0)
    json_schema: bool | None = Field(None, description="Send response_format with a JSON schema.")
    price_input_per_mtok: float = Field(0.0, ge=0.0)
    price_output_per_mtok: float = Field(0.0, ge=0.0)


class ParaphraseSettings(_Block):
    n_paraphrases: int = Field(1, ge=1)
    temperature: float | None = None
    fidelity_band: tuple[float, float] = (0.6, 0.995)
    max_outside_band: float = Field(0.2, ge=0.0, le=1.0)


class QuestionsSettings(_Block):
    questions_per_chunk: int = Field(2, ge=1)
    window: int = Field(1, ge=0, description="Neighbouring chunks on each side given as context.")
    temperature: float | None = None
    difficulty_mix: dict[str, float] = Field(
        default_factory=lambda: {"easy": 0.34, "medium": 0.33, "hard": 0.33}
    )
    dedup_cosine: float = Field(0.95, ge=0.0, le=1.0)
    min_grounded: float = Field(0.8, ge=0.0, le=1.0)
    min_coverage: float = Field(0.5, ge=0.0, le=1.0)


class AlertsSettings(_Block):
    """Where alerts for failed asset checks and failed runs go (instance-wide, not per corpus).

    Read from defaults and ``RAGASSETS_ALERTS_<KEY>`` environment variables through
    ``load_settings(None).alerts``; a ``alerts:`` block in a corpus.yaml does not change them.
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


def _describe(err: dict[str, Any], allowed: dict[str, list[str]]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        parent = str(err["loc"][0]) if len(err["loc"]) > 1 else None
        options = allowed.get(parent) if parent else sorted(BLOCKS)
        hint = f" (known keys: {', '.join(options)})" if options else ""
        return f"unknown key '{loc}'{hint}"
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
    # validate the file on its own first, so its errors name the file and not the merge
    validate_settings(data, str(path))
    return data


def load_settings(
    corpus_path: Path | None = None,
    run_config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Resolve the settings of one corpus: defaults < environment < corpus.yaml < run config."""
    merged: dict[str, Any] = {}
    env = env_overrides(environ)
    if env:
        validate_settings(env, "environment (RAGASSETS_* variables)")
        merged = _deep_merge(merged, env)
    if corpus_path is not None:
        merged = _deep_merge(merged, read_corpus_yaml(corpus_path))
    if run_config:
        validate_settings(run_config, "run config")
        merged = _deep_merge(merged, run_config)
    return validate_settings(merged, str(corpus_path / CORPUS_FILE) if corpus_path else "settings")
