"""MU-Bench fidelity, second round: Hugging Face Trainer's defaults (gradient clipping, which weights decay),
Bad Teacher's and GradDiff's batching, SCRUB's epoch budget and the text tasks' sequence length.

References, each read at the commit named:

* ``CLU-UML/MU-Bench`` at 48f5c7b: ``mubench/data/base.py`` (l.301-312 ``grad_diff``: |D_f| retain rows drawn
  once, joined column-wise to D_f; l.357-368 ``bad_teaching``: |D_f| retain rows interleaved with D_f into one
  training set), ``mubench/trainer/bad_teaching.py`` (l.111-147: split each batch by ``is_df``, two
  ``batchmean`` KLs added), ``mubench/trainer/grad_diff.py`` (``-df_outputs.loss + dr_outputs.loss``),
  ``mubench/trainer/scrub.py`` (l.28 and l.103: ``num_train_epochs`` halved twice), ``experiment/*/gen_config.py``
  (templates: epochs, ``max_seq_length: 128``);
* the transformers MU-Bench vendors (4.39.3, ``transformers_for_cl/`` in the same commit): ``training_args.py``
  l.789 (``max_grad_norm`` 1.0), ``trainer.py`` l.979-1014 (``get_decay_parameter_names``,
  ``create_optimizer``) and l.2151-2167 (``clip_grad_norm_`` before ``optimizer.step()``),
  ``trainer_pt_utils.py`` l.1080-1093 (``get_parameter_names``), and l.1823-1839 (an epoch of n rows at batch B
  is ⌈n/B⌉ updates; a fractional epoch count e gives ⌈e · ⌈n/B⌉⌉).

Every expected value below is worked out by hand from those lines.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from tiny import SPEC, context, setup
from torch import nn

from mu_registry.util.errors import MuError
from mu_registry.api.model import EncodedSplit
from mu_registry.training.loop import hf_decay_parameter_names, unlearning_optimizer
from mu_registry_plugins.methods.bad_teacher import BadTeacher, distill_kl
from mu_registry_plugins.methods.finetune import Finetune
from mu_registry_plugins.methods.graddiff import GradDiff
from mu_registry_plugins.methods.l1_sparse import L1Sparse
from mu_registry_plugins.methods.ga import GA
from mu_registry_plugins.methods.npo import NPO
from mu_registry_plugins.methods.random_label import RandomLabel
from mu_registry_plugins.methods.salun import SalUn
from mu_registry_plugins.methods.scrub import SCRUB

LR = 0.01


@pytest.fixture(scope="module")
def tiny_setup():
    return setup()


def head(split: EncodedSplit, n: int) -> EncodedSplit:
    return EncodedSplit(split.name, {k: v[:n] for k, v in split.inputs.items()}, split.labels[:n], split.ids[:n])


def small_context(tiny_setup, n_forget: int = 6, n_retain: int = 10):
    adapter, original, forget, retain = tiny_setup
    ctx = context(adapter, original, head(forget, n_forget), head(retain, n_retain))
    ctx.build_fresh = lambda s: adapter.build(SPEC, s)
    return ctx


def steps_of(method, ctx) -> list[torch.optim.Optimizer]:
    """The optimiser of every update the method makes (read by a global post-step hook)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    seen: list[torch.optim.Optimizer] = []
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: seen.append(opt))
    try:
        method.unlearn(ctx)
    finally:
        handle.remove()
    return seen


# ----------------------------------------------------------------- HF Trainer: which weights decay


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.LayerNorm = nn.LayerNorm(4)
        self.dense = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(4)
        self.rel_pos_bias_table = nn.Parameter(torch.zeros(3))
        self.scale = nn.Parameter(torch.ones(1))


def test_hf_decay_names_are_get_decay_parameter_names_by_hand():
    # get_parameter_names(model, [nn.LayerNorm]): every parameter outside an nn.LayerNorm module (embed.weight,
    # dense.weight, dense.bias, norm.weight, norm.bias, and the model's own rel_pos_bias_table, scale); then
    # every name holding "bias" is dropped: dense.bias, norm.bias, rel_pos_bias_table. BatchNorm is not in
    # ALL_LAYERNORM_LAYERS, so its weight decays.
    assert hf_decay_parameter_names(_Net()) == {"embed.weight", "dense.weight", "norm.weight", "scale"}


def test_hf_rule_decays_only_those_weights():
    # AdamW with a zero gradient: the Adam part is 0 / (0 + eps) = 0, the decoupled decay multiplies a decayed
    # weight by (1 - lr * wd) = 1 - 0.1 * 0.5 = 0.95 and leaves a weight in the weight_decay-0 group alone.
    net = _Net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = unlearning_optimizer(net, "adamw", 0.1, weight_decay=0.5, weight_decay_params="hf")
    sum(0.0 * p.sum() for p in net.parameters()).backward()
    opt.step()
    for n, p in net.named_parameters():
        factor = 0.95 if n in {"embed.weight", "dense.weight", "norm.weight", "scale"} else 1.0
        assert torch.allclose(p.detach(), before[n] * factor), n
    # "all" (the default): one group, every weight decayed
    net = _Net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = unlearning_optimizer(net, "adamw", 0.1, weight_decay=0.5)
    sum(0.0 * p.sum() for p in net.parameters()).backward()
    opt.step()
    assert all(torch.allclose(p.detach(), before[n] * 0.95) for n, p in net.named_parameters())


# ----------------------------------------------------------------- HF Trainer: gradient clipping


class _Two(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.b = nn.Parameter(torch.tensor([3.0]))


def test_clipping_scales_the_global_norm_by_hand():
    # gradients a: (3, 0), b: (4): global L2 norm 5. clip_grad_norm_ multiplies them by
    # min(1, max_norm / (5 + 1e-6)); SGD's first step (momentum buffer = gradient) moves by lr x that.
    for max_norm, coef in ((1.0, 1.0 / (5 + 1e-6)), (10.0, 1.0), (0.0, 1.0)):
        net = _Two()
        opt = unlearning_optimizer(net, "sgd", 1.0, max_grad_norm=max_norm)
        (net.a * torch.tensor([3.0, 0.0])).sum().add(net.b.sum() * 4).backward()
        opt.step()
        assert net.a.detach().tolist() == pytest.approx([1 - 3 * coef, 2.0])
        assert net.b.detach().tolist() == pytest.approx([3 - 4 * coef])


EVERY_METHOD = {
    "ga": lambda **k: GA(epochs=2, batch_size=4, lr=LR, **k),
    "graddiff": lambda **k: GradDiff(epochs=2, batch_size=4, lr=LR, **k),
    "npo": lambda **k: NPO(epochs=2, batch_size=4, lr=LR, **k),
    "bad_teacher": lambda **k: BadTeacher(epochs=2, batch_size=4, lr=LR, batching="mixed", **k),
    "finetune": lambda **k: Finetune(epochs=2, batch_size=5, lr=LR, **k),
    "l1_sparse": lambda **k: L1Sparse(epochs=2, batch_size=5, lr=LR, **k),
    "random_label": lambda **k: RandomLabel(epochs=2, batch_size=8, lr=LR, **k),
    "salun": lambda **k: SalUn(epochs=2, batch_size=8, lr=LR, **k),
    "scrub": lambda **k: SCRUB(epochs=2, max_steps=1, forget_batch_size=4, retain_batch_size=5, lr=LR,
                               lr_decay_epochs=[], **k),
}


def _grad_norm(opt: torch.optim.Optimizer) -> float:
    grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


@pytest.mark.parametrize("name", list(EVERY_METHOD))
def test_every_method_clips_and_groups_decay_when_asked(name, tiny_setup):
    # After each update the gradients the optimiser used are still in .grad: clipped, their global norm is at
    # most max_grad_norm (here 1e-4, below any of these gradients' norms); unclipped, it is larger.
    clipped = steps_of(EVERY_METHOD[name](max_grad_norm=1e-4, weight_decay=0.1, weight_decay_params="hf"),
                       small_context(tiny_setup))
    norms = [_grad_norm(opt) for opt in clipped]
    assert norms and max(norms) <= 1e-4 * (1 + 1e-5)
    free = steps_of(EVERY_METHOD[name](), small_context(tiny_setup))
    assert max(_grad_norm(opt) for opt in free) > 1e-3
    # the tiny MLP (Flatten, Linear, ReLU, Linear): its two weights decay, its two biases do not
    names = {id(p): n for n, p in small_context(tiny_setup).model.named_parameters()}
    opt = clipped[0]
    decay_of = {p.shape: g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decay_of == {torch.Size([64, 8]): 0.1, torch.Size([4, 64]): 0.1, torch.Size([64]): 0.0,
                        torch.Size([4]): 0.0}, names


def test_bad_trainer_options_are_refused_naming_the_parameter():
    with pytest.raises(MuError, match="weight_decay_params.*all, hf.*got 'none'"):
        GA.make_params({"weight_decay_params": "none"})
    with pytest.raises(MuError, match="max_grad_norm.*>= 0.*-1"):
        NPO.make_params({"max_grad_norm": -1.0})
    with pytest.raises(MuError, match="max_grad_norm"):
        SCRUB.make_params({"max_grad_norm": -0.5})
    with pytest.raises(MuError, match="batching.*paired, mixed.*got 'interleaved'"):
        BadTeacher.make_params({"batching": "interleaved"})
    with pytest.raises(MuError, match="retain_pairing.*stream, fixed.*got 'all'"):
        GradDiff.make_params({"retain_pairing": "all"})
    with pytest.raises(MuError, match="loss_scale.*> 0"):
        GradDiff.make_params({"loss_scale": 0.0})


# ----------------------------------------------------------------- Bad Teacher: MU-Bench's mixed batches


def _rates(method, ctx) -> list[float]:
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    seen: list[float] = []
    handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    try:
        method.unlearn(ctx)
    finally:
        handle.remove()
    return seen


def test_bad_teacher_mixed_makes_ceil_2df_over_b_updates_an_epoch(tiny_setup):
    # 6 forget rows + 6 drawn retain rows = 12 rows, batch 4: 3 updates an epoch, 2 epochs: T = 6, linear decay
    # (T - k) / T. Paired: ceil(6 / 4) = 2 an epoch, T = 4.
    mixed = BadTeacher(epochs=2, batch_size=4, lr=LR, lr_schedule="linear", batching="mixed")
    assert _rates(mixed, small_context(tiny_setup)) == pytest.approx([LR * k / 6 for k in (6, 5, 4, 3, 2, 1)])
    paired = BadTeacher(epochs=2, batch_size=4, lr=LR, lr_schedule="linear")
    assert _rates(paired, small_context(tiny_setup)) == pytest.approx([LR * k / 4 for k in (4, 3, 2, 1)])


def test_bad_teacher_update_count_at_cifar100_one_percent(tiny_setup):
    # CIFAR-100 at 1%: |D_f| = 500, batch 128 (gen_config.py template). MU-Bench: ceil(1000 / 128) = 8 updates an
    # epoch (80 over its 10 epochs); paired batches: ceil(500 / 128) = 4 (40). One epoch of each on 500 + 600 rows.
    adapter, original, _, _ = tiny_setup
    g = torch.Generator().manual_seed(1)

    def rows(n: int, name: str) -> EncodedSplit:
        import numpy as np

        return EncodedSplit(name, {"x": torch.randn(n, 8, generator=g)}, torch.randint(0, 4, (n,), generator=g),
                            np.arange(n))

    forget, retain = rows(500, "forget"), rows(600, "retain")
    for batching, updates in (("mixed", 8), ("paired", 4)):
        ctx = context(adapter, original, forget, retain)
        ctx.build_fresh = lambda s: adapter.build(SPEC, s)
        assert len(steps_of(BadTeacher(epochs=1, batch_size=128, lr=1e-4, batching=batching), ctx)) == updates


class _Recorder:
    """Wraps the adapter: records the input rows of every forward of the model being unlearned."""

    def __init__(self, adapter, ctx) -> None:
        self.adapter, self.ctx, self.calls = adapter, ctx, []

    def forward(self, module, inputs):
        if module is self.ctx.model:
            self.calls.append(inputs["x"].detach().clone())
        return self.adapter.forward(module, inputs)


def _row_names(ctx) -> dict[tuple, tuple[str, int]]:
    out = {tuple(x.tolist()): ("f", i) for i, x in enumerate(ctx.forget.inputs["x"])}
    out.update({tuple(x.tolist()): ("r", i) for i, x in enumerate(ctx.retain.inputs["x"])})
    return out


def test_bad_teacher_mixed_distils_a_fixed_df_sized_retain_subset_beside_d_f(tiny_setup):
    # MU-Bench draws the |D_f| retain rows once: over 3 epochs every forget row and the same 6 retain rows are
    # seen 3 times each, no other retain row; each update runs the student on its retain part, then its forget part.
    ctx = small_context(tiny_setup, 6, 10)
    ctx.adapter = rec = _Recorder(ctx.adapter, ctx)
    BadTeacher(epochs=3, batch_size=4, lr=LR, batching="mixed").unlearn(ctx)
    names = _row_names(ctx)
    seen: dict[tuple[str, int], int] = {}
    for call in rec.calls:
        kinds = {names[tuple(x.tolist())][0] for x in call}
        assert len(kinds) == 1  # each forward is one part of a batch
        for x in call:
            seen[names[tuple(x.tolist())]] = seen.get(names[tuple(x.tolist())], 0) + 1
    assert {k: v for k, v in seen.items() if k[0] == "f"} == {("f", i): 3 for i in range(6)}
    retain_seen = {k: v for k, v in seen.items() if k[0] == "r"}
    assert len(retain_seen) == 6 and set(retain_seen.values()) == {3}


def test_bad_teacher_mixed_one_step_is_the_sum_of_the_two_batchmean_kls(tiny_setup):
    # One batch holding all 12 rows (batch 16): loss = KL(T_good ‖ S) batch-mean over the 6 retain rows
    # + KL(T_bad ‖ S) batch-mean over the 6 forget rows (bad_teaching.py l.140-144); one SGD step (first step:
    # the momentum buffer is the gradient) moves each weight by -lr x its gradient. The student is moved off
    # the original first: at S = T_good the retain KL has no gradient and would not show which rows it used.
    ctx = small_context(tiny_setup, 6, 10)
    noise = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in ctx.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=noise))
    pick = torch.randperm(10, generator=torch.Generator().manual_seed(ctx.seed * 1000 + ctx.request_index))[:6]
    bad = ctx.random_model(ctx.seed + 1).eval()
    student = copy.deepcopy(ctx.model)
    x_f, x_r = ctx.forget.inputs["x"], ctx.retain.inputs["x"][pick]
    with torch.no_grad():
        good_t, bad_t = ctx.adapter.forward(ctx.original, {"x": x_r}), ctx.adapter.forward(bad, {"x": x_f})
    s_r, s_f = ctx.adapter.forward(student, {"x": x_r}), ctx.adapter.forward(student, {"x": x_f})
    loss = (F.kl_div(F.log_softmax(s_r, 1), F.softmax(good_t, 1), reduction="sum") / 6
            + F.kl_div(F.log_softmax(s_f, 1), F.softmax(bad_t, 1), reduction="sum") / 6)
    same = distill_kl(s_r, good_t, 1.0) + distill_kl(s_f, bad_t, 1.0)
    assert float(loss.detach()) == pytest.approx(float(same.detach()), rel=1e-5)
    grads = torch.autograd.grad(loss, list(student.parameters()))
    want = [p.detach() - 0.1 * g for p, g in zip(student.parameters(), grads)]
    got = BadTeacher(epochs=1, batch_size=16, lr=0.1, optimizer="sgd", batching="mixed").unlearn(ctx)
    for w, p in zip(want, got.parameters()):
        assert torch.allclose(p.detach(), w, atol=1e-6)


def test_mixed_and_fixed_need_df_retain_rows(tiny_setup):
    ctx = small_context(tiny_setup, 6, 4)
    with pytest.raises(MuError, match="bad_teacher: batching 'mixed' draws \\|D_f\\| = 6 .* retain set has 4"):
        BadTeacher(batching="mixed").unlearn(ctx)
    with pytest.raises(MuError, match="graddiff: retain_pairing 'fixed' draws \\|D_f\\| = 6 .* retain set has 4"):
        GradDiff(retain_pairing="fixed").unlearn(small_context(tiny_setup, 6, 4))


# ----------------------------------------------------------------- GradDiff: MU-Bench's fixed retain partners


def test_graddiff_fixed_pairs_each_forget_row_with_one_retain_row_for_the_whole_run(tiny_setup):
    # data/base.py l.301-312: |D_f| retain rows drawn once and joined column-wise to D_f. Each update runs the
    # student on B retain rows, then on B forget rows; row j of the one is the partner of row j of the other.
    ctx = small_context(tiny_setup, 6, 10)
    ctx.adapter = rec = _Recorder(ctx.adapter, ctx)
    updates = steps_of(GradDiff(epochs=3, batch_size=4, lr=LR, retain_pairing="fixed"), ctx)
    assert len(updates) == 3 * math.ceil(6 / 4)  # ceil(|D_f| / B) an epoch
    names = _row_names(ctx)
    partner: dict[int, int] = {}
    for retain_call, forget_call in zip(rec.calls[0::2], rec.calls[1::2]):
        for xr, xf in zip(retain_call, forget_call):
            (kr, r), (kf, f) = names[tuple(xr.tolist())], names[tuple(xf.tolist())]
            assert (kr, kf) == ("r", "f")
            assert partner.setdefault(f, r) == r  # the same partner every time
    assert sorted(partner) == list(range(6)) and len(set(partner.values())) == 6


def test_graddiff_mubench_loss_is_minus_ce_forget_plus_ce_retain(tiny_setup):
    # grad_diff.py: loss = -CE_mean(D_f batch) + CE_mean(partner batch) = loss_scale 2 x (0.5 CE_r - 0.5 CE_f).
    # One batch of all 6 forget rows and their 6 partners; one SGD step of lr 0.1.
    ctx = small_context(tiny_setup, 6, 10)
    pick = torch.randperm(10, generator=torch.Generator().manual_seed(ctx.seed * 1000 + ctx.request_index))[:6]
    student = copy.deepcopy(ctx.model)
    f_logits = ctx.adapter.forward(student, ctx.forget.inputs)
    r_logits = ctx.adapter.forward(student, {"x": ctx.retain.inputs["x"][pick]})
    loss = -F.cross_entropy(f_logits, ctx.forget.labels) + F.cross_entropy(r_logits, ctx.retain.labels[pick])
    grads = torch.autograd.grad(loss, list(student.parameters()))
    want = [p.detach() - 0.1 * g for p, g in zip(student.parameters(), grads)]
    got = GradDiff(epochs=1, batch_size=8, lr=0.1, optimizer="sgd", retain_pairing="fixed",
                   loss_scale=2.0).unlearn(ctx)
    for w, p in zip(want, got.parameters()):
        assert torch.allclose(p.detach(), w, atol=1e-6)


# ----------------------------------------------------------------- the tasks carry MU-Bench's settings

#: MU-Bench's template epochs, experiment/<dataset>/gen_config.py at 48f5c7b
TEMPLATE_EPOCHS = {"mubench-cifar100": 10, "mubench-imdb": 6, "mubench-ddi2013": 8, "mubench-nlvr2": 6}


def _methods(task: str) -> dict:
    from mu_registry.registry.manager import get_registry
    from mu_registry.registry.task_index import TaskIndex

    return TaskIndex(get_registry()).load(task).config


@pytest.mark.parametrize("task", [*TEMPLATE_EPOCHS, "mubench-mini-image", "mubench-mini-text", "mubench-mini-speech",
                                  "mubench-mini-video", "mubench-mini-nlvr"])
def test_mubench_tasks_run_the_trainer_defaults_and_mubench_batching(task):
    methods = _methods(task).methods
    assert set(methods) >= {"finetune", "ga", "graddiff", "random_label", "salun", "bad_teacher", "scrub",
                            "l1_sparse", "npo"}
    for name, args in methods.items():
        assert (args["max_grad_norm"], args["weight_decay_params"]) == (1.0, "hf"), name
    assert methods["bad_teacher"]["batching"] == "mixed"
    assert (methods["graddiff"]["retain_pairing"], methods["graddiff"]["loss_scale"]) == ("fixed", 2.0)
    # scrub.py halves num_train_epochs twice: E/4 epochs of max-steps, then E/4 of min-steps; the Trainer runs
    # ceil(E/4) (partial) epochs of each: CIFAR-100 10 -> 2.5 -> 3, IMDB 6 -> 1.5 -> 2, DDI 8 -> 2, NLVR2 6 -> 2,
    # the minis' 5 -> 1.25 -> 2.
    quarter = {"mubench-cifar100": 3, "mubench-imdb": 2, "mubench-ddi2013": 2, "mubench-nlvr2": 2}.get(task, 2)
    assert (methods["scrub"]["epochs"], methods["scrub"]["max_steps"]) == (quarter, quarter)
    if task in TEMPLATE_EPOCHS:
        assert quarter == math.ceil(TEMPLATE_EPOCHS[task] / 4)


@pytest.mark.parametrize("task", ["mubench-imdb", "mubench-ddi2013"])
def test_text_tasks_use_mubench_max_seq_length(task):
    # "max_seq_length": 128 in the template of experiment/imdb/gen_config.py (l.38) and
    # experiment/ddi2013/gen_config.py (l.28), used for training and unlearning alike
    assert _methods(task).model.args["max_length"] == 128
