"""Capital-city questions over world_facts' forty countries, for lm-eval (``custom_dataset``)."""

from __future__ import annotations

import numpy as np


def capitals(**_: object):
    import datasets

    from mu_registry_plugins.datasets.world_facts import COUNTRIES

    rng = np.random.default_rng(0)
    names = sorted(COUNTRIES)
    cities = [COUNTRIES[c][0] for c in names]
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
