"""Write a Llama-family Hugging Face folder (SmolLM2, Llama 2/3, Mistral) as a GGUF file for
llama.cpp and Ollama, with the ``gguf`` package, and prove the file by reading it back.

What a GGUF needs that a safetensors folder spells differently:

- tensor names in llama.cpp's scheme (``blk.N.attn_q.weight``, ``token_embd.weight``, ...);
- the query and key projections with their rows permuted: Hugging Face stores the two halves of each
  head's rotary dimensions one after the other, llama.cpp interleaves them;
- the tokenizer as metadata: the vocabulary, BPE merges, token types (special tokens are CONTROL),
  the special token ids, whether a BOS is added, the pre-tokenizer name and the chat template.

:func:`verify_gguf` loads the written file with transformers (``gguf_file=``, which undoes the
permutation and rebuilds the tokenizer) and compares its logits with the merged model's on a few
prompts. No Dagster import.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

LLAMA_FAMILY = ("LlamaForCausalLM", "MistralForCausalLM")

_LAYER_TENSORS = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)\.(weight|bias)$")

# pre-tokenizer regexes llama.cpp knows by name (tokenizer.ggml.pre)
_LLAMA3_PATTERN_HINT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_QWEN2_PATTERN_HINT = "\\p{N}|"


class GGUFExportError(ValueError):
    """The folder cannot be written as a GGUF by this writer; the message says why."""


@dataclass(frozen=True)
class GGUFInfo:
    path: str
    quantization: str
    n_tensors: int
    size_bytes: int
    vocab_size: int
    tokenizer_model: str
    tokenizer_pre: str
    architecture: str


def supports(config: dict[str, Any]) -> str | None:
    """None when this writer handles the model, else the reason it does not."""
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in LLAMA_FAMILY:
        return f"architecture {arch} is not Llama-family ({', '.join(LLAMA_FAMILY)})"
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope.get("type") or "default"
    if rope_type not in ("default", "linear"):
        return f"rope scaling '{rope_type}' is not written by this exporter"
    if config.get("attention_bias") or config.get("mlp_bias"):
        return "attention or MLP biases are not part of the llama GGUF layout"
    return None


def permute_for_llama_cpp(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k projection from Hugging Face's rotary layout (two halves per head) to llama.cpp's
    interleaved one. ``n_head`` is the number of heads of that projection (KV heads for k)."""
    rows = weight.shape[0]
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _tensor_name(hf_name: str) -> str | None:
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    m = _LAYER_RE.match(hf_name)
    if m and m.group(2) in _LAYER_TENSORS:
        return f"blk.{m.group(1)}.{_LAYER_TENSORS[m.group(2)]}.{m.group(3)}"
    if hf_name.endswith("rotary_emb.inv_freq"):
        return None  # recomputed by llama.cpp from rope.freq_base
    raise GGUFExportError(f"tensor {hf_name} has no place in the llama GGUF layout")


def _read_state_dict(folder: Path) -> dict[str, np.ndarray]:
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise GGUFExportError(f"{folder} has no *.safetensors weights (save the model with safe_serialization)")
    out: dict[str, np.ndarray] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
                out[key] = fh.get_tensor(key).float().numpy()
    return out


def _pre_tokenizer_name(tokenizer_json: dict[str, Any]) -> str:
    """llama.cpp's name for how this tokenizer splits text before BPE."""
    text = json.dumps(tokenizer_json.get("pre_tokenizer"))
    if _LLAMA3_PATTERN_HINT in text:
        return "llama-bpe"
    if "Digits" in text and '"individual_digits": true' in text:
        return "smollm"
    if _QWEN2_PATTERN_HINT in text:
        return "qwen2"
    return "gpt-2"


def _vocab(tokenizer_json: dict[str, Any], tok, vocab_size: int):
    """Tokens (in id order), their types and the merges, from tokenizer.json."""
    import gguf

    model = tokenizer_json["model"]
    if model.get("type") != "BPE":
        raise GGUFExportError(f"tokenizer model {model.get('type')} is not BPE")
    by_id: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    types: dict[int, int] = {i: int(gguf.TokenType.NORMAL) for i in by_id}
    for added in tokenizer_json.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        types[added["id"]] = int(gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED)
    size = max(vocab_size, max(by_id) + 1)
    tokens, token_types = [], []
    for i in range(size):
        if i in by_id:
            tokens.append(by_id[i])
            token_types.append(types[i])
        else:  # the embedding matrix is larger than the vocabulary: llama.cpp pads the same way
            tokens.append(f"[PAD{i}]")
            token_types.append(int(gguf.TokenType.UNUSED))
    byte_fallback = bool(model.get("byte_fallback"))
    if byte_fallback:
        for i, t in enumerate(tokens):
            if re.fullmatch(r"<0x[0-9A-F]{2}>", t):
                token_types[i] = int(gguf.TokenType.BYTE)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, token_types, merges, byte_fallback


def _adds_token(tok, which: str) -> bool:
    token_id = getattr(tok, f"{which}_token_id")
    if token_id is None:
        return False
    ids = tok("a")["input_ids"]
    return bool(ids) and ids[0 if which == "bos" else -1] == token_id


def _end_of_turn(tok) -> int | None:
    for name in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
        token_id = tok.convert_tokens_to_ids(name)
        if isinstance(token_id, int) and token_id != tok.unk_token_id and token_id >= 0:
            return token_id
    return None


def _add_tokenizer(writer, folder: Path, vocab_size: int) -> tuple[str, str, int]:
    from transformers import AutoTokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise GGUFExportError(f"{folder} has no tokenizer.json (a fast tokenizer is needed)")
    tokenizer_json = json.loads(path.read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    tokens, token_types, merges, byte_fallback = _vocab(tokenizer_json, tok, vocab_size)
    if byte_fallback:  # SentencePiece-style BPE (Llama 2, Mistral): llama.cpp's "llama" tokenizer
        model_name, pre = "llama", "default"
        writer.add_tokenizer_model(model_name)
        writer.add_token_list(tokens)
        writer.add_token_scores([-float(i) for i in range(len(tokens))])
        writer.add_add_space_prefix(True)
    else:  # byte-level BPE (GPT-2 style: SmolLM2, Llama 3)
        model_name, pre = "gpt2", _pre_tokenizer_name(tokenizer_json)
        writer.add_tokenizer_model(model_name)
        writer.add_tokenizer_pre(pre)
        writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    for which, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                       ("unk", writer.add_unk_token_id), ("pad", writer.add_pad_token_id)):
        token_id = getattr(tok, f"{which}_token_id")
        if token_id is not None:
            add(int(token_id))
    eot = _end_of_turn(tok)
    if eot is not None:
        writer.add_eot_token_id(eot)
    writer.add_add_bos_token(_adds_token(tok, "bos"))
    writer.add_add_eos_token(_adds_token(tok, "eos"))
    template = getattr(tok, "chat_template", None)
    if isinstance(template, str) and template:
        writer.add_chat_template(template)
    return model_name, pre, len(tokens)


def _encode(data: np.ndarray, quantization: str):
    """(array, raw dtype) for one tensor: 1-D tensors stay float32 as llama.cpp keeps them."""
    import gguf

    if data.ndim == 1:
        return data.astype(np.float32), None
    if quantization == "q8_0" and data.shape[-1] % gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0] == 0:
        q = gguf.GGMLQuantizationType.Q8_0
        return gguf.quants.quantize(data.astype(np.float32), q), q
    return data.astype(np.float16), None


def write_gguf(folder: Path, out: Path, *, quantization: str = "f16", name: str | None = None) -> GGUFInfo:
    """Write the model in ``folder`` (config.json, safetensors, tokenizer.json) to ``out``, atomically."""
    import gguf

    if quantization not in ("f16", "q8_0"):
        raise GGUFExportError(f"quantization must be f16 or q8_0, got {quantization!r}")
    config = json.loads((folder / "config.json").read_text())
    reason = supports(config)
    if not reason and config.get("sliding_window") and config["architectures"][0] == "MistralForCausalLM":
        reason = "Mistral's sliding-window attention is not written by this exporter"
    if reason:
        raise GGUFExportError(f"{folder}: {reason}")
    arch = config["architectures"][0]
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    hidden = int(config["hidden_size"])
    head_dim = int(config.get("head_dim") or hidden // n_head)
    rope = config.get("rope_parameters") or {}
    rope_theta = float(rope.get("rope_theta") or config.get("rope_theta") or 10000.0)
    scaling = config.get("rope_scaling") or (rope if rope.get("rope_type") == "linear" else None)
    vocab_size = int(config["vocab_size"])
    # llama.cpp runs Mistral as "llama". (transformers would read a name containing "mistral" as its own
    # architecture, which the gguf package cannot map back: the name stays as given.)
    model_name = name or folder.name

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, "llama")
        writer.add_name(model_name)
        writer.add_context_length(int(config.get("max_position_embeddings") or 2048))
        writer.add_embedding_length(hidden)
        writer.add_block_count(int(config["num_hidden_layers"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_rope_dimension_count(head_dim)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_kv)
        writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps") or 1e-5))
        writer.add_rope_freq_base(rope_theta)
        if scaling and (scaling.get("rope_type") or scaling.get("type")) == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(float(scaling["factor"]))
        writer.add_vocab_size(vocab_size)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if quantization == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0)
        tok_model, tok_pre, n_tokens = _add_tokenizer(writer, folder, vocab_size)

        state = _read_state_dict(folder)
        if config.get("tie_word_embeddings") and "lm_head.weight" in state:
            state.pop("lm_head.weight")  # tied: llama.cpp reuses token_embd when output.weight is absent
        n = 0
        for hf_name, data in state.items():
            gg_name = _tensor_name(hf_name)
            if gg_name is None:
                continue
            if ".attn_q." in gg_name:
                data = permute_for_llama_cpp(data, n_head)
            elif ".attn_k." in gg_name:
                data = permute_for_llama_cpp(data, n_kv)
            array, raw_dtype = _encode(data, quantization)
            writer.add_tensor(gg_name, array, raw_dtype=raw_dtype)
            n += 1
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return GGUFInfo(
        path=str(out),
        quantization=quantization,
        n_tensors=n,
        size_bytes=out.stat().st_size,
        vocab_size=n_tokens,
        tokenizer_model=tok_model,
        tokenizer_pre=tok_pre,
        architecture=arch,
    )


@dataclass(frozen=True)
class Verification:
    """The written GGUF read back by transformers against the merged model."""

    prompts: int
    max_abs_diff: float
    max_abs_logit: float
    relative_diff: float
    argmax_agreement: float
    tokenizer_agreement: float  # the prompts as plain text: same ids from the GGUF's tokenizer
    chat_tokenizer_agreement: float  # the chat-formatted prompts (special tokens inside the text)
    passed: bool
    tolerance: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_VERIFY_PROMPTS = (
    "What did the crew do after the oxygen tank failed?",
    "Summarize the passage in one sentence: the seeds are stored in a dry, cool room.",
    "Answer with a number: how many days did the mission last?",
)


def verify_gguf(
    gguf_path: Path, folder: Path, *, prompts: list[str] | None = None, tolerance: float = 0.05
) -> Verification:
    """Load ``gguf_path`` with transformers and compare logits with the model in ``folder``.

    Passes when the largest |difference| is at most ``tolerance`` x the largest |logit| (on the
    chat-formatted prompts) and the GGUF's rebuilt tokenizer splits the prompts into the same ids.
    Agreement on the chat-formatted text is reported too: a legacy SentencePiece tokenizer puts a
    '▁' after special tokens where transformers' GGUF reader (and newer tokenizers) do not.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    prompts = list(prompts or DEFAULT_VERIFY_PROMPTS)
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    gtok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, local_files_only=True)
    ref = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True).eval()
    back = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32, local_files_only=True
    ).eval()
    texts = []
    for p in prompts:
        if getattr(tok, "chat_template", None):
            texts.append(tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                 add_generation_prompt=True))
        else:
            texts.append(p)
    def same(text: str) -> int:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        return int(ids == gtok(text, add_special_tokens=False)["input_ids"])

    max_diff = max_logit = 0.0
    agree = total = 0
    same_plain = sum(same(p) for p in prompts)
    same_chat = sum(same(t) for t in texts)
    with torch.no_grad():
        for text in texts:
            ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
            a = ref(input_ids=ids).logits[0]
            b = back(input_ids=ids).logits[0]
            max_diff = max(max_diff, float((a - b).abs().max()))
            max_logit = max(max_logit, float(a.abs().max()))
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            total += a.shape[0]
    relative = max_diff / max(max_logit, 1e-6)
    tok_agree = same_plain / len(prompts)
    return Verification(
        prompts=len(texts),
        max_abs_diff=round(max_diff, 6),
        max_abs_logit=round(max_logit, 4),
        relative_diff=round(relative, 6),
        argmax_agreement=round(agree / max(total, 1), 4),
        tokenizer_agreement=round(tok_agree, 4),
        chat_tokenizer_agreement=round(same_chat / len(texts), 4),
        passed=relative <= tolerance and tok_agree == 1.0,
        tolerance=tolerance,
    )
