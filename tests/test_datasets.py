"""The offline dataset builders read real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED

from mu_registry.util.errors import MuError
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


# ------------------------------------------------------------------ the mubench-mini builders
needs_fortunes = pytest.mark.skipif(not Path("/usr/share/games/fortunes/computers").exists(),
                                    reason="Debian package fortunes is not installed")
needs_espeak = pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None,
                                  reason="Debian package espeak-ng is not installed")


@needs_fortunes
def test_fortunes_reads_real_labelled_text_from_the_debian_files():
    from mu_registry_plugins.datasets.fortunes import fortunes, read_fortunes

    splits = fortunes(categories=["computers", "science"], max_per_class=100)
    train, test = splits["train"], splits["test"]
    assert len(train) + len(test) == 200 and np.bincount(train.columns["label"]).tolist() == [80, 80]
    computers = set(read_fortunes(Path("/usr/share/games/fortunes/computers")))
    first_computer = train.columns["text"][int(np.flatnonzero(train.columns["label"] == 0)[0])]
    assert first_computer in computers and "%" not in first_computer and 20 <= len(first_computer) <= 400


def test_fortunes_missing_category_names_the_package(tmp_path):
    from mu_registry_plugins.datasets.fortunes import fortunes

    with pytest.raises(MuError, match="'fortunes' package"):
        fortunes(categories=["computers"], root=str(tmp_path))


@needs_espeak
def test_spoken_keywords_are_distinct_synthesised_words_and_cached():
    from mu_registry_plugins.datasets.spoken_keywords import spoken_keywords

    kwargs = dict(words=["yes", "stop"], voices=["en-us"], speeds=[140, 170], pitches=[30, 50, 70, 90])
    splits = spoken_keywords(**kwargs)
    audio = np.concatenate([splits["train"].columns["audio"], splits["test"].columns["audio"]])
    labels = np.concatenate([splits["train"].columns["label"], splits["test"].columns["label"]])
    assert audio.shape == (16, 8000) and audio.dtype == np.float32
    assert (np.abs(audio).max(axis=1) > 0.05).all()  # every clip holds speech
    assert len({a.tobytes() for a in audio}) == 16  # voices/rates/pitches make different clips
    assert np.bincount(labels).tolist() == [8, 8]
    again = spoken_keywords(**kwargs)  # from the cache: identical
    assert np.array_equal(again["train"].columns["audio"], splits["train"].columns["audio"])


def test_moving_digits_labels_are_the_direction_of_motion():
    from mu_registry_plugins.datasets.moving_digits import _STEPS, moving_digits

    split = moving_digits(frames=6, size=16, count=80, seed=1)["train"]
    video, labels = split.columns["video"], split.columns["label"]
    assert video.shape == (64, 6, 1, 16, 16)
    ys, xs = np.mgrid[0:16, 0:16]
    for clip, label in zip(video, labels):
        mass = [(f[0] > 0.5) for f in clip]
        centre = np.array([[ys[m].mean(), xs[m].mean()] for m in mass])
        step = centre[-1] - centre[0]
        assert np.sign(np.round(step / 2)).tolist() == list(_STEPS[label])


def test_image_pairs_statements_are_true_exactly_when_labelled_true():
    from sklearn.datasets import load_digits

    from mu_registry_plugins.datasets.image_pairs import NAMES, image_pairs

    d = load_digits()
    lookup = {(d.images[i] / 16.0).astype(np.float32).tobytes(): int(d.target[i]) for i in range(len(d.target))}
    split = image_pairs(count=300, seed=3)["train"]
    checked = 0
    for left, right, sentence, label in zip(split.columns["left"], split.columns["right"], split.columns["sentence"],
                                            split.columns["label"]):
        a, b = lookup[left[0].tobytes()], lookup[right[0].tobytes()]
        truth = {f"The left image shows a {NAMES[a]}.": True, f"The right image shows a {NAMES[b]}.": True,
                 "Both images show the same digit.": a == b, "The two images show different digits.": a != b,
                 "The left digit is larger than the right one.": a > b,
                 "The left digit is smaller than the right one.": a < b, "The two digits are equal.": a == b}
        if sentence.startswith(("The left image shows", "The right image shows")) and sentence not in truth:
            truth[sentence] = False
        assert truth[sentence] == bool(label), (sentence, a, b, label)
        checked += 1
    assert checked == 240 and 0.4 < split.columns["label"].mean() < 0.6


def test_entity_world_probes_each_fact_both_ways_with_paraphrases_and_distinct_images():
    from collections import defaultdict

    from mu_registry_plugins.datasets.entity_world import CLASSES, entity_world

    world = entity_world(seed=0)
    train, test = world["train"], world["test"]
    names = sorted(set(train.columns["entity"]))
    assert len(names) == 127 and len(train) == 127 * 5 * 2 and len(test) == 3 * len(train)
    per_class = np.bincount([CLASSES.index(c) for c in dict(zip(train.columns["entity"],
                                                                train.columns["entity_class"])).values()])
    assert len(per_class) == 9 and per_class.min() >= 14

    # every fact: one multimodal and one text-only probe with the same answer; only the text one names it
    probes = defaultdict(dict)
    for e, a, form, q, ans in zip(train.columns["entity"], train.columns["attribute"], train.columns["form"],
                                  train.columns["question"], train.columns["answer"]):
        probes[(e, a)][form] = (q, ans)
        assert (e in q) == (form == "text")
    assert all(p["multimodal"][1] == p["text"][1] for p in probes.values())
    # paraphrases ask the same fact in other words
    for e, a, form, q, ans in list(zip(test.columns["entity"], test.columns["attribute"], test.columns["form"],
                                       test.columns["question"], test.columns["answer"]))[:200]:
        assert ans == probes[(e, a)][form][1] and q != probes[(e, a)][form][0]

    phases = defaultdict(set)
    for e, ph in zip(train.columns["entity"], train.columns["phase"]):
        phases[e].add(ph)
    assert all(len(p) == 1 for p in phases.values())
    assert sum(p == {"finetune"} for p in phases.values()) in (63, 64)

    # an entity is recognisable from any of its images (its colours; shape, place and flip vary):
    # colour quantiles of a second image find the entity's first image among all 127 (chance 1/127)
    images = defaultdict(dict)
    for e, k, img in zip(train.columns["entity"], train.columns["image_index"], train.columns["image"]):
        images[e][k] = img.astype(np.float32)
    assert all(not np.array_equal(*list(v.values())[:2]) for v in images.values() if len(v) > 1)

    def colours(img):
        return np.quantile(img.reshape(3, -1), [0.1, 0.3, 0.5, 0.7, 0.9], axis=1).ravel()
    first = np.stack([colours(images[e][min(images[e])]) for e in names])
    found = [names[int(np.abs(first - colours(images[e][max(images[e])])).sum(1).argmin())] == e
             for e in names if len(images[e]) > 1]
    assert np.mean(found) > 0.75

    again, elsewhere = entity_world(seed=0), entity_world(seed=1)
    assert again["train"].columns["question"] == train.columns["question"]
    assert set(elsewhere["train"].columns["entity"]) != set(names)


MLUBENCH = SHARED / "reference" / "mlubench"


@pytest.mark.skipif(not MLUBENCH.exists(), reason="../shared/reference/mlubench is missing")
def test_mlubench_release_reads_the_published_conversation_json():
    from mu_registry_plugins.datasets.mlubench import mlubench_release

    splits = mlubench_release(str(MLUBENCH))
    sizes = {k: len(v) for k, v in splits.items() if k != "entities"}
    assert sizes == {"taskA_forget": 2442, "taskA_retain": 1680, "taskB_forget": 2154, "taskB_retain": 1374,
                     "taskC_forget": 2580, "taskC_retain": 1800, "taskD_forget": 2250, "taskD_retain": 1134}
    entities = splits["entities"]
    assert len(set(entities.columns["entity"])) == 127 and len(set(entities.columns["entity_class"])) == 9
    assert "Alan Turing" in set(entities.columns["entity"])
    forgotten: set[str] = set()
    for task in "ABCD":
        forget = set(splits[f"task{task}_forget"].columns["entity"])
        retain = set(splits[f"task{task}_retain"].columns["entity"])
        assert forget and retain and not forget & retain  # each request forgets other entities than it keeps
        assert not forget & forgotten  # a stream: no entity is forgotten twice
        forgotten |= forget
    first = splits["taskA_forget"]
    assert first.columns["question"][0] == "What is the common name of this animal?"
    assert first.columns["answer"][0] == "Dog" and first.columns["entity_class"][0] == "Animals"
    assert not any("<image>" in q for q in entities.columns["question"])


def test_mlubench_release_errors_name_the_folder_or_file(tmp_path):
    from mu_registry_plugins.datasets.mlubench import mlubench_release

    with pytest.raises(MuError, match="not found"):
        mlubench_release(str(tmp_path / "nowhere"))
    bad = tmp_path / "Tasks" / "TaskA"
    bad.mkdir(parents=True)
    (bad / "taskA_forget.json").write_text('[{"id": "1", "image": "x.jpg", "conversations": []}]')
    with pytest.raises(MuError, match="taskA_forget.json: record '1' is not a human/gpt conversation"):
        mlubench_release(str(tmp_path), tasks=["A"])
