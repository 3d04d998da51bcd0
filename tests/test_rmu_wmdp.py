"""RMU's optimiser and layer as WMDP's ``rmu/unlearn.py`` has them (centerforaisafety/wmdp, read from the
unmodified copy hkhanuja/Unlearning @ 5a586f575ee1c7e6e4036fb42261f87792c9eb26: ``optimizer =
AdamW(params, lr=args.lr)`` with ``from transformers import AdamW``, transformers==4.38.2 in its
requirements.txt, stepped without a scheduler; activations hooked on ``model.layers[layer_id]``'s output)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from conftest import write

pytest.importorskip("transformers")
pytest.importorskip("peft")

from mu_registry.util.errors import MuError  # noqa: E402
from mu_registry.api.generative_method import QAContext  # noqa: E402
from mu_registry.api.model import TaskSpec  # noqa: E402
from mu_registry.registry.manager import Registry  # noqa: E402
from mu_registry_plugins.datasets.entity_world import entity_world  # noqa: E402
from mu_registry_plugins.methods.rmu import WMDPAdamW, rmu_layer  # noqa: E402
from mu_registry_plugins.models.tiny_llava import TinyLlava  # noqa: E402

CPU = torch.device("cpu")
SPEC = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity", form_column="form")


def _steps(opt_cls, grads, **kw) -> list[float]:
    p = torch.nn.Parameter(torch.tensor([0.5], dtype=torch.float64))
    opt = opt_cls([p], lr=5e-5, **kw)
    out = []
    for g in grads:
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        out.append(p.item())
    return out


def test_wmdp_adamw_two_steps_by_hand():
    # transformers 4.38.2 AdamW (betas 0.9/0.999, eps 1e-6, correct_bias), p0 0.5, lr 5e-5, grads 1e-3 then -2e-3:
    # t=1: m = 1e-4, v = 1e-9, step = 5e-5*sqrt(1-0.999)/(1-0.9) = 1.5811388300841908e-05,
    #      denom = sqrt(1e-9) + 1e-6 = 3.2622776601683806e-05, p = 0.5 - step*m/denom = 0.4999515326715016
    # t=2: m = 0.9e-4 - 2e-4 = -1.1e-4, v = 0.999e-9 + 4e-9 = 4.999e-9,
    #      step = 5e-5*sqrt(1-0.999^2)/(1-0.9^2) = 1.176583626637264e-05,
    #      denom = sqrt(4.999e-9) + 1e-6 = 7.170360669725418e-05, p = 0.49996958255837504
    got = _steps(WMDPAdamW, [1e-3, -2e-3], eps=1e-6)
    assert got == pytest.approx([0.4999515326715016, 0.49996958255837504], rel=0, abs=1e-15)
    # torch's AdamW adds eps after the bias correction: a different second step (0.499968343558244)
    torch_p = _steps(torch.optim.AdamW, [1e-3, -2e-3], eps=1e-6, weight_decay=0.0)
    assert abs(torch_p[1] - got[1]) > 1e-6


def test_wmdp_adamw_weight_decay_is_decoupled_after_the_step():
    # p <- (p - step*m/denom) then p <- p - lr*wd*p: (0.5 - 4.8467328498400e-05) * (1 - 5e-5*0.1)
    first = 0.5 - 1.5811388300841908e-05 * 1e-4 / 3.2622776601683806e-05
    got = _steps(WMDPAdamW, [1e-3], eps=1e-6, weight_decay=0.1)
    assert got[0] == pytest.approx(first * (1 - 5e-5 * 0.1), rel=0, abs=1e-15)


@pytest.fixture(scope="module")
def world():
    split = entity_world(entities=9, images_per_entity=1, paraphrases=2, seed=1)["train"]
    adapter = TinyLlava(hidden_size=64, layers=3, heads=2)
    data = adapter.encode(split, SPEC)
    units = np.asarray(data.units)
    names = list(dict.fromkeys(data.units))
    forget, retain = data.where(np.isin(units, names[:2])), data.where(np.isin(units, names[2:4]))
    return adapter, adapter.build(SPEC, 0), forget, retain


def test_rmu_trains_with_wmdp_s_optimiser_at_a_constant_rate(world, monkeypatch):
    adapter, original, forget, retain = world
    cls = Registry().method("rmu")
    method = cls(cls.make_params({"epochs": 2}))
    p = method.params
    assert (p.lr, p.batch_size, p.weight_decay, p.warmup_ratio, p.lr_schedule, p.adam_eps) == \
        (5e-5, 4, 0.0, 0.0, "constant", 1e-6)
    model = method.prepare(copy.deepcopy(original), adapter)
    opt = method.optimizer(model)
    assert isinstance(opt, WMDPAdamW) and len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert (group["lr"], group["eps"], group["weight_decay"], group["betas"]) == (5e-5, 1e-6, 0.0, (0.9, 0.999))
    names = {id(q): n for n, q in model.named_parameters()}
    # round(7 * 3 / 32) = 1 (layer_id), layers 0..1 (layer_ids layer-2..layer, clipped at 0), param 6: down_proj
    assert sorted(names[id(q)] for q in group["params"]) == [
        f"model.language_model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)]
    rates: list[float] = []
    step = WMDPAdamW.step

    def recording(self, closure=None):
        rates.append(self.param_groups[0]["lr"])
        return step(self, closure)

    monkeypatch.setattr(WMDPAdamW, "step", recording)
    ctx = QAContext(model=model, original=original, forget=forget, retain=retain, adapter=adapter, request_index=0,
                    seed=0, device=CPU)
    method.unlearn(ctx)
    assert len(rates) >= 4 and rates == [5e-5] * len(rates)  # no warm-up, no decay of the rate


def test_the_last_decoder_layer_is_refused():
    # transformers' hidden_states[L] (after the last layer) is the final norm's output, unlike WMDP's hook
    from mu_registry_plugins.models.tiny_llava import build_tiny_llava

    model = build_tiny_llava(layers=2).eval()
    outs = {}

    def keep(i):
        return lambda m, a, out: outs.__setitem__(i, out[0] if isinstance(out, tuple) else out)

    for i, layer in enumerate(model.model.language_model.layers):
        layer.register_forward_hook(keep(i))
    hidden = model(input_ids=torch.tensor([[1, 10, 20, 30]]), output_hidden_states=True).hidden_states
    assert torch.equal(hidden[1], outs[0]) and not torch.allclose(hidden[2], outs[1])
    assert rmu_layer(32) == 7 and rmu_layer(40) == 9 and rmu_layer(2) == 0 and rmu_layer(3, 1) == 1
    for n, layer in ((2, 1), (2, 5), (1, -1), (32, 31)):
        with pytest.raises(MuError, match="parameter 'layer'.*not below the model's last decoder layer"):
            rmu_layer(n, layer)
    cls = Registry().method("rmu")
    method = cls(cls.make_params({"layer": 1}))
    adapter = TinyLlava(layers=2)
    with pytest.raises(MuError, match=r"^method 'rmu': parameter 'layer': layer 1 is not below"):
        method.prepare(adapter.build(SPEC, 0), adapter)


@pytest.mark.parametrize("methods, extra, where, problem", [
    ("{rmu: {layer: 1}}", (), "{path}: methods.rmu: ", "parameter 'layer': layer 1 is not below the model's last "
                                                       "decoder layer (1 of 0..1)"),
    ("{rmu: {layer: -2}}", (), "{path}: methods.rmu: ", "parameter 'layer' is -1"),
    ("{}", ("--method-args", "rmu.layer=7"), "--method-args rmu: ", "parameter 'layer': layer 7 is not below"),
    ("{rmu: {adam_eps: -1}}", (), "{path}: methods.rmu: ", "parameter 'adam_eps' must be >= 0"),
])
def test_a_bad_rmu_layer_is_one_line_when_planning(mu, tmp_path, methods, extra, where, problem):
    # mlubench-mini's tiny LLaVA has 2 decoder layers: 0 is the only layer RMU may steer
    path = write(tmp_path / "tasks" / "t.yaml", f"include: mlubench-mini\ntask: t\nmethods: {methods}\n")
    code, err = mu("run", "--tasks", "t", "--methods", "rmu", "--include-path", str(tmp_path / "tasks"),
                   "--output", str(tmp_path / "out"), "--no-cache", *extra)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("mu-eval: error: " + where.format(path=path)) and problem in err[0], err[0]
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_planning_reads_the_depth_of_an_hf_checkpoint(tmp_path):
    from test_hf_llava import _save_tiny_llava

    folder = tmp_path / "llava"
    _save_tiny_llava(folder)
    adapter = Registry().model("hf_llava")(pretrained=str(folder))
    assert adapter.decoder_layers() == 2
    cls = Registry().method("rmu")
    cls(cls.make_params({})).check_model(adapter)  # layer round(7 * 2 / 32) = 0: fine
    with pytest.raises(MuError, match="layer 1 is not below"):
        cls(cls.make_params({"layer": 1})).check_model(adapter)
    assert math.isclose(cls.Params().adam_eps, 1e-6)
