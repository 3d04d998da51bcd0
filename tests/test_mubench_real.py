"""MU-Bench's real-data tasks: they validate offline, their forget lists load from the shared copies,
and their loaders run end to end on small local stand-ins with the same schema (the task YAML
unchanged; only $MUBENCH_DATA, and --set for what the Hub would provide)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mu_registry.util.errors import ConfigError
from mu_registry.api.data import Split
from mu_registry.data.forget import read_ids_file, select_forget_ids
from mu_registry.data.forget_ids import resolve_ids_file
from mu_registry.registry.manager import Registry
from mu_registry.run.runner import RunConfig, Runner
from mu_registry.data.classification import build_task
from mu_registry.registry.task_index import TaskIndex

from conftest import SHARED, run_cli

IDS_DIR = SHARED / "reference" / "mubench-forget-ids"
REAL_TASKS = ["mubench-cifar100", "mubench-imdb", "mubench-ddi2013", "mubench-nlvr2", "mubench-speech-commands",
              "mubench-ucf101"]
TINY_BERT = ("{name: hf_text, args: {max_length: 24, config: {model_type: bert, hidden_size: 32, num_hidden_layers: 1,"
             " num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 32}},"
             " train: {epochs: 6, batch_size: 16, lr: 0.003, optimizer: adamw}}")

needs_ids = pytest.mark.skipif(not IDS_DIR.exists(), reason="../shared/reference/mubench-forget-ids is missing")


def test_real_tasks_validate_without_network():
    proc = run_cli("validate", "mubench")
    assert proc.returncode == 0, proc.stderr
    for name in REAL_TASKS:
        assert f"ok      {name}" in proc.stdout


@needs_ids
@pytest.mark.parametrize("task,lines", [("mubench-cifar100", 5000), ("mubench-imdb", 2500), ("mubench-ddi2013", 2500),
                                        ("mubench-nlvr2", 8620), ("mubench-speech-commands", 5040)])
def test_forget_lists_resolve_from_a_local_copy_with_their_checksum(task, lines, monkeypatch):
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    loaded = TaskIndex(Registry()).load(task)
    path = resolve_ids_file(loaded.config.forget.ids_file_for_ratio(), base=loaded.path.parent, source=task)
    ids = read_ids_file(path)
    assert len(ids) == lines == len(set(ids.tolist()))


@needs_ids
def test_a_ratio_takes_the_first_tenth_of_the_list_per_percent(monkeypatch):
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    listed = read_ids_file(IDS_DIR / "imdb.txt")
    train = Split("train", {"label": np.zeros(25000, dtype=np.int64)}, np.arange(25000))
    for percent in (1, 3, 10):
        index = TaskIndex(Registry(), overrides={"forget.ratio": percent / 100})
        cfg = index.load("mubench-imdb").config
        ids = select_forget_ids(train, train.columns["label"], cfg.forget, source="t", ids_from_file=listed)
        assert np.array_equal(ids, np.sort(listed[:len(listed) * percent // 10]))


@needs_ids
def test_ucf101_masks_are_picked_by_ratio(monkeypatch):
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    counts = {}
    for ratio in (0.01, 0.05, 0.1):
        loaded = TaskIndex(Registry(), overrides={"forget.ratio": ratio}).load("mubench-ucf101")
        mask = read_ids_file(resolve_ids_file(loaded.config.forget.ids_file_for_ratio(), base=loaded.path.parent,
                                              source="ucf101"))
        train = Split("train", {"label": np.zeros(len(mask), dtype=np.int64)}, np.arange(len(mask)))
        ids = select_forget_ids(train, train.columns["label"], loaded.config.forget, source="t", ids_from_file=mask)
        counts[ratio] = len(ids)
        assert len(mask) == 9537 and abs(len(ids) / len(mask) - ratio) < 0.01
    assert counts[0.01] < counts[0.05] < counts[0.1]
    with pytest.raises(ConfigError, match="no file for ratio 0.5"):
        TaskIndex(Registry(), overrides={"forget.ratio": 0.5}).load("mubench-ucf101")


@needs_ids
def test_a_copy_with_the_wrong_checksum_is_refused(monkeypatch, tmp_path):
    (tmp_path / "imdb.txt").write_text((IDS_DIR / "imdb.txt").read_text().replace("1766\n", "1767\n", 1))
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(tmp_path))
    loaded = TaskIndex(Registry()).load("mubench-imdb")
    with pytest.raises(ConfigError, match="forget.ids_file: .*sha256"):
        resolve_ids_file(loaded.config.forget.ids_file_for_ratio(), base=loaded.path.parent, source="imdb")


# ------------------------------------------------------------------ loaders on local stand-ins
def _run(tasks: list[str], tmp_path, overrides: dict, methods=("finetune",), limit=None):
    config = RunConfig(tasks=tasks, methods=list(methods), limit=limit, task_overrides=overrides)
    return Runner(config, Registry(), run_dir=tmp_path / "run").run()


WORDS = {0: "dull boring awful waste", 1: "great moving superb joy"}


@needs_ids
def test_ddi2013_reads_mubench_tsv_files_and_maps_string_labels(monkeypatch, tmp_path):
    """The real ddi2013.yaml on TSV files shaped like MU-Bench's raw_data/ddi (index, text, label name)."""
    names = ["DDI-false", "DDI-mechanism", "DDI-advise", "DDI-effect", "DDI-int"]
    rng = np.random.default_rng(0)
    for split, n in (("train", 25300), ("dev", 50), ("test", 200)):
        rows = []
        for i in range(n):
            c = int(rng.integers(0, 5))
            rows.append(f"{i}\tDRUG_A {names[c].lower()} marker word{c} DRUG_B\t{names[c]}")
        (tmp_path / "ddi").mkdir(exist_ok=True)
        (tmp_path / "ddi" / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("MUBENCH_DATA", str(tmp_path))
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    overrides = {"model": TINY_BERT_DICT(), "dataset.max_examples": {"train": 400, "test": 100}}
    loaded = TaskIndex(Registry(), overrides=overrides).load("mubench-ddi2013")
    data = build_task(loaded, Registry())
    assert data.num_classes == 5 and data.train.columns["label"].dtype == np.int64
    listed = set(read_ids_file(IDS_DIR / "ddi.txt").tolist())
    forget_ids = data.requests[0].forget.ids
    assert len(forget_ids) == 4 and set(forget_ids.tolist()) <= listed  # 1% of the 400 kept, from MU-Bench's list
    results = _run(["mubench-ddi2013"], tmp_path, overrides, methods=("finetune", "ga"))
    seed = results["tasks"]["mubench-ddi2013"]["seeds"]["0"]
    assert seed["original"]["requests"][0]["metrics"]["accuracy"]["test"] > 0.6  # label word in text; chance 0.2
    # MU-Bench's settings (gen_config.py) and its best epoch by unlearn_overall on the held-out dev split
    ga = seed["methods"]["ga"]
    assert (ga["params"]["epochs"], ga["params"]["lr"], ga["params"]["optimizer"]) == (6, 1e-5, "adamw")
    for method, epochs in (("finetune", 8), ("ga", 6)):
        best = seed["methods"][method]["requests"][0]["best_epoch"]
        assert best["split"] == "eval" and best["metric"] == "mubench_overall" and len(best["scores"]) == epochs
        assert best["epoch"] == 1 + int(np.argmax(best["scores"])) and best["score"] == max(best["scores"])
    assert "eval" in seed["methods"]["finetune"]["requests"][0]["metrics"]["accuracy"]


def test_a_label_outside_class_names_is_named(monkeypatch, tmp_path):
    (tmp_path / "ddi").mkdir()
    for split in ("train", "dev", "test"):
        (tmp_path / "ddi" / f"{split}.tsv").write_text("0\tA and B\tDDI-false\n1\tC and D\tDDI-unknown\n")
    monkeypatch.setenv("MUBENCH_DATA", str(tmp_path))
    loaded = TaskIndex(Registry(), overrides={"forget": {"strategy": "random", "ratio": 0.5}}).load("mubench-ddi2013")
    with pytest.raises(ConfigError, match="class_names: label 'DDI-unknown' in split 'train'"):
        build_task(loaded, Registry())


def TINY_BERT_DICT() -> dict:
    import yaml

    return yaml.safe_load(TINY_BERT)


@needs_ids
def test_imdb_loads_its_ood_set_from_another_dataset(monkeypatch, tmp_path):
    """mubench-imdb with local CSVs standing in for stanfordnlp/imdb and rotten_tomatoes (same columns)."""
    rng = np.random.default_rng(1)

    def csv(path, n):
        labels = rng.integers(0, 2, n)
        rows = "".join(f"\"{WORDS[int(y)]} film {i}\",{int(y)}\n" for i, y in enumerate(labels))
        path.write_text("text,label\n" + rows)
        return str(path)

    overrides = {
        "model": TINY_BERT_DICT(),
        "dataset.path": "csv",
        "dataset.data_files": {"train": csv(tmp_path / "train.csv", 25000), "test": csv(tmp_path / "test.csv", 100)},
        "dataset.extra_sources": {"ood": {"path": "csv", "split": "train",
                                          "data_files": {"train": csv(tmp_path / "rt.csv", 60)}}},
        "dataset.max_examples": {"train": 300},
    }
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    results = _run(["mubench-imdb"], tmp_path, overrides)
    accuracy = results["tasks"]["mubench-imdb"]["seeds"]["0"]["methods"]["finetune"]["requests"][0]["metrics"][
        "accuracy"]
    assert {"forget", "retain", "test", "ood"} <= set(accuracy)
    assert accuracy["ood"] > 0.9


@needs_ids
def test_nlvr2_reads_lavis_annotations_and_image_files(monkeypatch, tmp_path):
    """mubench-nlvr2 (unchanged but for the model) on annotation JSON + PNG files laid out like MU-Bench's."""
    from PIL import Image

    images = tmp_path / "nlvr2" / "images"
    images.mkdir(parents=True)
    for k, shade in enumerate((0, 255)):  # a dark and a light image, different sizes, as real photos are
        Image.fromarray(np.full((20 + k * 7, 24, 3), shade, dtype=np.uint8)).save(images / f"img{k}.png")
    rng = np.random.default_rng(2)

    def annotations(n):
        rows = []
        for i in range(n):
            a, b = (int(x) for x in rng.integers(0, 2, 2))
            rows.append({"images": [f"img{a}.png", f"img{b}.png"], "sentence": "both images are the same",
                         "label": "True" if a == b else "False", "identifier": f"id-{i}"})
        return rows

    ann = tmp_path / "nlvr2" / "annotations"
    ann.mkdir()
    for split, n in (("train", 86400), ("test", 40), ("test2", 30), ("dev", 30)):
        (ann / f"{split}.json").write_text(json.dumps(annotations(n)))
    monkeypatch.setenv("MUBENCH_DATA", str(tmp_path))
    monkeypatch.setenv("MU_FORGET_IDS_DIR", str(IDS_DIR))
    vilt = {"name": "hf_vilt_pair", "args": {"image_root": "$MUBENCH_DATA/nlvr2/images", "max_length": 8,
            "encode_size": 8, "config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                         "intermediate_size": 64, "image_size": 8, "patch_size": 4,
                                         "max_position_embeddings": 16}},
            "train": {"epochs": 1, "batch_size": 16, "lr": 0.002, "optimizer": "adamw"}}
    overrides = {"model": vilt, "dataset.max_examples": {"train": 200}}

    # the pair of files in each row becomes the (left, right) pixels, resized to one size; labels map to 0/1
    registry = Registry()
    loaded = TaskIndex(registry, overrides=overrides).load("mubench-nlvr2")
    data = build_task(loaded, registry)
    adapter = registry.model("hf_vilt_pair")(**loaded.config.model.args)
    from mu_registry.api.model import TaskSpec

    spec = TaskSpec("nlvr2", "image-image-text", 2, data.input_columns, data.label_column, {})
    encoded = adapter.encode(data.test, spec)
    pixels = encoded.inputs["pixel_values"]
    assert tuple(pixels.shape[1:]) == (2, 3, 8, 8)
    light = [[p.endswith("img1.png") for p in pair] for pair in data.test.columns["images"]]
    assert np.array_equal(pixels.float().mean(dim=(2, 3, 4)).numpy() > 127, np.asarray(light))
    assert np.array_equal(encoded.labels.numpy(), np.asarray([a == b for a, b in light], dtype=np.int64))

    results = _run(["mubench-nlvr2"], tmp_path, overrides)
    seed = results["tasks"]["mubench-nlvr2"]["seeds"]["0"]
    assert set(seed["original"]["requests"][0]["metrics"]["accuracy"]) >= {"forget", "retain", "test", "ood"}


def _audio_parquet(path, tones: list[tuple[float, int]], rate: int) -> str:
    """A parquet file with a datasets ``Audio`` column (WAV bytes), the form of the Hub's speech datasets."""
    import io

    import datasets
    import soundfile as sf

    cells, labels = [], []
    for freq, label in tones:
        buf = io.BytesIO()
        t = np.arange(rate // 2) / rate
        sf.write(buf, (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="WAV")
        cells.append({"bytes": buf.getvalue(), "path": None})
        labels.append(label)
    d = datasets.Dataset.from_dict({"audio": cells, "label": labels})
    d.cast_column("audio", datasets.Audio(sampling_rate=8000)).to_parquet(str(path))
    return str(path)


def test_audio_columns_decode_with_soundfile_where_torchcodec_is_missing(tmp_path):
    """The speech task's loader on an Audio column recorded at 16 kHz, declared at 8 kHz: arrays at 8 kHz."""
    tones = [(300.0 * (1 + 0.02 * i), 0) for i in range(6)] + [(900.0 * (1 + 0.02 * i), 1) for i in range(6)]
    overrides = {"dataset.path": "parquet", "dataset.name": None, "dataset.load_args": {},
                 "dataset.data_files": {"train": _audio_parquet(tmp_path / "train.parquet", tones, 16000),
                                        "test": _audio_parquet(tmp_path / "test.parquet", tones[:2] + tones[-2:],
                                                               16000)},
                 "num_classes": 2, "forget": {"strategy": "random", "ratio": 0.2}}
    loaded = TaskIndex(Registry(), overrides=overrides).load("mubench-speech-commands")
    data = build_task(loaded, Registry())
    wav = data.train.columns["audio"][0]
    assert isinstance(wav, np.ndarray) and wav.dtype == np.float32
    assert len(wav) == 4000  # half a second, resampled from 16 kHz to the declared 8 kHz
    spectrum = np.abs(np.fft.rfft(wav))
    assert abs(np.argmax(spectrum) * 8000 / len(wav) - 300.0) < 5  # still a 300 Hz tone
    assert sorted(set(data.train.columns["label"].tolist())) == [0, 1]


def test_cifar100_schema_runs_on_an_imagefolder(tmp_path):
    """mubench-cifar100's loader and image model on PNG files (an imagefolder), with a tiny ViT."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for split, n in (("train", 30), ("test", 10)):
        for label, shade in (("dark", 40), ("light", 210)):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(rng.normal(shade, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    vit = {"name": "hf_image", "args": {"encode_size": 8, "config": {
        "model_type": "vit", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 64, "image_size": 8, "patch_size": 4, "num_channels": 3}},
        "train": {"epochs": 5, "batch_size": 16, "lr": 0.003, "optimizer": "adamw"}}
    overrides = {"dataset.path": "imagefolder",
                 "dataset.data_files": {"train": str(tmp_path / "train" / "**"), "test": str(tmp_path / "test" / "**")},
                 "columns": {"inputs": ["image"], "label": "label"}, "num_classes": 2, "model": vit,
                 "forget": {"strategy": "random", "ratio": 0.1}}
    results = _run(["mubench-cifar100"], tmp_path, overrides, methods=("ga",))
    seed = results["tasks"]["mubench-cifar100"]["seeds"]["0"]
    assert seed["original"]["requests"][0]["metrics"]["accuracy"]["test"] > 0.9
    assert "ga" in seed["methods"]


# ----------------------------------------------------------------------------- MLUBench
def test_mlubench_task_reads_the_release_json_into_four_requests(tmp_path, monkeypatch):
    """The real `mlubench` task on the release's JSON in ../shared (images generated for the rows used)."""
    pytest.importorskip("transformers")
    from PIL import Image

    from mu_registry.api.model import TaskSpec
    from mu_registry.data.generative import build_qa_task
    from mu_registry.registry.manager import Registry
    from mu_registry.registry.task_index import TaskIndex
    from mu_registry_plugins.models.tiny_llava import TinyLlava

    monkeypatch.setenv("MLUBENCH_DIR", str(SHARED / "reference" / "mlubench"))
    registry = Registry()
    index = TaskIndex(registry, [], {"dataset.builder_args.image_root": str(tmp_path)})
    loaded = index.load("mlubench")
    index.check(loaded)
    data = build_qa_task(loaded, registry)
    assert [r.name for r in data.requests] == ["A", "B", "C", "D"]
    # originals (variant 0) to unlearn and retain; variants 1-4 of the forget questions for generality
    assert [(len(r.forget), len(r.retain), len(r.paraphrase)) for r in data.requests] == [
        (546, 336, 1896), (450, 294, 1704), (516, 360, 2064), (450, 342, 1800)]
    units = [set(r.forget_units) for r in data.requests]
    assert all(not (units[i] & units[j]) for i in range(4) for j in range(i + 1, 4))
    for r in data.requests:  # paraphrases are about the forgotten entities, not the forget rows themselves
        assert set(r.paraphrase.columns["entity"]) <= set(r.forget_units)
        assert not set(r.paraphrase.columns["qa_id"]) & set(r.forget.columns["qa_id"])
        assert set(r.paraphrase.columns["variant"].tolist()) == {1, 2, 3, 4}
    assert {f"forget_{n}" for n in "ABCD"} <= set(data.eval_sets())

    # a tiny LLaVA reads the rows' images from image_root (generated stand-ins for the release's photos)
    rows = data.requests[0].forget.take(range(6))
    for path in rows.columns["image"]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
    adapter = TinyLlava()
    spec = TaskSpec("mlubench", "image-text", 0, ["question", "image"], "answer", {}, unit_column="entity",
                    form_column="form")
    enc = adapter.encode(rows, spec)
    batch = next(adapter.batches(enc, 8))
    assert batch.pixel_values.shape == (6, 3, 16, 16)
    logits = adapter.forward(adapter.build(spec, 0), batch)
    assert logits.shape[:2] == batch.input_ids.shape
