"""Fault-injecting plugin pieces for the reliability tests (registered with ``Registry(extra_plugins=...)``).

Switches are environment variables, so a resumed run (in-process or a subprocess) can turn a fault off:
``MU_FAULT_RAISE_AT`` (request index at which ``faults/boom`` raises), ``MU_FAULT_METRIC_AT`` (request
index at which ``faults/flaky`` raises for a method's model), ``MU_FAULT_SLEEP_AT`` (request index at
which ``faults/sleepy`` writes ``MU_FAULT_MARKER`` and sleeps, so a test can signal the run).
"""

from __future__ import annotations

import os
import time
import types
from pathlib import Path

from mu_registry import hookimpl
from mu_registry.api.metric import MetricContext
from mu_registry_plugins.methods.finetune import Finetune


class Boom(Finetune):
    """Fine-tunes, but raises at request ``MU_FAULT_RAISE_AT``."""

    def unlearn(self, ctx):
        if os.environ.get("MU_FAULT_RAISE_AT") == str(ctx.request_index):
            raise RuntimeError("boom: injected failure\nsecond line of the message")
        return super().unlearn(ctx)


class Sleepy(Finetune):
    """Fine-tunes, but at request ``MU_FAULT_SLEEP_AT`` marks a file and sleeps (to be signalled)."""

    def unlearn(self, ctx):
        if os.environ.get("MU_FAULT_SLEEP_AT") == str(ctx.request_index):
            Path(os.environ["MU_FAULT_MARKER"]).write_text("sleeping")
            time.sleep(120)
        return super().unlearn(ctx)


def flaky(ctx: MetricContext) -> float:
    """Forget accuracy; raises for a method's model at request ``MU_FAULT_METRIC_AT``."""
    is_reference = ctx.outputs is ctx.original or ctx.outputs is ctx.retrain
    if not is_reference and os.environ.get("MU_FAULT_METRIC_AT") == str(ctx.request_index):
        raise ValueError("flaky metric: injected failure")
    return ctx.outputs["forget"].accuracy()


@hookimpl
def mu_register_methods(register):
    register("faults/boom", Boom)
    register("faults/sleepy", Sleepy)


@hookimpl
def mu_register_metrics(register):
    register("faults/flaky", flaky)


PLUGIN = types.SimpleNamespace(mu_register_methods=mu_register_methods, mu_register_metrics=mu_register_metrics)
