"""Capital-city questions over world_facts' forty countries, for lm-eval (``custom_dataset``)."""

from __future__ import annotations

import numpy as np


def capitals(**_: object):
    import datasets

    from mu_registry import get_registry  # lm-eval imports this file on its own: the registry's world_facts builder

    train = get_registry().dataset("world_facts")()["train"].columns
    capital = {e: a for e, at, a in zip(train["entity"], train["attribute"], train["answer"]) if at == "capital"}
    rng = np.random.default_rng(0)
    names = sorted(capital)
    cities = [capital[c] for c in names]
    rows = {"country": [], "answer": [], "choices": [], "label": []}
    for country, city in zip(names, cities):
        others = [c for c in cities if c != city]
        choices = [city] + [others[i] for i in rng.choice(len(others), 3, replace=False)]
        order = rng.permutation(4)
        rows["country"].append(country)
        rows["answer"].append(city)
        rows["choices"].append([choices[i] for i in order])
        rows["label"].append(int(np.flatnonzero(order == 0)[0]))
    return datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)})
