"""lmms-eval on the model in memory: MMBench's own prompt, option extraction and scoring (lmms-eval's
``mmbench_en_dev_static`` functions) on a local stand-in of MMBench's data (no hub), answered by this
harness's engine through the model plugin."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write

pytest.importorskip("transformers")
try:  # lmms-eval beside torch's CPU build: see the README (CI runs this file in a venv of its own)
    import lmms_eval.evaluator  # noqa: F401
except Exception as exc:  # noqa: BLE001 - ImportError, or torchvision's RuntimeError on CPU torch
    pytest.skip(f"lmms-eval not usable here: {type(exc).__name__}: {exc}", allow_module_level=True)

QUESTIONS = [  # question, options A-D, answer
    ("What colour is the square?", ["red", "green", "blue", "black"], "C"),
    ("How many circles are there?", ["one", "two", "three", "four"], "A"),
    ("Which shape is on the left?", ["star", "square", "circle", "cross"], "D"),
    ("Is the background dark?", ["yes", "no", "partly", "unknown"], "B"),
]

TASK = """
task: mu_mmbench_standin
dataset_path: {data}
dataset_kwargs: {{load_from_disk: true}}
test_split: dev
output_type: generate_until
doc_to_visual: !function utils.mmbench_doc_to_visual
doc_to_text: !function utils.mmbench_doc_to_text
doc_to_target: "answer"
process_results: !function utils.mmbench_process_results
generation_kwargs: {{until: ["ASSISTANT:"], max_new_tokens: 8, temperature: 0, do_sample: false}}
lmms_eval_specific_kwargs:
  default: {{pre_prompt: "", post_prompt: "\\nAnswer with the option's letter from the given choices directly."}}
metric_list:
  - metric: gpt_eval_score
    aggregation: !function utils.mmbench_aggregate_dev_results_static
    higher_is_better: true
metadata: {{version: 0}}
"""

# MMBench's functions as lmms-eval ships them for mmbench_en_dev_static
UTILS = """from lmms_eval.tasks.mmbench.en_utils import (mmbench_aggregate_dev_results_static,  # noqa: F401
                                               mmbench_doc_to_text, mmbench_doc_to_visual, mmbench_process_results)
"""


@pytest.fixture
def mmbench_standin(tmp_path):
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = {"index": [], "question": [], "hint": [], "A": [], "B": [], "C": [], "D": [], "answer": [],
            "category": [], "L2-category": [], "source": [], "split": [], "image": []}
    for i, (q, opts, ans) in enumerate(QUESTIONS):
        for key, value in (("index", i), ("question", q), ("hint", "nan"), ("answer", ans), ("category", "shapes"),
                           ("L2-category", "perception"), ("source", "stand-in"), ("split", "dev")):
            rows[key].append(value)
        for letter, opt in zip("ABCD", opts):
            rows[letter].append(opt)
        rows["image"].append(Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)))
    features = datasets.Features({**{k: datasets.Value("string") for k in rows if k not in ("index", "image")},
                                  "index": datasets.Value("int64"), "image": datasets.Image()})
    data = tmp_path / "mmbench_data"
    datasets.DatasetDict({"dev": datasets.Dataset.from_dict(rows, features=features)}).save_to_disk(str(data))
    folder = tmp_path / "lmms_tasks"
    write(folder / "mu_mmbench_standin.yaml", TASK.format(data=data))
    write(folder / "utils.py", UTILS)
    return folder


class ScriptedEngine:
    """An engine that answers by a script and records what it was asked."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def generate(self, enc, *, max_new_tokens, stop, adapter):
        self.asked.append((list(enc.questions), list(enc.images), max_new_tokens, stop))
        return [self.answers(q) for q in enc.questions]


def test_mmbench_scored_by_lmms_eval_on_the_model_in_memory(mmbench_standin):
    from mu_registry.evaluation.benchmarks.lmms_eval import primary, run
    from mu_registry_plugins.models.tiny_llava import TinyLlava

    adapter = TinyLlava()

    def answer(question):  # right on the first three questions, wrong on the last
        for q, _, ans in QUESTIONS[:3]:
            if q in question:
                return f"{ans}."
        return "A"

    engine = ScriptedEngine(answer)
    out = run(engine, adapter, None, ["mu_mmbench_standin"], include_paths=[mmbench_standin], max_new_tokens=16)
    assert primary(out["mu_mmbench_standin"]) == pytest.approx(0.75)  # MMBench's static extraction: 3 of 4
    questions, images, limit, stop = engine.asked[0]
    assert len(questions) == 4 and limit == 8 and stop == ("ASSISTANT:",)
    # MMBench's prompt: the question, "There are several options:", the lettered options, the post prompt
    first = next(q for q in questions if QUESTIONS[0][0] in q)
    assert "There are several options:\nA. red\nB. green\nC. blue\nD. black" in first
    assert first.endswith("Answer with the option's letter from the given choices directly.")
    assert all(img.shape == (3, 20, 20) and img.dtype == np.uint8 for img in images)


def test_a_tiny_llava_answers_mmbench_through_the_transformers_engine(mmbench_standin):
    import torch

    from mu_registry.evaluation.engines import make_engine
    from mu_registry.evaluation.benchmarks.lmms_eval import primary, run
    from mu_registry.api.model import TaskSpec
    from mu_registry_plugins.models.tiny_llava import TinyLlava

    adapter = TinyLlava(hidden_size=32, layers=1, heads=2)
    spec = TaskSpec("t", "image-text", 0, ["question", "image"], "answer", {}, form_column="form")
    module = adapter.build(spec, 0).eval()
    engine = make_engine("transformers", adapter, module, device=torch.device("cpu"), batch_size=4)
    engine.sync(module)
    out = run(engine, adapter, module, ["mu_mmbench_standin"], include_paths=[mmbench_standin], max_new_tokens=4)
    score = primary(out["mu_mmbench_standin"])
    assert score is not None and 0.0 <= score <= 1.0


LIFELONG = """
task: lmms-tiny
task_type: generation
modality: image-text
dataset:
  builder: entity_world
  builder_args: {{entities: 9, images_per_entity: 1, paraphrases: 2, train_paraphrases: 1, seed: 0}}
columns: {{inputs: [question, image], label: answer, unit: entity, form: form}}
lifelong: {{requests: 1, forget_units: 1, retain_units: 1, paraphrase_split: test}}
model:
  name: tiny_llava
  args: {{hidden_size: 32, layers: 1, heads: 2}}
  train: {{epochs: 1, batch_size: 32, lr: 0.003, optimizer: adamw}}
generation: {{max_new_tokens: 4}}
lmms_benchmarks: {{tasks: [mu_mmbench_standin], include_path: ['{tasks}'], max_new_tokens: 4}}
methods:
  ga: {{lr: 0.001, epochs: 1}}
"""


def test_a_lifelong_run_records_mmbench_through_lmms_eval_after_every_request(mmbench_standin, tmp_path):
    import json

    from conftest import run_cli

    folder = tmp_path / "tasks"
    write(folder / "tiny.yaml", LIFELONG.format(tasks=mmbench_standin))
    proc = run_cli("run", "--tasks", "lmms-tiny", "--methods", "ga", "--include-path", str(folder),
                   "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next((tmp_path / "out").glob("*/results.json")).read_text())
    seed = results["tasks"]["lmms-tiny"]["seeds"]["0"]
    for record in (seed["original"], seed["methods"]["ga"]["requests"][0]):
        assert set(record["lmms_benchmarks"]) == {"mu_mmbench_standin"}
        assert 0.0 <= record["summary"]["mmbench"] <= 1.0
