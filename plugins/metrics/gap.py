"""Distance to the retrain reference: |acc(model) - acc(retrain)| per set, and their average.

The "Avg. Gap" of the MU literature (e.g. Fan et al., 2024) averages the
forget, retain and test gaps; lower is better, 0 is indistinguishable from
retraining without the forget set.
"""

from __future__ import annotations

from mu_registry import MetricContext

AVERAGED = ("forget", "retain", "test")


def gap_to_retrain(ctx: MetricContext) -> dict[str, float]:
    """|accuracy - retrain accuracy| on each set, and 'avg' over forget/retain/test."""
    if ctx.retrain is None:
        return {}
    gaps = {name: abs(out.accuracy() - ctx.retrain[name].accuracy())
            for name, out in ctx.outputs.items() if name in ctx.retrain}
    present = [gaps[s] for s in AVERAGED if s in gaps]
    if present:
        gaps["avg"] = sum(present) / len(present)
    return gaps
