"""Sampled decoding's settings, as the task config gives them to the engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding (``generation.decoding: sample``); greedy decoding is ``None`` wherever a ``Sampling`` is
    taken. The logits are warped as transformers 4.37.2 (the release MLUBench's ``pyproject.toml`` pins) warps
    them for ``do_sample=True`` (``generation/utils.py`` ``_get_logits_warper``: temperature, then top-k, then
    top-p), and each row draws its token from its own generator (``row_generator``), so an answer depends on the
    seed and the row's content only, not on the batch it shares or the engine path."""

    temperature: float
    top_k: int = 50
    top_p: float = 1.0
    seed: int = 0

    def request(self) -> dict[str, Any]:
        """What the answer cache keys on (a sampled answer is never reused for greedy or other settings)."""
        return {"decoding": "sample", "temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p,
                "seed": self.seed}
