"""Tokenizers built on the fly with a chat template, for tests that compare our segments with
``apply_chat_template``: ChatML (SmolLM2's template, whose tokenizer calls ``<|im_start|>`` its BOS)
and a Llama 3 style template (BOS ``<|begin_of_text|>`` before the first turn)."""

from __future__ import annotations

from ragassets.rag.chat_format import SMOLLM2_CHAT_TEMPLATE

LLAMA3_STYLE_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

TEXTS = [
    "The crew of Apollo 13 moved into the lunar module after the oxygen tank exploded.",
    "Mission Control in Houston worked out a plan to bring the astronauts home.",
    "system user assistant: answer the question using the retrieved chunks. Chunk 1 Source: ---",
    "Numbers like 1970, 200,000 and 4 appear in reports, with dates such as April 13.",
] * 10


def chat_tokenizer(kind: str):
    """A fast tokenizer (BPE trained in well under a second) with the special tokens and chat
    template of ``kind``: ``chatml`` or ``llama3``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "chatml":
        special, bos, eos, template = ["<|im_start|>", "<|im_end|>"], "<|im_start|>", "<|im_end|>", SMOLLM2_CHAT_TEMPLATE
    elif kind == "llama3":
        special = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        bos, eos, template = "<|begin_of_text|>", "<|eot_id|>", LLAMA3_STYLE_TEMPLATE
    else:
        raise ValueError(kind)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<unk>", *special], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(TEXTS, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=bos, eos_token=eos, unk_token="<unk>")
    tok.chat_template = template
    return tok
