"""Each built-in method's defining behaviour on a tiny model, not just that it runs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tiny import context, loss_and_acc, setup

from mu_registry.util.errors import MuError
from mu_registry.api.model import EncodedSplit
from mu_registry_plugins.methods.finetune import Finetune
from mu_registry_plugins.methods.ga import GA
from mu_registry_plugins.methods.random_label import (
    RandomLabel, corrupt_labels, random_wrong_labels, relabelled_epochs)


@pytest.fixture(scope="module")
def trained():
    return setup()


def test_neggrad_raises_the_loss_on_the_forget_set(trained):
    adapter, original, forget, retain = trained
    before, _ = loss_and_acc(adapter, original, forget)
    model = GA(lr=1e-3, epochs=20).unlearn(context(*trained))
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
    forget_only = RandomLabel(epochs=30, lr=1e-2, retain=False).unlearn(context(*trained))
    with_retain = RandomLabel(epochs=30, lr=1e-2, retain=True).unlearn(context(*trained))
    assert acc_before > 0.8 and loss_and_acc(adapter, forget_only, forget)[1] < acc_before - 0.3
    # the retain term is what keeps utility
    assert loss_and_acc(adapter, with_retain, retain)[1] > loss_and_acc(adapter, forget_only, retain)[1] + 0.1


def test_random_label_epoch_is_one_pass_over_forget_and_retain(trained):
    """SalUn RL.py / MU-Bench data/base.py: an epoch is one shuffled pass over D_f (corrupted) ∪ D_r."""
    ctx = context(*trained)
    n_f, n_r = len(ctx.forget), len(ctx.retain)
    seen, labels = [], []
    (epoch,) = relabelled_epochs(ctx, "next", 1, 64, retain=True)
    for batch in epoch:
        seen.append(batch.positions)
        labels.append((batch.positions, batch.labels))
    seen = torch.cat(seen)
    assert len(seen) == n_f + n_r and sorted(seen.tolist()) == list(range(n_f + n_r))  # each example once
    assert not torch.equal(seen, torch.arange(n_f + n_r))  # shuffled, forget and retain mixed
    want = torch.cat([(ctx.forget.labels + 1) % 4, ctx.retain.labels])  # MU-Bench's (y + 1) mod K on D_f only
    for pos, lab in labels:
        assert torch.equal(lab, want[pos])
    # three epochs are three passes
    assert sum(len(b) for e in relabelled_epochs(ctx, "uniform", 3, 64, retain=True) for b in e) == 3 * (n_f + n_r)


def test_label_rules():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat(2000)
    assert torch.equal(corrupt_labels(labels, 5, "next", gen), (labels + 1) % 5)
    uniform = corrupt_labels(labels, 5, "uniform", gen)  # SalUn: randint(0, K), the true label included
    for c in range(5):
        assert set(uniform[labels == c].tolist()) == set(range(5))
    assert abs(float((uniform == labels).float().mean()) - 0.2) < 0.03
    assert not (corrupt_labels(labels, 5, "uniform_wrong", gen) == labels).any()
    with pytest.raises(MuError, match="'label_rule' must be one of uniform, next, uniform_wrong"):
        RandomLabel.make_params({"label_rule": "shuffle"})


def test_methods_are_deterministic_for_a_seed(trained):
    a = GA().unlearn(context(*trained, seed=5))
    b = GA().unlearn(context(*trained, seed=5))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_params_have_defaults_and_reject_unknown_or_mistyped_overrides():
    assert dataclasses.asdict(GA().params) == {"epochs": 2, "lr": 1e-4, "batch_size": 32, "optimizer": "adam",
                                               "weight_decay": 0.0, "lr_schedule": "constant",
                                               "max_grad_norm": 0.0, "weight_decay_params": "all"}
    assert GA.make_params({"lr": "0.5", "epochs": "4"}).lr == 0.5
    with pytest.raises(MuError, match="unknown parameter 'lrate'"):
        GA.make_params({"lrate": 1})
    with pytest.raises(MuError, match="parameter 'epochs' expects int, got 'many'"):
        GA.make_params({"epochs": "many"})


# ----------------------------------------------------------------- MU-Bench methods
from mu_registry_plugins.methods.bad_teacher import BadTeacher, distill_kl  # noqa: E402
from mu_registry_plugins.methods.graddiff import GradDiff  # noqa: E402
from mu_registry_plugins.methods.l1_sparse import L1Sparse, l1_norm, l1_weight  # noqa: E402
from mu_registry_plugins.methods.npo import NPO, npo_loss  # noqa: E402
from mu_registry_plugins.methods.retrain import Retrain  # noqa: E402
from mu_registry_plugins.methods.salun import SalUn, saliency_mask, top_fraction_mask  # noqa: E402
from mu_registry_plugins.methods.scrub import SCRUB, decayed_lr, scrub_kl  # noqa: E402
from mu_registry.config.task import TrainConfig  # noqa: E402
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
    n = sum(m.numel() for m in mask.values())
    assert sum(int(m.sum()) for m in mask.values()) == int(0.3 * n)  # exactly the top fraction
    before = {n: p.detach().clone() for n, p in ctx.model.named_parameters()}
    # weight decay would move every weight; SalUn's RL.py puts the unmasked ones back after each step
    model = SalUn(sparsity=0.3, epochs=3, lr=1e-2, weight_decay=0.1).unlearn(ctx)
    changed_outside = changed_inside = 0
    for n, p in model.named_parameters():
        diff = p.detach() != before[n]
        changed_outside += int((diff & (mask[n] == 0)).sum())
        changed_inside += int((diff & (mask[n] == 1)).sum())
    assert changed_outside == 0 and changed_inside > 0


def test_top_fraction_mask_keeps_exactly_the_fraction_ties_by_position():
    sal = {"w": torch.tensor([0.3, 0.1, 0.3, 0.2]), "b": torch.tensor([0.3])}
    # int(5 * 0.4) = 2 weights; three tie at 0.3: the first two by position (w[0], w[2]) are kept
    mask = top_fraction_mask(sal, 0.4)
    assert mask["w"].tolist() == [1, 0, 1, 0] and mask["b"].tolist() == [0]
    assert top_fraction_mask({"w": torch.ones(10)}, 0.5)["w"].sum() == 5


def test_salun_mask_is_computed_in_eval_mode_from_the_summed_batch_mean_gradient(trained):
    adapter, original, forget, retain = trained
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Dropout(0.5), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    ctx = context(adapter, net, forget, retain)
    ctx.model.train()
    mask = saliency_mask(ctx, 0.2, 16)
    assert ctx.model.training  # the mode is given back
    # by hand: eval mode (no dropout), Σ over batches of 16 of ∇ mean CE, |.|, top 20%
    ref = __import__("copy").deepcopy(net).eval().requires_grad_(True)
    grads = [torch.zeros_like(p) for p in ref.parameters()]
    for start in range(0, len(forget), 16):
        x, y = forget.inputs["x"][start:start + 16], forget.labels[start:start + 16]
        loss = torch.nn.functional.cross_entropy(ref(x), y)
        for g, d in zip(grads, torch.autograd.grad(loss, list(ref.parameters()))):
            g += d
    flat = torch.cat([g.abs().flatten() for g in grads])
    threshold = flat.sort(descending=True).values[int(0.2 * len(flat)) - 1]
    for (name, _), g in zip(ref.named_parameters(), grads):
        assert torch.equal(mask[name].bool(), g.abs() >= threshold), name


def test_scrub_student_moves_away_from_the_teacher_on_forget_only(trained):
    adapter, original, forget, retain = trained

    def kl_to_teacher(model, data):
        with torch.no_grad():
            return distill_kl(adapter.forward(model, data.inputs), adapter.forward(original, data.inputs), 4.0)

    scrub = SCRUB(epochs=6, max_steps=5, lr=0.005, forget_batch_size=8, retain_batch_size=8,
                  lr_decay_epochs=[]).unlearn(_full_context(trained))
    min_only = SCRUB(epochs=6, max_steps=0, lr=0.005, forget_batch_size=8, retain_batch_size=8,
                     lr_decay_epochs=[]).unlearn(_full_context(trained))
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
    ng = GA(epochs=20, lr=1e-3).unlearn(_full_context(trained))
    assert loss_and_acc(adapter, gd, forget)[0] > loss_and_acc(adapter, original, forget)[0]
    assert loss_and_acc(adapter, gd, retain)[1] >= loss_and_acc(adapter, ng, retain)[1]


def test_l1_sparse_shrinks_weights_compared_with_plain_finetuning(trained):
    adapter, original, forget, retain = trained
    l1 = L1Sparse(epochs=3, lr=0.01, gamma=5e-2, batch_size=32).unlearn(_full_context(trained))
    ft = L1Sparse(epochs=3, lr=0.01, gamma=0.0, batch_size=32).unlearn(_full_context(trained))
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


# ----------------------------------------------------------------- reference formulas, by hand
def test_scrub_kl_carries_t_squared():
    """meghdadk/SCRUB DistillKL: KL(softmax(t/T) ‖ softmax(s/T)) summed, × T², / batch."""
    import math

    s_, t_ = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])
    # T = 1: teacher (3/4, 1/4) against (1/2, 1/2): 3/4 ln(3/2) + 1/4 ln(1/2)
    assert float(scrub_kl(s_, t_, 1.0)) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-6)
    # T = 2: teacher (√3, 1)/(√3 + 1) against uniform, times 4
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    expected = 4 * (p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p)))
    assert float(scrub_kl(s_, t_, 2.0)) == pytest.approx(expected, rel=1e-6)


def test_scrub_presets_are_the_notebooks_settings_and_explicit_values_win():
    large = SCRUB().settings()
    assert {k: large[k] for k in ("optimizer", "lr", "weight_decay", "alpha", "gamma", "kd_T", "epochs", "max_steps",
                                  "forget_batch_size", "retain_batch_size")} == {
        "optimizer": "sgd", "lr": 5e-4, "weight_decay": 5e-4, "alpha": 0.001, "gamma": 0.99, "kd_T": 4.0,
        "epochs": 3, "max_steps": 2, "forget_batch_size": 512, "retain_batch_size": 256}
    small = SCRUB(preset="small_scale", epochs=4).settings()
    assert (small["optimizer"], small["weight_decay"], small["alpha"], small["gamma"], small["kd_T"]) == \
        ("adam", 0.1, 0.5, 1.0, 2.0)
    assert (small["max_steps"], small["forget_batch_size"], small["retain_batch_size"], small["epochs"]) == \
        (3, 64, 32, 4)
    # adjust_learning_rate: ×0.1 for each of 5, 8, 9 the epoch (from 1) exceeds
    assert [decayed_lr(1.0, e, [5, 8, 9], 0.1) for e in range(1, 11)] == pytest.approx(
        [1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.001])
    assert SCRUB.make_params({"epochs": "5"}).epochs == 5  # optional parameters still parse from the CLI
    with pytest.raises(MuError, match="preset"):
        SCRUB.make_params({"preset": "medium"})


def test_l1_weight_decays_per_epoch_as_in_sparse_ft():
    assert [l1_weight(5e-4, e, 10) for e in (0, 5, 9)] == pytest.approx([5e-4, 2.5e-4, 5e-5])
    assert [l1_weight(1.0, e, 4, no_l1_epochs=2) for e in range(4)] == [1.0, 0.5, 0.0, 0.0]
    assert l1_weight(1.0, 3, 4, no_l1_epochs=4) == 1.0  # no decaying epochs: the penalty stays


def test_l1_sparse_one_step_is_sgd_on_ce_plus_l1_with_weight_decay(trained):
    adapter, original, forget, retain = trained
    ctx = _full_context(trained)
    lr, gamma, wd = 0.01, 1e-2, 5e-4
    # by hand: the first SGD step (momentum buffer = gradient): θ - lr (∇CE + γ sign θ + wd θ)
    ref = __import__("copy").deepcopy(original).requires_grad_(True)
    ce = torch.nn.functional.cross_entropy(ref(retain.inputs["x"]), retain.labels)
    grads = torch.autograd.grad(ce, list(ref.parameters()))
    expected = [p.detach() - lr * (g + gamma * torch.sign(p.detach()) + wd * p.detach())
                for p, g in zip(ref.parameters(), grads)]
    model = L1Sparse(epochs=1, lr=lr, gamma=gamma, weight_decay=wd, batch_size=len(retain)).unlearn(ctx)
    for p, e in zip(model.parameters(), expected):
        assert torch.allclose(p.detach(), e, atol=1e-6)


def test_bad_teacher_is_a_random_network_even_when_the_family_loads_pretrained_weights(trained):
    adapter, original, forget, retain = trained
    ctx = _full_context(trained)
    # a family whose build() loads "pretrained" weights: here, the original's
    ctx.build_fresh = lambda s: __import__("copy").deepcopy(original).requires_grad_(True)
    teacher = ctx.random_model(1)
    for (name, p), q in zip(teacher.named_parameters(), original.parameters()):
        assert not torch.equal(p, q), name
    assert loss_and_acc(adapter, teacher, retain)[1] < 0.5  # it knows nothing
    assert all(torch.equal(p, q) for p, q in zip(ctx.random_model(1).parameters(), teacher.parameters()))


def test_reinitialize_redraws_a_hugging_face_model():
    transformers = pytest.importorskip("transformers")
    from mu_registry.training.random_init import reinitialize

    cfg = transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                  vocab_size=50, num_labels=3)
    model = transformers.BertForSequenceClassification(cfg)
    for p in model.parameters():
        p.data.fill_(0.5)  # stands in for pretrained weights
    reinitialize(model, 0)
    assert not any(bool((p == 0.5).all()) for p in model.parameters())
    w = model.bert.encoder.layer[0].attention.self.query.weight
    assert abs(float(w.detach().std()) - cfg.initializer_range) < 0.005  # BERT's own initialiser: N(0, 0.02)


def _one_sgd_step(original, loss_fn, lr):
    """θ - lr·∇L: the first SGD step (momentum buffer = gradient, no weight decay), computed by hand."""
    ref = __import__("copy").deepcopy(original).requires_grad_(True)
    grads = torch.autograd.grad(loss_fn(ref), list(ref.parameters()))
    return [p.detach() - lr * g for p, g in zip(ref.parameters(), grads)]


def test_neggrad_and_graddiff_one_step_follow_their_losses(trained):
    adapter, original, forget, retain = trained
    ce = torch.nn.functional.cross_entropy
    lr = 0.05
    # GA (MU-Bench grad_ascent.py): L = -CE(D_f)
    expected = _one_sgd_step(original, lambda m: -ce(m(forget.inputs["x"]), forget.labels), lr)
    got = GA(epochs=1, lr=lr, optimizer="sgd", batch_size=len(forget)).unlearn(_full_context(trained))
    assert all(torch.allclose(p.detach(), e, atol=1e-6) for p, e in zip(got.parameters(), expected))
    # GradDiff with alpha 0.3 on one forget batch and one retain batch of the same size (the retain batch is
    # the first of the context's shuffled stream: positions from a fresh generator with the same seed)
    ctx = _full_context(trained)
    gen = torch.Generator().manual_seed(ctx.seed * 1000 + ctx.request_index)
    torch.randperm(len(forget), generator=gen)  # the forget pass draws its order first
    r_pos = torch.randperm(len(retain), generator=gen)[:len(forget)]
    xr, yr = retain.inputs["x"][r_pos], retain.labels[r_pos]
    expected = _one_sgd_step(original, lambda m: 0.3 * ce(m(xr), yr) - 0.7 * ce(m(forget.inputs["x"]), forget.labels),
                             lr)
    got = GradDiff(epochs=1, lr=lr, optimizer="sgd", alpha=0.3, batch_size=len(forget)).unlearn(ctx)
    assert all(torch.allclose(p.detach(), e, atol=1e-6) for p, e in zip(got.parameters(), expected))


def test_npo_batch_mean_is_mubench_form():
    import math

    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    ref = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    labels = torch.tensor([0, 0])
    # NLL: (ln 2, ln 4/3), reference (ln 4/3, ln 4/3); β = 1
    per_example = -2 * (F_logsig(math.log(2) - math.log(4 / 3)) + F_logsig(0.0)) / 2
    batch_mean = -2 * F_logsig((math.log(2) + math.log(4 / 3)) / 2 - math.log(4 / 3))
    assert float(npo_loss(logits, ref, labels, 1.0)) == pytest.approx(per_example, rel=1e-6)
    assert float(npo_loss(logits, ref, labels, 1.0, "batch_mean")) == pytest.approx(batch_mean, rel=1e-6)
    with pytest.raises(MuError, match="reduction"):
        NPO.make_params({"reduction": "sum"})


def F_logsig(x: float) -> float:
    import math

    return -math.log1p(math.exp(-x))


def test_a_refused_value_names_the_method():
    with pytest.raises(MuError, match="^method 'salun': parameter 'label_rule' must be one of"):
        SalUn.make_params({"label_rule": "x"}, context="method 'salun': ")
