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

from mu_registry.api.generative_method import REFUSALS, QAContext  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.evaluation.engines import TransformersEngine  # noqa: E402
from mu_registry.registry.manager import Registry  # noqa: E402
from mu_registry.config.task import TrainConfig  # noqa: E402
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
    train = TrainConfig(epochs=30, batch_size=16, lr=3e-3, optimizer="adamw")
    model = adapter.fit(adapter.build(SPEC, 0), data, train, seed=0, device=CPU)
    units = np.asarray(data.units)
    names = list(dict.fromkeys(data.units))
    forget = data.where(np.isin(units, names[:2]), "forget")
    retain = data.where(np.isin(units, names[2:5]), "retain")
    return adapter, model, forget, retain


def generative(reg, name):
    """(the generative implementation of ``name``, the parameters an old preset name stands for)."""
    canonical, preset = reg.canonical("methods", name, warn=False)
    return reg.method(canonical, task_type="generation"), preset


def _nll(adapter, model, data) -> float:
    return float(TransformersEngine(adapter, model, device=CPU, batch_size=64).loglikelihood(data).mean())


GENERATIVE = ["ga", "ga_klr", "graddiff", "npo", "simnpo", "idk", "po", "idk_dpo", "rmu", "lumoe"]
WITH_RETAIN = {"ga_klr", "graddiff", "simnpo", "idk", "idk_dpo", "rmu"}  # LUMoE as released: none (its router keeps
# retain queries on the base model, checked below)
FAST = {"lr": 2e-3, "epochs": 4}


@pytest.mark.parametrize("name", GENERATIVE)
def test_each_method_unlearns_one_request(world, name):
    adapter, original, forget, retain = world
    registry = Registry()
    cls, preset = generative(registry, name)
    assert "generation" in cls.supports
    overrides = dict(FAST, **preset, **({"lr": 1e-2, "steering_coeff": 20.0, "alpha": 30.0} if name == "rmu" else {}))
    if name == "simnpo":  # its forget term is weighted 0.1375 (Unlearn-Simple's npo_coeff) against the retain NLL
        overrides["lr"] = 1e-2
    if name not in ("rmu", "lumoe"):  # one adapter, projector frozen: the base weights must stay as they were
        overrides.update({"lifelong_lora": "continue", "scope": "llm"})
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
    # slower movers: DPO with beta 0.1, LUMoE (refusal NLL: the forget answer only loses ground to the refusal),
    # SimNPO (forget term weighted 0.1375), RMU (acts on activations, not on the NLL), PO (LUMoE's refusal NLL)
    assert f1 > f0 + (0.2 if name in ("idk_dpo", "lumoe", "po", "rmu", "simnpo") else 0.5), (name, f0, f1)
    if name in WITH_RETAIN:
        assert r1 < r0 + 0.75 * (f1 - f0), (name, r0, r1, f0, f1)
    if name == "rmu":  # WMDP trains the MLP down_proj weights only (layer round(7 * 2 / 32) = 0 of this model)
        changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
        assert changed == {"model.language_model.layers.0.mlp.down_proj.weight"}, changed
    else:  # LoRA methods: the base weights are not changed
        merged = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                  for k, v in model.state_dict().items() if "lora_" not in k}
        assert all(torch.equal(merged[k], v) for k, v in before.items())


def test_idk_makes_refusals_likely(world):
    adapter, original, forget, retain = world
    cls, _ = generative(Registry(), "idk")
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


# ---------------------------------------------------------------- the training set-up (MLUBench's release)
def test_warmup_cosine_schedule_by_hand_and_as_transformers():
    import math

    from mu_registry.api.generative_method import warmup_cosine, warmup_steps

    transformers = pytest.importorskip("transformers")
    assert warmup_steps(0.03, 10) == 1 and warmup_steps(0.03, 100) == 3  # ceil(ratio * total)
    assert warmup_cosine(0, 1, 10) == 0.0 and warmup_cosine(1, 1, 10) == 1.0
    assert warmup_cosine(5, 1, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 9)))
    assert warmup_cosine(10, 1, 10) == pytest.approx(0.0, abs=1e-12)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    sched = transformers.get_cosine_schedule_with_warmup(opt, 3, 40)
    for step in range(40):
        assert opt.param_groups[0]["lr"] == pytest.approx(warmup_cosine(step, 3, 40)), step
        opt.step()
        sched.step()


def test_lora_on_every_language_model_linear_and_the_projector_at_its_own_lr(world):
    from mu_registry.api.generative_method import param_groups

    adapter, original, _, _ = world
    cls, _ = generative(Registry(), "ga")
    method = cls(cls.make_params({}))
    p = method.params
    assert (p.batch_size, p.weight_decay, p.warmup_ratio, p.projector_lr, p.lr) == (4, 1e-4, 0.03, 1e-5, 5e-5)
    model = method.prepare(copy.deepcopy(original), adapter)
    trainable = [n for n, q in model.named_parameters() if q.requires_grad]
    lora = {n.split(".lora_")[0] for n in trainable if "lora_" in n}
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert any(n.endswith(f"layers.0.self_attn.{proj}") or n.endswith(f"layers.0.mlp.{proj}") for n in lora), proj
    assert not any("vision" in n or "lm_head" in n for n in lora)
    projector = [n for n in trainable if "multi_modal_projector" in n]
    assert projector and all("lora_" not in n for n in projector)
    groups = param_groups(model, lr=5e-5, projector_lr=1e-5, weight_decay=1e-4)
    names = {id(q): n for n, q in model.named_parameters()}
    for g in groups:
        for q in g["params"]:
            n = names[id(q)]
            assert g["lr"] == (1e-5 if "multi_modal_projector" in n else 5e-5), n
            assert g["weight_decay"] == (0.0 if n.endswith("bias") else 1e-4), n
    assert sum(len(g["params"]) for g in groups) == len(trainable)
    # the ablation's other scope: the LoRA only
    llm_only = cls(cls.make_params({"scope": "llm"})).prepare(copy.deepcopy(original), adapter)
    assert not any("multi_modal_projector" in n for n, q in llm_only.named_parameters() if q.requires_grad)


def test_each_request_merges_its_lora_and_the_next_starts_a_fresh_one(world):
    from mu_registry.training.peft import is_peft

    adapter, original, forget, retain = world
    cls, _ = generative(Registry(), "ga")
    method = cls(cls.make_params({"lr": 2e-3, "epochs": 1}))
    model = method.prepare(copy.deepcopy(original), adapter)
    before = original.state_dict()
    torch.manual_seed(0)
    first = method.unlearn(QAContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter,
                                     request_index=0, seed=0, device=CPU))
    assert not is_peft(first) and method.state() == {"merged": True}
    changed = {k for k, v in first.state_dict().items() if not torch.equal(v, before[k])}
    assert any("mlp.down_proj" in k for k in changed) and any("multi_modal_projector" in k for k in changed)
    assert all("language_model.layers" in k or "multi_modal_projector" in k for k in changed), changed
    merged = {k: v.clone() for k, v in first.state_dict().items()}
    second = method.unlearn(QAContext(model=first, original=original, forget=forget, retain=retain, adapter=adapter,
                                      request_index=1, seed=0, device=CPU))
    assert not is_peft(second)
    assert any(not torch.equal(v, merged[k]) for k, v in second.state_dict().items())
    # a checkpoint of merged weights is restored onto the plain model (no adapter to load them into)
    assert not is_peft(method.restore(copy.deepcopy(original), adapter, method.state()))


# ---------------------------------------------------------------- each method's weighting, by hand
# vocabulary of 2; a logit row [ln 3, 0] gives p = (3/4, 1/4), [0, 0] gives (1/2, 1/2)
def _hand_batch(rows, answer, ref_rows=None):
    from types import SimpleNamespace

    import math

    lg = torch.tensor([[[math.log(3.0) if v == "ln3" else v for v in r] for r in rows] + [[0.0, 0.0]]])
    ref = torch.zeros_like(lg) if ref_rows is None else torch.tensor([ref_rows + [[0.0, 0.0]]])
    return SimpleNamespace(logits=lg, ref=ref, labels=torch.tensor([[-100] + answer]), positions=[0])


class _HandCtx:
    device = CPU

    def __init__(self):
        from types import SimpleNamespace

        self.adapter = SimpleNamespace(pad_id=0, pixel_values=None)

    def logits(self, batch, model=None):
        return batch.logits

    def reference_logits(self, batch):
        return batch.ref


def test_each_loss_weighting_by_hand(monkeypatch):
    import math

    from mu_registry_plugins.methods import idk_dpo as idk_dpo_module

    reg = Registry()
    ctx = _HandCtx()
    forget = _hand_batch([["ln3", 0.0], [0.0, 0.0]], [0, 1])  # log pi = ln 0.375; reference ln 0.25
    retain = _hand_batch([["ln3", 0.0], [0.0, 0.0]], [1, 1])  # token-mean NLL = ln 8 / 2
    retain_nll = math.log(8.0) / 2

    def make(name, **over):
        cls, preset = generative(reg, name)
        return cls(cls.make_params({**preset, **over}))

    # SimNPO: npo_coeff 0.1375 * (2/2.5) ln(1 + 0.375^1.25) + 1.0 * NLL_r  (Unlearn-Simple forget05)
    expected = 0.1375 * (2 / 2.5) * math.log(1 + 0.375 ** 1.25) + retain_nll
    assert make("simnpo").loss(ctx, forget, retain).item() == pytest.approx(expected, rel=1e-5)
    # NPO (MLUBench's: beta 5, no retain term): -(2/5) log sigmoid(-5 ln 1.5)
    assert make("npo").loss(ctx, forget, retain).item() == pytest.approx(0.4 * math.log(1 + 1.5 ** 5), rel=1e-5)
    # GD: -NLL_f + NLL_r
    expected = math.log(0.375) / 2 + retain_nll
    assert make("graddiff").loss(ctx, forget, retain).item() == pytest.approx(expected, rel=1e-5)
    # GA+KLR: the retain batch equals its reference except position 0 (3/4 vs 1/2): KL 1/2 ln(4/3) over 3 positions
    retain_kl = _hand_batch([["ln3", 0.0], [0.0, 0.0]], [1, 1], ref_rows=[[0.0, 0.0], [0.0, 0.0]])
    expected = math.log(0.375) / 2 + 0.5 * math.log(4 / 3) / 3
    assert make("ga_klr").loss(ctx, forget, retain_kl).item() == pytest.approx(expected, rel=1e-5)
    # IdkDPO: 1.0 * (2/0.1) log(1 + 3^0.1) + 1.0 * NLL_r; the refusal's log pi = ln 0.125 (reference ln 0.25)
    refusal = _hand_batch([["ln3", 0.0], [0.0, 0.0]], [1, 1])
    refusal.to = lambda device: refusal
    monkeypatch.setattr(idk_dpo_module, "collate_qa", lambda *a, **k: refusal)
    method = make("idk_dpo")
    method._refusals = None
    expected = 20 * math.log(1 + 3 ** 0.1) + retain_nll
    assert method.loss(ctx, forget, retain).item() == pytest.approx(expected, rel=1e-5)
    # LUMoE as released: the refusal's NLL summed over its tokens, no retain term
    assert make("lumoe").loss(ctx, refusal, retain).item() == pytest.approx(math.log(8.0), rel=1e-5)
    # IdK as TOFU (dataloader.py l.134-145 @ bdc209ea): one token mean over refusal + retain tokens together;
    # the refusal's 2 tokens sum to ln 8, the retain answer's 2 tokens to ln 8 too: (ln 8 + ln 8) / 4
    assert make("idk").loss(ctx, refusal, retain).item() == pytest.approx(2 * math.log(8.0) / 4, rel=1e-5)
    # MLUBench's PO (llava_trainer.py l.258-293 @ cf6579c8): the refusal's summed NLL, no retain term
    assert make("po").loss(ctx, refusal, retain).item() == pytest.approx(math.log(8.0), rel=1e-5)


# ---------------------------------------------------------------- the reference model (MLUBench's train.py)
def _first_losses(method, ctx, probe):
    """Run ``method.unlearn(ctx)`` and return ``probe(ctx, forget, retain)`` at its first step (before any
    update: the warm-up's first learning rate is 0 anyway) and the model."""
    seen = []
    loss = method.loss

    def spy(c, forget, retain):
        if not seen:
            seen.append(probe(c, forget, retain))
        return loss(c, forget, retain)

    method.loss = spy
    torch.manual_seed(0)
    model = method.unlearn(ctx)
    return seen[0], model


@pytest.mark.parametrize("reference_model", ["request_start", "original"])
def test_npo_and_kl_reference_from_the_second_request_on(world, reference_model):
    """MLUBench's train.py l.1169-1177 (release cf6579c8) loads the oracle from model_name_or_path, the model the
    request trains from. At the first step of request 2 that model is the one being trained, so NPO's
    -(2/beta) log sigmoid(-beta (log pi - log pi_ref)) is (2/beta) ln 2 = 0.4 ln 2 at beta 5 and GA+KLR's KL is 0;
    against the original they are not."""
    import math

    import mu_registry.training.losses as L

    adapter, original, forget, retain = world
    reg = Registry()
    for name in ("npo", "ga_klr"):
        cls, preset = generative(reg, name)
        method = cls(cls.make_params({**preset, "lr": 2e-3, "epochs": 2, "reference_model": reference_model}))
        model = method.prepare(copy.deepcopy(original), adapter)

        def ctx_for(model, index):
            return QAContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter,
                             request_index=index, seed=0, device=CPU)

        def probe(c, f, r):
            if name == "npo":  # the method's loss (no retain term)
                return L.npo(c.logits(f), c.reference_logits(f), f.labels, beta=5.0).item()
            return L.kl_all_positions(c.logits(r), c.reference_logits(r)).item()  # GA+KLR's KL term

        first, model = _first_losses(method, ctx_for(model, 0), probe)
        at_start = 0.4 * math.log(2.0) if name == "npo" else 0.0
        assert first == pytest.approx(at_start, abs=1e-5), (name, "request 1 starts from the original")
        ctx = ctx_for(model, 1)
        first, model = _first_losses(method, ctx, probe)
        assert ctx.reference is None  # a request-start copy lives only while the request trains
        if reference_model == "request_start":
            assert first == pytest.approx(at_start, abs=1e-5), name
        else:
            assert abs(first - at_start) > 1e-3, (name, first)


def test_reference_model_value_is_checked_where_it_is_given():
    from mu_registry.util.errors import MuError

    cls, _ = generative(Registry(), "npo")
    with pytest.raises(MuError, match=r"^t\.yaml: methods\.npo: reference_model must be one of request_start, "
                                      r"original, got 'start'$"):
        cls.make_params({"reference_model": "start"}, context="t.yaml: methods.npo: ")
