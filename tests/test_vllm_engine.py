"""The vLLM engine against the transformers engine on one small LLaVA saved to disk: same greedy answers
and likelihoods, a LoRA adapter added without a reload, changed base weights loaded into the running
engine. Needs a CUDA GPU and vLLM (`pip install 'mu-registry[vllm]'`): skipped elsewhere (CI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mu_registry.engines import vllm_available

pytestmark = pytest.mark.skipif(not vllm_available(), reason="needs a CUDA GPU and vLLM")

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
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)
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
