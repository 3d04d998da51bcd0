"""Choosing forget sets and cutting them into requests."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write

from mu_registry.api.data import Split
from mu_registry.util.errors import ConfigError
from mu_registry.data.forget import read_ids_file, select_forget_ids, split_requests
from mu_registry.registry.manager import Registry
from mu_registry.data.classification import build_task
from mu_registry.config.task import ForgetConfig, RequestsConfig
from mu_registry.registry.task_index import TaskIndex


def _train(n=200, classes=4, offset=1000):
    labels = np.arange(n) % classes
    return Split("train", {"x": np.zeros((n, 2), np.float32), "label": labels}, np.arange(offset, offset + n)), labels


def test_random_forget_set_has_the_ratio_and_is_seeded():
    train, labels = _train()
    a = select_forget_ids(train, labels, ForgetConfig(strategy="random", ratio=0.05, seed=3), source="t")
    b = select_forget_ids(train, labels, ForgetConfig(strategy="random", ratio=0.05, seed=3), source="t")
    c = select_forget_ids(train, labels, ForgetConfig(strategy="random", ratio=0.05, seed=4), source="t")
    assert len(a) == 10 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.isin(a, train.ids).all()


def test_class_forget_set_is_every_example_of_the_class():
    train, labels = _train()
    ids = select_forget_ids(train, labels, ForgetConfig(strategy="class", classes=[2]), source="t")
    assert np.array_equal(ids, train.ids[labels == 2])
    with pytest.raises(ConfigError, match="forget.classes"):
        select_forget_ids(train, labels, ForgetConfig(strategy="class", classes=[9]), source="t")


def test_ids_strategy_takes_the_first_ratio_of_the_list(tmp_path):
    train, labels = _train()
    listed = np.array([1150, 1003, 1100, 1042, 1007, 1190, 1011, 1012, 1013, 1014, 1015, 1016, 1017,
                       1018, 1019, 1020, 1021, 1022, 1023, 1024])
    f = write(tmp_path / "ids.txt", "# comment\n" + "\n".join(map(str, listed)) + "\n\n")
    ids = select_forget_ids(train, labels, ForgetConfig(strategy="ids", ids_file=str(f), ratio=0.01),
                            source="t", ids_from_file=read_ids_file(f))
    assert list(ids) == sorted([1150, 1003])  # 1% of 200 = the first 2 listed
    with pytest.raises(ConfigError, match="needs 40 ids"):
        select_forget_ids(train, labels, ForgetConfig(strategy="ids", ids_file=str(f), ratio=0.2),
                          source="t", ids_from_file=read_ids_file(f))


def test_requests_partition_the_forget_set():
    ids = np.arange(10, 40)
    parts = split_requests(ids, {}, RequestsConfig(count=4), seed=0, source="t")
    assert len(parts) == 4 and sorted(np.concatenate(parts)) == list(ids)
    assert {len(p) for p in parts} <= {7, 8}
    by_class = split_requests(ids, {i: i % 3 for i in ids}, RequestsConfig(count=3, split="by_class"), seed=0,
                              source="t")
    assert [set(np.asarray(p) % 3) for p in by_class] == [{0}, {1}, {2}]


def test_sequential_requests_accumulate(tmp_path):
    write(tmp_path / "t.yaml", """\
task: seq
dataset: {builder: digits, max_examples: {train: 200, test: 50}}
columns: {inputs: [image], label: label}
modality: image
model: {name: mlp}
forget: {strategy: random, ratio: 0.15}
requests: {count: 3}
""")
    reg = Registry()
    data = build_task(TaskIndex(reg, [tmp_path]).load("seq"), reg)
    seen = np.zeros(0, dtype=np.int64)
    for req in data.requests:
        seen = np.union1d(seen, req.forget.ids)
        assert np.array_equal(np.sort(req.forgotten.ids), seen)
        assert not np.isin(req.retain.ids, seen).any()
        assert len(req.retain) + len(seen) == len(data.train)
    assert set(data.eval_sets(2)) == {"forget", "retain", "test", "forget_0", "forget_1", "forget_2"}
