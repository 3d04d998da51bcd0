"""The harness's classification metrics as Hugging Face ``evaluate`` modules, loaded offline from the package.

``evaluate.load(module_path("mubench_overall"))`` reads the script in this folder (no hub access), so
MU-Bench's ``metric_names`` (``evaluate.load("accuracy")`` in ``CLU-UML/MU-Bench`` at 48f5c7b,
``mubench/evaluation.py``) map one to one onto modules that run without the network:

* ``accuracy``, ``f1``: as the hub's modules of those names compute them (scikit-learn's
  ``accuracy_score`` / ``f1_score``; ``f1`` takes ``average``, default ``binary`` as on the hub);
* ``mubench_overall``: MU-Bench's overall score from test and forget predictions (rows tagged with
  ``subset`` ``test`` or ``forget``) and ``dt_orig`` / ``random`` / ``method``;
* ``knowledge_gap``: MU-Bench's knowledge gap from forget and retain rows (``subset`` ``forget`` / ``retain``);
* ``zrf``: MU-Bench's ZRF from forget-set probabilities.

Each computes with the same function the harness's metric plugin uses (tested equal).
"""

from __future__ import annotations

from pathlib import Path

from mu_registry import MuError

NAMES = ("accuracy", "f1", "mubench_overall", "knowledge_gap", "zrf")


def module_path(name: str) -> str:
    """The folder to pass to ``evaluate.load`` for one of :data:`NAMES`."""
    if name not in NAMES:
        raise MuError(f"no evaluate module '{name}' in mu_registry (have: {', '.join(NAMES)})")
    return str(Path(__file__).parent / name)
