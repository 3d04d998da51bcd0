"""Every generative unlearning method, one request on a tiny LLaVA that has learned the entity world:
the forget answers become less likely, the retain answers stay likely (for methods with a retain
term), LoRA methods leave the base weights untouched, and LUMoE's router finds its expert."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.llm_method import REFUSALS, QAContext  # noqa: E402
from mu_registry.model import TaskSpec  # noqa: E402
from mu_registry.engines import TransformersEngine  # noqa: E402
from mu_registry.registry import Registry  # noqa: E402
from mu_registry.task_config import TrainConfig  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TinyLlava  # noqa: E402

CPU = torch.device("cpu")
SPEC = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")


@pytest.fixture(scope="module")
def world():
    split = entity_world(entities=9, images_per_entity=2, paraphrases=2, seed=1)["train"]
    adapter = TinyLlava(hidden_size=64, layers=2, heads=2)
    data = adapter.encode(split, SPEC)
    torch.manual_seed(0)
    model = adapter.fit(adapter.build(SPEC, 0), data, TrainConfig(epochs=30, batch_size=16, lr=3e-3,
                                                                   optimizer="adamw"), seed=0, device=CPU)
    units = np.asarray(data.units)
    names = list(dict.fromkeys(data.units))
    forget = data.where(np.isin(units, names[:2]), "forget")
    retain = data.where(np.isin(units, names[2:5]), "retain")
    return adapter, model, forget, retain


def _nll(adapter, model, data) -> float:
    return float(TransformersEngine(adapter, model, device=CPU, batch_size=64).loglikelihood(data).mean())


GENERATIVE = ["ga", "ga_klr", "gd", "llm_npo", "simnpo", "idk", "idk_dpo", "rmu", "lumoe"]
WITH_RETAIN = {"ga_klr", "gd", "simnpo", "idk", "idk_dpo", "rmu", "lumoe"}
FAST = {"lr": 2e-3, "epochs": 4}


@pytest.mark.parametrize("name", GENERATIVE)
def test_each_method_unlearns_one_request(world, name):
    adapter, original, forget, retain = world
    registry = Registry()
    cls = registry.method(name)
    assert "generation" in cls.supports
    overrides = dict(FAST, **({"lr": 1e-2, "steering_coeff": 20.0, "alpha": 10.0} if name == "rmu" else {}))
    method = cls(cls.make_params(overrides))
    base = copy.deepcopy(original)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    f0, r0 = _nll(adapter, original, forget), _nll(adapter, original, retain)
    model = method.prepare(base, adapter)
    torch.manual_seed(0)
    ctx = QAContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter, request_index=0,
                    seed=0, device=CPU)
    model = method.unlearn(ctx)
    routes = method.route(model, forget)
    if routes is not None:  # LUMoE: forget queries go to the new expert, retain queries to the base
        assert np.mean([r == "expert_0" for r in routes]) > 0.9
        assert np.mean([r is None for r in method.route(model, retain)]) > 0.9
        model.set_adapter("expert_0")
    f1, r1 = _nll(adapter, model, forget), _nll(adapter, model, retain)
    # slower movers: DPO with beta 0.1, NPO with a retain term, RMU (acts on activations, not on the NLL)
    assert f1 > f0 + (0.2 if name in ("idk_dpo", "lumoe", "rmu") else 0.5), (name, f0, f1)
    if name in WITH_RETAIN:
        assert r1 < r0 + 0.75 * (f1 - f0), (name, r0, r1, f0, f1)
    if name != "rmu":  # LoRA methods: the base weights are not changed
        merged = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                  for k, v in model.state_dict().items() if "lora_" not in k}
        assert all(torch.equal(merged[k], v) for k, v in before.items())


def test_idk_makes_refusals_likely(world):
    adapter, original, forget, retain = world
    cls = Registry().method("idk")
    method = cls(cls.make_params({"lr": 3e-3, "epochs": 12, "lora_dropout": 0.0}))
    model = method.prepare(copy.deepcopy(original), adapter)
    ctx = QAContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter, request_index=0,
                    seed=0, device=CPU)
    refusals = ctx.refusals(forget)
    assert all(t in REFUSALS for t in refusals.answer_texts)
    before = _nll(adapter, model, refusals)
    torch.manual_seed(0)
    method.unlearn(ctx)
    assert _nll(adapter, model, refusals) < 0.5 * before
