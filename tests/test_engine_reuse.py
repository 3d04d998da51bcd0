"""The transformers engine's reuse path (shared prefixes, image features and rows computed once per weights
state, greedy decoding written out) gives exactly the plain path's answers, on a tiny LLaVA with and without
images, and never reuses anything across a change of the weights it depends on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import randomize_lora_b

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.evaluation.engines import TransformersEngine  # noqa: E402
from mu_registry.evaluation.engines.hf_engine import llava_parts  # noqa: E402
from mu_registry.evaluation.engines.reuse import LRUBytes, TensorDigests, image_digest, route_filter  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.api.qa import EncodedQA  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TOKENS, TinyLlava  # noqa: E402

CPU = torch.device("cpu")
SPEC = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")


def _data(adapter: TinyLlava, rows: int = 24) -> EncodedQA:
    split = entity_world(entities=9, images_per_entity=2, paraphrases=2, seed=0)["train"]
    data = adapter.encode(split.take(range(rows)), SPEC)
    pool = sorted(set(data.answer_texts)) + ["a much longer distractor answer"]
    options = [[a] + [p for p in pool if p != a][i % 3: i % 3 + 2 + i % 2] for i, a in enumerate(data.answer_texts)]
    return dataclasses.replace(data, options=options)


def _trained_ish(seed: int = 0):
    """A tiny LLaVA whose greedy answers are not all the same token: weights scaled up from the init."""
    adapter = TinyLlava()
    model = adapter.build(SPEC, seed).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return adapter, model


def _same_answers(a: TransformersEngine, b: TransformersEngine, data: EncodedQA, adapter=None, **route):
    kw = dict(route)
    for stop in ((), ("a", "e"), ("\n",)):
        ours = a.generate(data, max_new_tokens=10, stop=stop, **kw)
        assert ours == b.generate(data, max_new_tokens=10, stop=stop, **kw)
    np.testing.assert_allclose(a.loglikelihood(data, **kw), b.loglikelihood(data, **kw), rtol=1e-4, atol=1e-4)
    picked_a, scores_a = a.choose(data, **kw)
    picked_b, scores_b = b.choose(data, **kw)
    assert picked_a == picked_b
    finite = np.isfinite(scores_b)
    assert np.array_equal(finite, np.isfinite(scores_a))
    np.testing.assert_allclose(scores_a[finite], scores_b[finite], rtol=1e-4, atol=1e-4)


def test_reuse_path_gives_the_plain_paths_answers_with_and_without_images():
    adapter, model = _trained_ish()
    data = _data(adapter)
    assert data.has_image.any() and (~data.has_image).any()
    plain = TransformersEngine(adapter, model, device=CPU, batch_size=5, reuse=False)
    fast = TransformersEngine(adapter, model, device=CPU, batch_size=5)
    texts = plain.generate(data, max_new_tokens=10)
    assert len(set(texts)) > 3  # the comparison is not between constant answers
    _same_answers(fast, plain, data)
    assert fast.prefixes.hits > 0 and fast.features.hits == 0
    # a reference answer the model generates itself: scored from the generation pass, the same NLL
    greedy = data.with_answers([TOKENS.encode(t)[:4] for t in texts], [t[:4] for t in texts])
    hits = fast.greedy_hits
    np.testing.assert_allclose(fast.loglikelihood(greedy), plain.loglikelihood(greedy), rtol=1e-4, atol=1e-4)
    assert fast.greedy_hits > hits
    # image rows only, text rows only, and duplicated rows (computed once)
    for part in (data.where(data.has_image), data.where(~data.has_image), data.take([0, 1, 0, 5, 1])):
        engine = TransformersEngine(adapter, model, device=CPU, batch_size=3)
        _same_answers(engine, plain, part)
    assert engine.rows_computed == 5 * 3  # 5 requests (3 generations, likelihood, choice) x 3 distinct rows

    # through LoRA adapters by name and with adapters off (LUMoE's routes)
    lora = adapter.add_lora(model, "expert", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.5)
    plain.sync(lora)
    fast.sync(lora)
    _same_answers(fast, plain, data, adapter="expert")
    _same_answers(fast, plain, data, adapter=None)
    assert fast.features.hits > 0  # new weights states, the same vision tower: features read back


def test_image_features_match_llavas_own_and_are_recomputed_when_the_tower_or_projector_changes():
    adapter, model = _trained_ish()
    data = _data(adapter).where(_data(adapter).has_image)
    parts = llava_parts(model)
    assert parts is not None and parts.image_token == TOKENS.image
    engine = TransformersEngine(adapter, model, device=CPU, batch_size=4)
    pixels = adapter.pixel_values(data.images[:3])
    with torch.inference_mode():
        ours = engine._image_features(parts, data.images[:3])
        theirs = torch.stack(list(model.model.get_image_features(
            pixel_values=pixels, vision_feature_layer=model.config.vision_feature_layer,
            vision_feature_select_strategy=model.config.vision_feature_select_strategy).pooler_output))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    distinct = len({image_digest(img) for img in data.images[:3]})
    assert engine.features.misses == distinct == len(engine.features) >= 2

    before = engine.generate(data, max_new_tokens=8)
    for change in (lambda: model.model.vision_tower.encoder.layers[0].layer_norm2.weight.mul_(-1.0),
                   lambda: model.model.multi_modal_projector.linear_1.weight.mul_(-2.0)):
        with torch.no_grad():
            change()
        plain = TransformersEngine(adapter, model, device=CPU, batch_size=4, reuse=False)
        after = engine.generate(data, max_new_tokens=8)
        assert after == plain.generate(data, max_new_tokens=8) and after != before
        before = after


def test_rows_are_computed_once_per_weights_state_and_a_new_adapter_keeps_the_base_routes_answers():
    adapter, model = _trained_ish()
    data = _data(adapter)
    lora = adapter.add_lora(model, "first", r=4, alpha=8, dropout=0.0)
    randomize_lora_b(lora, 0.5)
    engine = TransformersEngine(adapter, lora, device=CPU, batch_size=8)
    base = engine.generate(data, max_new_tokens=8, adapter=None)
    first = engine.generate(data, max_new_tokens=8, adapter="first")
    computed = engine.rows_computed
    assert engine.generate(data, max_new_tokens=8, adapter=None) == base and engine.rows_computed == computed

    # a second expert added (LUMoE's next request): the base and the first expert answer from memory
    lora.add_adapter("second", lora.peft_config["first"])
    randomize_lora_b(lora, 0.5)  # every LoRA B changes, the first expert's too: its rows are recomputed
    assert engine.generate(data, max_new_tokens=8, adapter=None) == base and engine.rows_computed == computed
    plain = TransformersEngine(adapter, lora, device=CPU, batch_size=8, reuse=False)
    assert engine.generate(data, max_new_tokens=8, adapter="first") == plain.generate(data, max_new_tokens=8,
                                                                                      adapter="first")
    assert engine.rows_computed > computed
    assert engine.generate(data, max_new_tokens=8, adapter="first") != first

    # an in-place change of a base weight reaches every route
    with torch.no_grad():
        lora.get_base_model().lm_head.weight.mul_(1.5)
    again = engine.rows_computed
    assert engine.generate(data, max_new_tokens=8, adapter=None) == plain.generate(data, max_new_tokens=8,
                                                                                   adapter=None)
    assert engine.rows_computed > again


def test_digests_routes_and_lru():
    lin = torch.nn.Linear(3, 2)
    digests = TensorDigests()
    fp = digests.fingerprint(lin)
    assert digests.fingerprint(lin) == fp and digests.hashed == 2  # unchanged tensors are not hashed again
    with torch.no_grad():
        lin.weight.add_(1.0)
    assert digests.fingerprint(lin) != fp and digests.hashed == 3
    keep = route_filter(lin, None)
    assert keep("a.q_proj.base_layer.weight") and not keep("a.q_proj.lora_A.x.weight")
    named = route_filter(lin, "x")
    assert named("a.q_proj.lora_A.x.weight") and not named("a.q_proj.lora_A.y.weight")
    assert image_digest(np.zeros((3, 2, 2), np.uint8)) != image_digest(np.ones((3, 2, 2), np.uint8))
    assert image_digest(np.zeros((3, 2, 2), np.uint8)) != image_digest(np.zeros((3, 4, 1), np.uint8))
    store = LRUBytes(budget_bytes=100)
    store.put("a", torch.zeros(10))  # 40 bytes
    store.put("b", torch.zeros(10))
    store.put("c", torch.zeros(10))  # over 100: "a" goes
    assert store.get("a") is None and store.get("b") is not None and store.size == 80
    store.put("huge", torch.zeros(100))
    assert store.get("huge") is None
