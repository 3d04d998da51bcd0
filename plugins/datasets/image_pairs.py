"""NLVR2-style reasoning over two images and a sentence: is the statement true? (1) or false (0).

Image pairs are scikit-learn's real 8×8 digit images; statements are made from
templates over the two labels (left/right digit, same/different, larger/smaller,
sum parity), half of them true. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from mu_registry import Split

from .splitting import stratified_splits

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _statement(a: int, b: int, want_true: bool, rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 4))
    if kind == 0:  # the left image shows X
        x = a if want_true else int((a + rng.integers(1, 10)) % 10)
        return f"The left image shows a {NAMES[x]}."
    if kind == 1:
        x = b if want_true else int((b + rng.integers(1, 10)) % 10)
        return f"The right image shows a {NAMES[x]}."
    if kind == 2:
        same = a == b
        says_same = same if want_true else not same
        return "Both images show the same digit." if says_same else "The two images show different digits."
    larger = a > b
    says_larger = larger if want_true else not larger
    if a == b:  # neither is larger: "left is larger" is false
        return "The left digit is smaller than the right one." if not want_true else "The two digits are equal."
    if says_larger:
        return "The left digit is larger than the right one."
    return "The left digit is smaller than the right one."


def image_pairs(count: int = 1500, seed: int = 0) -> dict[str, Split]:
    """Splits 'train'/'test' (80/20): 'left', 'right' (float32 N×1×8×8), 'sentence' (str), 'label' (0/1)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(d.target), count), rng.integers(0, len(d.target), count)
    labels = (rng.random(count) < 0.5).astype(np.int64)
    sentences = [_statement(int(d.target[a]), int(d.target[b]), bool(t), rng) for a, b, t in zip(i, j, labels)]
    images = (d.images / 16.0).astype(np.float32)[:, None]
    return stratified_splits({"left": images[i], "right": images[j], "sentence": sentences, "label": labels},
                             labels, 0.2)
