"""Distance to the retrain reference: |acc(model) - acc(retrain)| per set, and their average.

``gap_to_retrain`` averages the forget, retain and test accuracy gaps: this project's three-term
variant of the "Avg. Gap" of the MU literature. SalUn's Avg. Gap (Fan et al., ICLR 2024) also averages
the MIA-Efficacy gap: that four-term form is ``gap_to_retrain_salun``. Lower is better; 0 is
indistinguishable from retraining without the forget set.
"""

from __future__ import annotations

from mu_registry import MetricContext

from .mia import svc_efficacy

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


def gap_to_retrain_salun(ctx: MetricContext) -> dict[str, float | None]:
    """SalUn's "Avg. Gap" (Fan et al., ICLR 2024, the unlearning tables): the mean of the absolute
    differences to the retrained model in forget accuracy, MIA-Efficacy (SalUn's SVC attack,
    ``OPTML-Group/Unlearn-Saliency`` at a6e89fd ``Classification/evaluation/SVC_MIA.py``, see
    :func:`.mia.svc_efficacy`), retain accuracy and test accuracy. Where the attack cannot separate
    members from non-members for either model, the MIA term and ``avg`` are null (see ``mia_svc``)."""
    if ctx.retrain is None:
        return {}
    out, ref = ctx.outputs, ctx.retrain
    gaps: dict[str, float | None] = {s: abs(out[s].accuracy() - ref[s].accuracy()) for s in AVERAGED}
    mine = svc_efficacy(out["retain"], out["test"], out["forget"])["efficacy"]
    theirs = svc_efficacy(ref["retain"], ref["test"], ref["forget"])["efficacy"]
    gaps["mia_efficacy"] = abs(mine - theirs) if mine is not None and theirs is not None else None
    terms = [gaps["forget"], gaps["mia_efficacy"], gaps["retain"], gaps["test"]]
    gaps["avg"] = sum(terms) / 4 if all(t is not None for t in terms) else None
    return gaps
