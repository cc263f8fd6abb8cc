"""Merge a tiny adapter, write the GGUF, read it back with transformers and compare logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragassets.export import gguf as gguf_export
from ragassets.export.gguf import GGUFExportError, permute_for_llama_cpp, verify_gguf, write_gguf
from ragassets.settings import TrainingSettings
from ragassets.training.lora import train_adapter
from ragassets.training.merge import merge_adapter
from ragassets_tests.training.conftest import sft_rows


@pytest.fixture(scope="module")
def merged(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("adapter")
    # a high learning rate so the merge visibly changes the weights
    report = train_adapter(tiny_model, TrainingSettings(max_steps=2, batch_size=2, learning_rate=5e-2), work,
                           sft_train=sft_rows(), log=lambda s: None)
    return merge_adapter(tiny_model, Path(report.path), tmp_path_factory.mktemp("merged") / "merged")


def test_merged_folder_loads_without_peft_and_differs_from_base(merged: Path, tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert not (merged / "adapter_config.json").exists()
    a = AutoModelForCausalLM.from_pretrained(str(merged), local_files_only=True)
    b = AutoModelForCausalLM.from_pretrained(str(tiny_model), local_files_only=True)
    diff = max(float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters()))
    assert diff > 1e-4
    assert not any("lora" in n for n, _ in a.named_parameters())
    assert torch.isfinite(next(a.parameters())).all()


def test_f16_gguf_round_trip_matches_logits(merged: Path, tmp_path: Path) -> None:
    import gguf

    info = write_gguf(merged, tmp_path / "m.gguf", quantization="f16", name="tiny")
    reader = gguf.GGUFReader(info.path)
    fields = reader.fields
    assert fields["general.architecture"].contents() == "llama"
    assert fields["tokenizer.ggml.model"].contents() == "gpt2"
    assert len(fields["tokenizer.ggml.tokens"].contents()) == info.vocab_size
    assert fields["tokenizer.ggml.merges"].contents()
    assert "assistant" in fields["tokenizer.chat_template"].contents()
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output_norm.weight"} <= names
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == "F16" and types["blk.0.attn_norm.weight"] == "F32"

    v = verify_gguf(Path(info.path), merged, tolerance=0.01)
    assert v.passed and v.tokenizer_agreement == 1.0 and v.argmax_agreement == 1.0, v
    assert v.chat_tokenizer_agreement == 1.0  # byte-level BPE: special tokens inside the text too
    assert v.relative_diff < 0.005


def test_q8_0_gguf_is_smaller_and_close(merged: Path, tmp_path: Path) -> None:
    f16 = write_gguf(merged, tmp_path / "f16.gguf", quantization="f16")
    q8 = write_gguf(merged, tmp_path / "q8.gguf", quantization="q8_0")
    assert q8.size_bytes < f16.size_bytes
    v = verify_gguf(Path(q8.path), merged, tolerance=0.2)
    assert v.passed and v.relative_diff > 0, v


def test_without_the_qk_permutation_the_check_fails(merged: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gguf_export, "permute_for_llama_cpp", lambda w, n_head: w)
    info = write_gguf(merged, tmp_path / "wrong.gguf")
    v = verify_gguf(Path(info.path), merged, tolerance=0.01)
    assert not v.passed and v.relative_diff > 0.01


def test_permutation_is_undone_by_transformers_reader_with_grouped_kv_heads() -> None:
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    rng = np.random.default_rng(0)
    q = rng.normal(size=(9 * 8, 24)).astype(np.float32)  # 9 heads of dim 8
    k = rng.normal(size=(3 * 8, 24)).astype(np.float32)  # 3 KV heads
    proc = LlamaTensorProcessor(config={"num_attention_heads": 9, "num_key_value_heads": 3})
    back_q = proc.process(permute_for_llama_cpp(q, 9), "blk.0.attn_q.weight").weights
    back_k = proc.process(permute_for_llama_cpp(k, 3), "blk.0.attn_k.weight").weights
    assert np.array_equal(back_q, q) and np.array_equal(back_k, k)
    assert not np.array_equal(permute_for_llama_cpp(q, 9), q)


def test_other_architectures_are_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(GGUFExportError, match="not Llama-family"):
        write_gguf(tmp_path, tmp_path / "x.gguf")
    (tmp_path / "config.json").write_text(json.dumps(
        {"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}))
    with pytest.raises(GGUFExportError, match="rope scaling 'llama3'"):
        write_gguf(tmp_path, tmp_path / "x.gguf")
    assert not list(tmp_path.glob("*.gguf*"))


def _tiny_sentencepiece_llama(path: Path) -> Path:
    """A tiny random Mistral-architecture model with a Llama-2/Mistral-style tokenizer: BPE with byte
    fallback and '▁' for spaces (llama.cpp's "llama" tokenizer), and an [INST] chat template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers
    from transformers import MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast

    from ragassets_tests.llm.tiny_model import TEXTS

    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    bpe.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>", *(f"<0x{i:02X}>" for i in range(256))]
    bpe.train_from_iterator(TEXTS, trainers.BpeTrainer(vocab_size=600, special_tokens=specials))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.chat_template = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} "
                         "[/INST]{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}")
    tok.save_pretrained(str(path))
    config = MistralConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, sliding_window=None)
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(str(path))
    return path


def test_sentencepiece_style_mistral_round_trip(tmp_path: Path) -> None:
    import gguf

    folder = _tiny_sentencepiece_llama(tmp_path / "spm_model")
    info = write_gguf(folder, tmp_path / "mistral.gguf")
    assert (info.tokenizer_model, info.architecture) == ("llama", "MistralForCausalLM")
    reader = gguf.GGUFReader(info.path)
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    assert types[tokens.index("<0x41>")] == int(gguf.TokenType.BYTE)
    assert types[tokens.index("</s>")] == int(gguf.TokenType.CONTROL)
    v = verify_gguf(Path(info.path), folder, tolerance=0.01)
    assert v.passed and v.tokenizer_agreement == 1.0, v
