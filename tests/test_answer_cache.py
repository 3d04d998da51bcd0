"""The answer cache cannot go stale: the same weights read their answers back; changed weights (base or a LoRA
adapter) get new answers, not an earlier model's (the failure of a cache keyed on the request alone)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.evaluation.answer_cache import AnswerCache, weights_fingerprint  # noqa: E402
from mu_registry.evaluation.engines import TransformersEngine  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.evaluation.generative import answer_sets  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TinyLlava  # noqa: E402

CPU = torch.device("cpu")


def test_changed_weights_are_never_answered_from_the_cache(tmp_path):
    adapter = TinyLlava()
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")
    split = entity_world(entities=9, images_per_entity=1, paraphrases=2, seed=0)["train"]
    sets = {"a": adapter.encode(split.take(range(12)), spec)}
    model = adapter.build(spec, 0).eval()
    cache = AnswerCache(tmp_path)
    engine = TransformersEngine(adapter, model, device=CPU, batch_size=8)

    def answers(m):
        got = answer_sets(engine, m, sets, route=None, max_new_tokens=6, cache=cache)
        return got["a"].answers, got["a"].nll

    first, nll = answers(model)
    assert cache.misses and not cache.hits
    calls = {"n": 0}
    real_generate = engine.generate

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real_generate(*args, **kwargs)

    engine.generate = counting
    again, nll_again = answers(model)
    assert (again, list(nll_again)) == (first, list(nll)) and calls["n"] == 0 and cache.hits

    before = weights_fingerprint(model)
    with torch.no_grad():  # new base weights: a new key, the model really answers again
        model.lm_head.weight.add_(torch.randn_like(model.lm_head.weight))
    assert weights_fingerprint(model) != before
    changed, nll_changed = answers(model)
    assert calls["n"] == 1 and not np.allclose(nll_changed, nll)

    lora = adapter.add_lora(model, "default", r=4, alpha=4, dropout=0.0)
    with_adapter = weights_fingerprint(lora)
    with torch.no_grad():  # only the adapter changes (LoRA B starts at zero): still a new key
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
    assert weights_fingerprint(lora) != with_adapter
    _, nll_lora = answers(lora)
    assert calls["n"] == 2 and not np.allclose(nll_lora, nll_changed)
