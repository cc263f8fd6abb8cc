"""transformers on a tiny local Llama; vllm's request building with vllm absent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ragassets.llm import (
    LLMClient,
    LLMRequest,
    ProviderUnavailable,
    ResponseCache,
    SamplingParams,
    make_provider,
)
from ragassets.settings import LlmSettings
from ragassets_tests.llm.tiny_model import build_tiny_llama


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def provider(tiny_model: Path):
    from ragassets.llm.providers.transformers import TransformersProvider

    return TransformersProvider(str(tiny_model), batch_size=4)


GREEDY = SamplingParams(temperature=0.0, max_tokens=6)


def test_batched_generate_uses_left_padding_and_matches_single(provider) -> None:
    short = LLMRequest.chat("hello")
    long = LLMRequest.chat("a much longer question about Apollo 13 and the crew in the lunar module")
    batch = provider.complete_batch([short, long], [GREEDY, GREEDY])
    alone = provider.complete_batch([short], [GREEDY])
    tok, _ = provider.load()
    assert tok.padding_side == "left"
    enc = tok(provider.prompts([short, long]), padding=True, add_special_tokens=False)
    assert enc["input_ids"][0][0] == tok.pad_token_id and enc["attention_mask"][0][0] == 0
    assert batch[0].text == alone[0].text  # padding on the left does not change the answer
    assert batch[0].usage.input_tokens < batch[1].usage.input_tokens
    assert batch[0].usage.source == "tokenizer"
    prompt_len = len(tok(provider.prompts([short])[0], add_special_tokens=False)["input_ids"])
    assert batch[0].usage.input_tokens == prompt_len
    assert all(0 < c.usage.output_tokens <= 6 for c in batch)


def test_chat_template_is_applied(provider) -> None:
    (prompt,) = provider.prompts([LLMRequest.chat("hi", system="be brief")])
    assert prompt == "<s>system: be brief</s>\n<s>user: hi</s>\n<s>assistant:"


def test_sampling_is_seeded_and_grouped(provider) -> None:
    reqs = [LLMRequest.chat("q one"), LLMRequest.chat("q two"), LLMRequest.chat("q three")]
    params = [
        SamplingParams(temperature=1.0, max_tokens=5, seed=1),
        GREEDY,
        SamplingParams(temperature=1.0, max_tokens=5, seed=1),
    ]
    a = [c.text for c in provider.complete_batch(reqs, params)]
    b = [c.text for c in provider.complete_batch(reqs, params)]
    assert a == b and len(a) == 3


def test_through_the_client_with_cache(tiny_model: Path, tmp_path: Path) -> None:
    settings = LlmSettings(
        provider="transformers", model=str(tiny_model), temperature=0.0, max_tokens=4, batch_size=2
    )
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = LLMClient.from_settings(settings, cache=cache)
    reqs = [LLMRequest.chat(f"question {i}") for i in range(3)]
    first = client.run(reqs)
    assert all(r.ok or r.error == "empty_output" for r in first)
    assert client.last_stats.token_source() == "tokenizer"
    second = client.run(reqs)
    assert all(r.cached for r in second if r.ok) and [r.text for r in second] == [r.text for r in first]


def test_schema_goes_into_the_prompt_for_transformers(tiny_model: Path) -> None:
    client = LLMClient.from_settings(LlmSettings(provider="transformers", model=str(tiny_model)), cache=None)
    req = LLMRequest.chat("judge", json_schema={"type": "object", "properties": {"x": {"type": "integer"}}})
    sent = client._prepare(req)
    assert "JSON schema" in sent.messages[-1]["content"] and '"x"' in sent.messages[-1]["content"]


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    from ragassets.llm.providers.transformers import TransformersProvider

    with pytest.raises(ProviderUnavailable, match="does not exist"):
        TransformersProvider(str(tmp_path / "nope")).load()
    client = LLMClient(TransformersProvider(str(tmp_path / "nope")), cache=None)
    (res,) = client.run([LLMRequest.chat("x")])
    assert res.error == "provider_error" and "does not exist" in res.error_detail


# ---------------------------------------------------------------------------------------------------
# vllm: never installed in CI; its request building is tested against a stand-in module


class _Recorder:
    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs


def fake_vllm(structured: bool = True) -> SimpleNamespace:
    calls: list = []

    class LLM:
        def __init__(self, model: str, **kwargs) -> None:
            calls.append(("init", model, kwargs))

        def chat(self, conversations, sampling_params, use_tqdm):
            calls.append(("chat", conversations, sampling_params))
            return [
                SimpleNamespace(
                    prompt_token_ids=[1] * (10 + i),
                    outputs=[SimpleNamespace(text=f"answer {i}", token_ids=[2] * 3, finish_reason="stop")],
                )
                for i in range(len(conversations))
            ]

    sp = SimpleNamespace(
        **({"StructuredOutputsParams": _Recorder} if structured else {"GuidedDecodingParams": _Recorder})
    )
    return SimpleNamespace(LLM=LLM, SamplingParams=_Recorder, sampling_params=sp, calls=calls)


def test_vllm_is_not_needed_until_chosen() -> None:
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    provider = make_provider(LlmSettings(provider="vllm", model="/models/llama"))
    assert "vllm" not in sys.modules
    with pytest.raises(ProviderUnavailable, match=r"pip install 'ragassets\[gpu\]'"):
        provider.engine()
    client = LLMClient(provider, cache=None)
    (res,) = client.run([LLMRequest.chat("x")])
    assert res.error == "provider_error" and "vllm" in res.error_detail


@pytest.mark.parametrize("structured", [True, False])
def test_vllm_request_building(structured: bool) -> None:
    from ragassets.llm.providers.vllm import VllmProvider

    mod = fake_vllm(structured)
    provider = VllmProvider("/models/llama", engine_kwargs={"max_model_len": 4096}, vllm_module=mod)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    reqs = [LLMRequest.chat("plain", system="sys"), LLMRequest.chat("structured", json_schema=schema)]
    params = [SamplingParams(temperature=0.2, max_tokens=50, seed=3, stop=("###",)), SamplingParams()]
    conversations, sampling = provider.build(reqs, params)
    assert conversations[0] == [{"role": "system", "content": "sys"}, {"role": "user", "content": "plain"}]
    assert sampling[0].kwargs == {
        "temperature": 0.2,
        "top_p": 1.0,
        "max_tokens": 50,
        "seed": 3,
        "stop": ["###"],
    }
    guided_key = "structured_outputs" if structured else "guided_decoding"
    assert sampling[1].kwargs[guided_key].kwargs == {"json": schema}
    out = provider.complete_batch(reqs, params)
    assert [c.text for c in out] == ["answer 0", "answer 1"]
    assert out[1].usage.input_tokens == 11 and out[1].usage.output_tokens == 3
    assert mod.calls[0] == ("init", "/models/llama", {"max_model_len": 4096})
    assert provider.native_json_schema


def test_vllm_through_the_client_sends_the_schema_natively() -> None:
    from ragassets.llm.providers.vllm import VllmProvider

    mod = fake_vllm()
    client = LLMClient(VllmProvider("/m", vllm_module=mod), cache=None)
    schema = {"type": "object"}
    client.run([LLMRequest.chat("q", json_schema=schema)])
    _, conversations, sampling = mod.calls[1]
    assert conversations == [[{"role": "user", "content": "q"}]]  # no schema instruction in the prompt
    assert sampling[0].kwargs["structured_outputs"].kwargs == {"json": schema}
