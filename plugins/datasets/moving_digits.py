"""Short video clips of moving handwritten digits (a UCF101 stand-in).

Each clip places one of scikit-learn's real 8×8 digit images on a
``size``×``size`` canvas and moves it in a straight line for ``frames``
frames, with a little pixel noise. Like UCF101, whose classes are actions,
the default label is the *motion*: one of eight compass directions
(``label: motion``); ``label: digit`` asks for the digit instead, which
needs far more data for a tiny video transformer. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from mu_registry import MuError, Split

from .splitting import stratified_splits

DIRECTIONS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")
_STEPS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # (dy, dx) per direction


def moving_digits(frames: int = 8, size: int = 16, count: int = 1200, seed: int = 0,
                  label: str = "motion") -> dict[str, Split]:
    """Splits 'train'/'test' (80/20): 'video' (float32 N×T×1×size×size in [0, 1]) and 'label'."""
    from sklearn.datasets import load_digits

    if label not in ("motion", "digit"):
        raise MuError(f"moving_digits: label must be 'motion' or 'digit', not '{label}'")
    d = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(d.target), size=count, replace=count > len(d.target))
    directions = rng.integers(0, len(DIRECTIONS), size=count)
    video = np.zeros((count, frames, 1, size, size), dtype=np.float32)
    span = size - 8
    for i, (j, direction) in enumerate(zip(pick, directions)):
        img = d.images[j] / 16.0
        speed = rng.uniform(0.6, 1.0) * span / max(1, frames - 1)
        vel = np.asarray(_STEPS[direction], dtype=float) * speed
        travel = vel * (frames - 1)
        # start anywhere the whole straight path stays on the canvas
        lo, hi = np.maximum(0, -travel), np.minimum(span, span - travel)
        pos = rng.uniform(lo, hi)
        for t in range(frames):
            y, x = np.clip(np.round(pos + t * vel).astype(int), 0, span)
            video[i, t, 0, y:y + 8, x:x + 8] = img
    video += rng.normal(0, 0.05, video.shape).astype(np.float32)
    video = np.clip(video, 0, 1)
    labels = (directions if label == "motion" else d.target[pick]).astype(np.int64)
    return stratified_splits({"video": video, "label": labels}, labels, 0.2)
