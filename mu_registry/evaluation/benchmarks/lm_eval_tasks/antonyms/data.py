"""English antonyms as multiple choice, for lm-eval (``custom_dataset``): general word knowledge that no
unlearning request in this project is about."""

from __future__ import annotations

import numpy as np

PAIRS = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("up", "down"),
         ("light", "dark"), ("old", "young"), ("rich", "poor"), ("hard", "soft"), ("early", "late"),
         ("open", "closed"), ("wet", "dry"), ("full", "empty"), ("strong", "weak"), ("high", "low"),
         ("long", "short"), ("thick", "thin"), ("loud", "quiet"), ("clean", "dirty"), ("true", "false"),
         ("win", "lose"), ("push", "pull"), ("buy", "sell"), ("love", "hate"), ("begin", "end"),
         ("inside", "outside"), ("first", "last"), ("near", "far"), ("heavy", "light"), ("good", "bad"),
         ("day", "night"), ("north", "south"), ("left", "right"), ("black", "white"), ("sweet", "sour"),
         ("friend", "enemy"), ("question", "answer"), ("before", "after"), ("alive", "dead"), ("empty", "full")]


def antonyms(**_: object):
    import datasets

    rng = np.random.default_rng(0)
    words = sorted({w for pair in PAIRS for w in pair})
    rows = {"word": [], "choices": [], "label": []}
    for word, opposite in PAIRS:
        others = [w for w in words if w not in (word, opposite)]
        choices = [opposite] + [others[i] for i in rng.choice(len(others), 3, replace=False)]
        order = rng.permutation(4)
        rows["word"].append(word)
        rows["choices"].append([choices[i] for i in order])
        rows["label"].append(int(np.flatnonzero(order == 0)[0]))
    return datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})
