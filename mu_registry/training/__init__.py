"""Training tools shared by methods and models: the loop, optimisers, losses, random init, PEFT helpers.

Imports `config` and `util` only."""

from mu_registry.training.loop import make_optimizer

__all__ = ["make_optimizer"]
