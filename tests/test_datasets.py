"""The offline dataset builders read real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mu_registry.errors import MuError
from mu_registry_plugins.datasets.digits import digits
from mu_registry_plugins.datasets.fashion_mnist import DEFAULT_ROOT, fashion_mnist

needs_fmnist = pytest.mark.skipif(not Path(DEFAULT_ROOT).exists(),
                                  reason="Debian package dataset-fashion-mnist is not installed")


@needs_fmnist
def test_fashion_mnist_reads_the_debian_idx_files():
    splits = fashion_mnist()
    train, test = splits["train"], splits["test"]
    assert len(train) == 60000 and len(test) == 10000
    assert train.columns["image"].shape == (60000, 1, 28, 28) and train.columns["image"].dtype == np.float32
    assert 0.0 == train.columns["image"].min() and train.columns["image"].max() == 1.0
    assert np.bincount(train.columns["label"]).tolist() == [6000] * 10
    assert np.bincount(test.columns["label"]).tolist() == [1000] * 10


def test_fashion_mnist_missing_files_name_the_package(tmp_path):
    with pytest.raises(MuError, match="dataset-fashion-mnist"):
        fashion_mnist(root=str(tmp_path))


def test_digits_has_a_fixed_stratified_split():
    a, b = digits(), digits()
    assert len(a["train"]) == 1347 and len(a["test"]) == 450
    assert np.array_equal(a["train"].columns["label"], b["train"].columns["label"])
    assert np.bincount(a["test"].columns["label"]).min() >= 43
