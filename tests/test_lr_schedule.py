"""``lr_schedule: linear``: MU-Bench's Trainer schedule (HF ``get_linear_schedule_with_warmup``, no warm-up).

Expected learning rates are written out by hand from HF's formula ``max(0, (T - k) / T)`` for the k-th
update (k from 0) of T updates, T = epochs x batches per epoch, and compared with the rate each real
optimiser step of a method ran at (read by a global optimiser pre-step hook)."""

from __future__ import annotations

import pytest
from tiny import SPEC, context, setup

from mu_registry.util.errors import MuError
from mu_registry.api.model import EncodedSplit
from mu_registry.training.loop import linear_decay_factor
from mu_registry_plugins.methods.bad_teacher import BadTeacher
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
def small():
    """6 forget rows and 10 retain rows of the tiny blobs task."""
    adapter, original, forget, retain = setup()

    def head(split: EncodedSplit, n: int) -> EncodedSplit:
        return EncodedSplit(split.name, {k: v[:n] for k, v in split.inputs.items()}, split.labels[:n], split.ids[:n])

    return adapter, original, head(forget, 6), head(retain, 10)


def rates_of(method, small) -> list[float]:
    """The learning rate of every optimiser step the method takes."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    seen: list[float] = []
    handle = register_optimizer_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    try:
        ctx = context(*small)
        ctx.build_fresh = lambda s: small[0].build(SPEC, s)
        method.unlearn(ctx)
    finally:
        handle.remove()
    return seen


def test_linear_factor_is_hf_formula():
    # T = 4 updates: 4/4, 3/4, 2/4, 1/4, then 0 (clamped) past the end
    assert [linear_decay_factor(k, 4) for k in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


# forget: 6 rows, batch 4 -> 2 batches an epoch; 2 epochs -> T = 4: 1, 3/4, 1/2, 1/4
FORGET_DRIVEN = [
    lambda s: GA(epochs=2, batch_size=4, lr=LR, lr_schedule=s),
    lambda s: GradDiff(epochs=2, batch_size=4, lr=LR, lr_schedule=s),
    lambda s: NPO(epochs=2, batch_size=4, lr=LR, lr_schedule=s),
    lambda s: BadTeacher(epochs=2, batch_size=4, lr=LR, lr_schedule=s),
    # retain: 10 rows, batch 5 -> 2 batches an epoch
    lambda s: Finetune(epochs=2, batch_size=5, lr=LR, lr_schedule=s),
    lambda s: L1Sparse(epochs=2, batch_size=5, lr=LR, lr_schedule=s),
    # D_f ∪ D_r: 16 rows, batch 8 -> 2 batches an epoch
    lambda s: RandomLabel(epochs=2, batch_size=8, lr=LR, lr_schedule=s),
    lambda s: SalUn(epochs=2, batch_size=8, lr=LR, lr_schedule=s),
]


IDS = ["ga", "graddiff", "npo", "bad_teacher", "finetune", "l1_sparse", "random_label", "salun"]


@pytest.mark.parametrize("make", FORGET_DRIVEN, ids=IDS)
def test_linear_schedule_decays_to_zero_over_every_update(make, small):
    assert rates_of(make("linear"), small) == pytest.approx([LR, 0.75 * LR, 0.5 * LR, 0.25 * LR])
    assert rates_of(make("constant"), small) == pytest.approx([LR] * 4)


def test_scrub_linear_schedule_scales_its_step_decay(small):
    # epochs 2, max_steps 1: epoch 1 = 2 forget updates (6 rows, batch 4) + 2 retain updates (10 rows, batch 5),
    # epoch 2 = 2 retain updates: T = 6. lr_decay_epochs [1], rate 0.1: epoch 2's base is 0.1 * LR.
    scrub = SCRUB(epochs=2, max_steps=1, forget_batch_size=4, retain_batch_size=5, lr=LR, lr_decay_epochs=[1],
                  lr_decay_rate=0.1, lr_schedule="linear")
    want = [LR * 6 / 6, LR * 5 / 6, LR * 4 / 6, LR * 3 / 6, 0.1 * LR * 2 / 6, 0.1 * LR * 1 / 6]
    assert rates_of(scrub, small) == pytest.approx(want)
    plain = SCRUB(epochs=2, max_steps=1, forget_batch_size=4, retain_batch_size=5, lr=LR, lr_decay_epochs=[1],
                  lr_decay_rate=0.1)
    assert rates_of(plain, small) == pytest.approx([LR] * 4 + [0.1 * LR] * 2)  # the presets stay constant


def test_unknown_schedule_is_refused_naming_the_parameter():
    with pytest.raises(MuError, match="lr_schedule.*constant, linear.*cosine"):
        GA.make_params({"lr_schedule": "cosine"})
    with pytest.raises(MuError, match="lr_schedule"):
        SCRUB.make_params({"lr_schedule": "step"})


def test_real_mubench_tasks_run_every_method_with_linear_decay():
    from mu_registry.registry.manager import get_registry
    from mu_registry.registry.task_index import TaskIndex

    index = TaskIndex(get_registry())
    for name in ("mubench-cifar100", "mubench-imdb", "mubench-ddi2013", "mubench-nlvr2"):
        methods = index.load(name).config.methods
        assert methods and all(args.get("lr_schedule") == "linear" for args in methods.values()), name
