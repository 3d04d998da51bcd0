"""The vLLM engine against the transformers engine on one small LLaVA saved to disk: same greedy answers
and likelihoods, a LoRA adapter added without a reload, changed base weights loaded into the running
engine. The first test needs a CUDA GPU and vLLM (`pip install 'mu-registry[vllm]'`) and is skipped
elsewhere (CI); the second checks the engine's own bookkeeping against a stand-in for vLLM's API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import randomize_lora_b

from mu_registry.engines import vllm_available

needs_gpu = pytest.mark.skipif(not vllm_available(), reason="needs a CUDA GPU and vLLM")

transformers = pytest.importorskip("transformers")


def _save_small_llava(folder):
    """Like test_hf_llava's checkpoint, with head size 64 (what vLLM's attention kernels take)."""
    from test_hf_llava import _save_tiny_llava

    _save_tiny_llava(folder)
    config = transformers.AutoConfig.from_pretrained(folder)
    config.text_config.hidden_size, config.text_config.intermediate_size = 256, 512
    config.text_config.num_attention_heads = config.text_config.num_key_value_heads = 4
    config.text_config.head_dim = 64
    torch.manual_seed(0)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(folder)


@needs_gpu
def test_vllm_matches_transformers_and_swaps_adapters_without_reloading(tmp_path):
    from mu_registry.data import Split
    from mu_registry.engines import TransformersEngine
    from mu_registry.engines.vllm_engine import VLLMEngine
    from mu_registry.model import TaskSpec
    from mu_registry_plugins.models.hf_llava import HFLlava

    folder = tmp_path / "llava"
    _save_small_llava(folder)
    adapter = HFLlava(pretrained=str(folder), dtype="bfloat16")
    spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    questions = [f"What is item {i}?" for i in range(24)]
    split = Split("s", {"question": questions, "answer": [f"item {i}" for i in range(24)]}, list(range(24)))
    data = adapter.encode(split, spec)
    model = adapter.build(spec, 0).to("cuda").eval()
    hf = TransformersEngine(adapter, model, device=torch.device("cuda"), batch_size=8)
    fast = VLLMEngine(adapter, model, device=torch.device("cuda"), gpu_memory_utilization=0.3, max_model_len=512)

    fast.sync(model)
    same = np.mean([a == b for a, b in zip(fast.generate(data, max_new_tokens=8), hf.generate(data, max_new_tokens=8))])
    assert same >= 0.8
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)

    lora = adapter.add_lora(model, "default", r=8, alpha=16, dropout=0.0)
    randomize_lora_b(lora, 0.02)
    llm = fast.llm
    fast.sync(lora)
    hf.sync(lora)
    assert fast.llm is llm and fast.starts == 1 and fast.adapters_added == 1 and fast.weight_reloads == 0
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)

    with torch.no_grad():
        lora.get_base_model().lm_head.weight.mul_(1.1)
    fast.sync(lora)
    assert fast.llm is llm and fast.weight_reloads == 1 and fast.adapters_added == 1
    np.testing.assert_allclose(fast.loglikelihood(data), hf.loglikelihood(data), atol=0.05)


def test_engine_bookkeeping_against_a_stand_in_for_vllms_api(tmp_path, monkeypatch):
    """Runs everywhere (CI included): the engine's exports, adapter ids, in-place reloads and likelihood
    reading, against tests/helpers/vllm_api_standin.py (vLLM's API computed with transformers)."""
    import sys
    from pathlib import Path

    pytest.importorskip("peft")
    sys.path.insert(0, str(Path(__file__).parent / "helpers"))
    import vllm_api_standin
    from test_hf_llava import _save_tiny_llava

    from mu_registry.data import Split
    from mu_registry.engines import TransformersEngine
    from mu_registry.engines.vllm_engine import VLLMEngine
    from mu_registry.model import TaskSpec
    from mu_registry_plugins.models.hf_llava import HFLlava

    vllm_api_standin.install(monkeypatch)
    folder = tmp_path / "llava"
    _save_tiny_llava(folder)
    adapter = HFLlava(pretrained=str(folder))
    spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    split = Split("s", {"question": [f"Who is {n}?" for n in "Ana Bo Cy Di Ed".split()],
                        "answer": ["a painter", "a pilot", "a cook", "a poet", "a judge"]}, np.arange(5))
    data = adapter.encode(split, spec)
    cpu = torch.device("cpu")
    model = adapter.build(spec, 0).eval()
    hf = TransformersEngine(adapter, model, device=cpu, batch_size=2)
    fast = VLLMEngine(adapter, model, device=cpu, workdir=str(tmp_path / "work"))

    def same(adapter_name=None):
        kw = {} if adapter_name is None else {"adapter": adapter_name}
        np.testing.assert_allclose(fast.loglikelihood(data, **kw), hf.loglikelihood(data, **kw), atol=1e-4)
        assert fast.generate(data, max_new_tokens=5, **kw) == hf.generate(data, max_new_tokens=5, **kw)

    fast.sync(model)
    same()
    assert fast.starts == 1 and vllm_api_standin.LLM.instances == 1

    lora = adapter.add_lora(model, "default", r=4, alpha=8, dropout=0.0)
    lora = adapter.add_lora(lora, "expert", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.2)
    fast.sync(lora)
    hf.sync(lora)
    assert fast.adapters_added == 2 and fast.weight_reloads == 0 and vllm_api_standin.LLM.instances == 1
    same("default")
    same("expert")
    before = fast.loglikelihood(data, adapter="expert")
    fast.sync(lora)  # nothing changed: nothing saved or reloaded
    assert fast.adapters_added == 2 and fast.weight_reloads == 0

    with torch.no_grad():
        lora.get_base_model().lm_head.weight.mul_(1.5)  # a full-weight change, as RMU makes
    fast.sync(lora)
    assert fast.weight_reloads == 1 and fast.starts == 1 and vllm_api_standin.LLM.instances == 1
    assert not np.allclose(fast.loglikelihood(data, adapter="expert"), before)
    same("expert")
    with lora.disable_adapter():
        np.testing.assert_allclose(fast.loglikelihood(data, adapter=None), hf.loglikelihood(data), atol=1e-4)
