"""Each built-in method's defining behaviour on a tiny model, not just that it runs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tiny import context, loss_and_acc, setup

from mu_registry.errors import MuError
from mu_registry.model import EncodedSplit
from mu_registry_plugins.methods.finetune import Finetune
from mu_registry_plugins.methods.neggrad import NegGrad
from mu_registry_plugins.methods.random_label import RandomLabel, random_wrong_labels


@pytest.fixture(scope="module")
def trained():
    return setup()


def test_neggrad_raises_the_loss_on_the_forget_set(trained):
    adapter, original, forget, retain = trained
    before, _ = loss_and_acc(adapter, original, forget)
    model = NegGrad(lr=1e-3, epochs=20).unlearn(context(*trained))
    after, _ = loss_and_acc(adapter, model, forget)
    assert after > before + 0.5


def test_finetune_never_reads_the_forget_set(trained):
    adapter, original, forget, retain = trained
    poisoned = EncodedSplit("forget", {"x": torch.full_like(forget.inputs["x"], float("nan"))}, forget.labels,
                            forget.ids)
    ctx = context(adapter, original, poisoned, retain)
    model = Finetune(epochs=2).unlearn(ctx)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), original.parameters()))
    assert loss_and_acc(adapter, model, retain)[1] >= loss_and_acc(adapter, original, retain)[1] - 0.02


def test_random_labels_are_never_the_true_label_and_cover_the_others():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat(2000)
    wrong = random_wrong_labels(labels, 5, gen)
    assert not (wrong == labels).any()
    for c in range(5):
        assert set(wrong[labels == c].tolist()) == set(range(5)) - {c}


def test_random_label_makes_the_model_predict_wrong_classes_on_forget(trained):
    adapter, original, forget, retain = trained
    _, acc_before = loss_and_acc(adapter, original, forget)
    forget_only = RandomLabel(epochs=30, lr=1e-2, retain_weight=0.0).unlearn(context(*trained))
    with_retain = RandomLabel(epochs=30, lr=1e-2, retain_weight=1.0).unlearn(context(*trained))
    assert acc_before > 0.8 and loss_and_acc(adapter, forget_only, forget)[1] < acc_before - 0.3
    # the retain term is what keeps utility
    assert loss_and_acc(adapter, with_retain, retain)[1] > loss_and_acc(adapter, forget_only, retain)[1] + 0.1


def test_methods_are_deterministic_for_a_seed(trained):
    a = NegGrad().unlearn(context(*trained, seed=5))
    b = NegGrad().unlearn(context(*trained, seed=5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_params_have_defaults_and_reject_unknown_or_mistyped_overrides():
    assert dataclasses.asdict(NegGrad().params) == {"epochs": 2, "lr": 1e-4, "batch_size": 32, "optimizer": "adam"}
    assert NegGrad.make_params({"lr": "0.5", "epochs": "4"}).lr == 0.5
    with pytest.raises(MuError, match="unknown parameter 'lrate'"):
        NegGrad.make_params({"lrate": 1})
    with pytest.raises(MuError, match="parameter 'epochs' expects int, got 'many'"):
        NegGrad.make_params({"epochs": "many"})


# ----------------------------------------------------------------- MU-Bench methods
from mu_registry_plugins.methods.bad_teacher import BadTeacher, distill_kl  # noqa: E402
from mu_registry_plugins.methods.graddiff import GradDiff  # noqa: E402
from mu_registry_plugins.methods.l1_sparse import L1Sparse, l1_norm  # noqa: E402
from mu_registry_plugins.methods.npo import NPO, npo_loss  # noqa: E402
from mu_registry_plugins.methods.retrain import Retrain  # noqa: E402
from mu_registry_plugins.methods.salun import SalUn, saliency_mask  # noqa: E402
from mu_registry_plugins.methods.scrub import SCRUB  # noqa: E402
from mu_registry.task_config import TrainConfig  # noqa: E402
from tiny import SPEC  # noqa: E402


def _full_context(trained, seed=0):
    adapter, original, forget, retain = trained
    ctx = context(adapter, original, forget, retain, seed=seed)
    ctx.spec, ctx.train = SPEC, TrainConfig(epochs=40, lr=3e-3, batch_size=32)
    ctx.build_fresh = lambda s: adapter.build(SPEC, s)
    return ctx


def test_salun_leaves_non_salient_weights_untouched(trained):
    ctx = _full_context(trained)
    mask = saliency_mask(ctx, 0.3, 64)
    kept = sum(int(m.sum()) for m in mask.values()) / sum(m.numel() for m in mask.values())
    assert abs(kept - 0.3) < 0.02
    before = {n: p.detach().clone() for n, p in ctx.model.named_parameters()}
    model = SalUn(sparsity=0.3, epochs=3, lr=1e-2).unlearn(ctx)
    changed_outside = changed_inside = 0
    for n, p in model.named_parameters():
        diff = p.detach() != before[n]
        changed_outside += int((diff & (mask[n] == 0)).sum())
        changed_inside += int((diff & (mask[n] == 1)).sum())
    assert changed_outside == 0 and changed_inside > 0


def test_salun_mask_follows_the_forget_gradient(trained):
    ctx = _full_context(trained)
    mask = saliency_mask(ctx, 0.1, 64)
    ctx.model.zero_grad()
    F_ = torch.nn.functional
    F_.cross_entropy(adapter_logits := ctx.adapter.forward(ctx.model, ctx.forget.inputs), ctx.forget.labels,
                     reduction="sum").backward()
    for n, p in ctx.model.named_parameters():
        g = p.grad.abs()
        if mask[n].any() and (mask[n] == 0).any():
            assert g[mask[n] == 1].min() >= g[mask[n] == 0].max() - 1e-6
    assert adapter_logits.shape[1] == 4


def test_scrub_student_moves_away_from_the_teacher_on_forget_only(trained):
    adapter, original, forget, retain = trained
    def kl_to_teacher(model, data):
        with torch.no_grad():
            return distill_kl(adapter.forward(model, data.inputs), adapter.forward(original, data.inputs), 4.0)

    scrub = SCRUB(epochs=6, max_steps=5, lr=0.05, batch_size=8).unlearn(_full_context(trained))
    min_only = SCRUB(epochs=6, max_steps=0, lr=0.05, batch_size=8).unlearn(_full_context(trained))
    # the max-steps are what drive the student away from the teacher on the forget set
    assert kl_to_teacher(scrub, forget) > 2 * kl_to_teacher(min_only, forget)
    assert kl_to_teacher(scrub, forget) > kl_to_teacher(scrub, retain)


def test_bad_teacher_pulls_forget_outputs_toward_the_random_network(trained):
    adapter, original, forget, retain = trained
    ctx = _full_context(trained)
    bad = ctx.fresh_model(ctx.seed + 1).eval()  # the teacher BadTeacher builds
    with torch.no_grad():
        before = distill_kl(adapter.forward(original, forget.inputs), adapter.forward(bad, forget.inputs), 1.0)
    model = BadTeacher(epochs=30, lr=1e-3).unlearn(ctx)
    with torch.no_grad():
        after = distill_kl(adapter.forward(model, forget.inputs), adapter.forward(bad, forget.inputs), 1.0)
    assert after < 0.5 * before
    assert loss_and_acc(adapter, model, retain)[1] > 0.8


def test_npo_gradient_equals_gradient_ascent_at_the_reference_and_then_shrinks(trained):
    adapter, original, forget, _ = trained
    model = __import__("copy").deepcopy(original)
    for p in model.parameters():
        p.requires_grad_(True)
    logits = adapter.forward(model, forget.inputs)
    ref = adapter.forward(original, forget.inputs).detach()
    g_npo = torch.autograd.grad(npo_loss(logits, ref, forget.labels, beta=0.1), list(model.parameters()),
                                retain_graph=True)
    g_ga = torch.autograd.grad(-torch.nn.functional.cross_entropy(logits, forget.labels), list(model.parameters()))
    for a, b in zip(g_npo, g_ga):
        assert torch.allclose(a, b, atol=1e-6)
    # far from the reference (forget loss ~50 nats higher) the gradient is 2σ(-βΔ) ≈ 1-3% of GA's
    far = (ref - 50 * torch.nn.functional.one_hot(forget.labels, 4)).requires_grad_(True)
    (g_far,) = torch.autograd.grad(npo_loss(far, ref, forget.labels, beta=0.1), [far])
    (g_far_ga,) = torch.autograd.grad(-torch.nn.functional.cross_entropy(far, forget.labels), [far])
    assert 0.005 < g_far.norm() / g_far_ga.norm() < 0.05
    ctx = _full_context(trained)
    before, _ = loss_and_acc(adapter, original, forget)
    after, _ = loss_and_acc(adapter, NPO(epochs=20, lr=1e-3).unlearn(ctx), forget)
    assert after > before + 0.3


def test_graddiff_forgets_while_protecting_retain_better_than_neggrad(trained):
    adapter, original, forget, retain = trained
    gd = GradDiff(epochs=20, lr=1e-3, alpha=0.5).unlearn(_full_context(trained))
    ng = NegGrad(epochs=20, lr=1e-3).unlearn(_full_context(trained))
    assert loss_and_acc(adapter, gd, forget)[0] > loss_and_acc(adapter, original, forget)[0]
    assert loss_and_acc(adapter, gd, retain)[1] >= loss_and_acc(adapter, ng, retain)[1]


def test_l1_sparse_shrinks_weights_compared_with_plain_finetuning(trained):
    adapter, original, forget, retain = trained
    l1 = L1Sparse(epochs=3, lr=0.01, gamma=5e-2).unlearn(_full_context(trained))
    ft = L1Sparse(epochs=3, lr=0.01, gamma=0.0).unlearn(_full_context(trained))
    assert l1_norm(l1) < 0.95 * l1_norm(ft)


def test_retrain_trains_from_scratch_on_retain_only(trained):
    adapter, original, forget, retain = trained
    ctx = _full_context(trained)
    poisoned = EncodedSplit("forget", {"x": torch.full_like(forget.inputs["x"], float("nan"))}, forget.labels,
                            forget.ids)
    ctx.forget = poisoned
    model = Retrain().unlearn(ctx)
    fresh = adapter.build(SPEC, 0)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert loss_and_acc(adapter, model, retain)[1] > 0.85 and loss_and_acc(adapter, fresh, retain)[1] < 0.6
