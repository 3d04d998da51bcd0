"""A randomly initialised network of the same architecture: the incompetent teacher of Bad Teacher and
ZRF (Chundawat et al., AAAI 2023; ``vikram2000b/bad-teaching-unlearning`` at f1aa988 builds it as a
fresh, untrained model of the same class).

A model plugin's ``build`` may load pretrained weights (``pretrained: <Hub id>``); the teacher must not
have them, so every parameter is drawn again from the architecture's own initialiser: Hugging Face
models through their ``_init_weights``, other modules through ``reset_parameters``.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def reinitialize(module: nn.Module, seed: int) -> nn.Module:
    """Draw every parameter of ``module`` again from its initialiser (in place, seeded); returns it."""
    torch.manual_seed(seed)
    init_weights = getattr(module, "_init_weights", None)
    for sub in module.modules():
        if callable(init_weights):
            init_weights(sub)
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset) and not callable(init_weights):
            reset()
    return module
