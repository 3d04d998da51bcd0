"""SimNPO (Fan et al. 2024): NPO without a reference model, with length-normalised likelihood.

    L = npo_coeff * (-(2/beta) * E[log sigmoid(beta * (-log pi_theta(y_f|x_f) / |y_f| - gamma))])
        + retain_weight * NLL(y_r | x_r)

As Unlearn-Simple computes it (``OPTML-Group/Unlearn-Simple`` @ f1a355d3, ``TOFU/dataloader.py``,
``simnpo_grad_diff``) with the coefficients of its TOFU forget05 config (``TOFU/config/forget.yaml``:
``beta`` 2.5, ``gamma`` 0, ``npo_coeff`` 0.1375, ``grad_diff_coeff`` 1.0); its forget10 setting is
``npo_coeff`` 0.125, open-unlearning's ``configs/trainer/SimNPO.yaml`` (@ d3d7cf9e) has beta 4.5,
gamma (= npo_coeff) 0.125, delta (= gamma here) 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from mu_registry import GenerativeMethod, losses


class SimNPO(GenerativeMethod):
    @dataclass
    class Params(GenerativeMethod.Params):
        beta: float = 2.5
        gamma: float = 0.0
        npo_coeff: float = 0.1375
        retain_weight: float = 1.0

    def loss(self, ctx, forget, retain):
        p = self.params
        loss = p.npo_coeff * losses.simnpo(ctx.logits(forget), forget.labels, beta=p.beta, gamma=p.gamma)
        if retain is not None and p.retain_weight:
            loss = loss + p.retain_weight * losses.answer_nll(ctx.logits(retain), retain.labels)
        return loss
