"""Bottom layer: errors, atomic writes, paths, progress, the environment record, the process rank.

Imports nothing else from mu_registry; every other layer may import it."""
