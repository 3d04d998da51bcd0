"""PULSE on MLLMU-Bench's schema: the `mllmu_bench` reader and the real `pulse-*` task files, run on a small
local stand-in (parquet folders laid out like the Hub dataset) with a tiny LLaVA, multiple choice scored by
log-likelihood (the variant; the tiny model learns option texts, not letters), MLLMU-Bench's letter scoring on
hand-written answers, and the pre-trained scenario's choice of the entities the model knows best."""

from __future__ import annotations

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")
pytest.importorskip("transformers")
pytest.importorskip("peft")
PIL = pytest.importorskip("PIL.Image")

import torch  # noqa: E402

from mu_registry.registry.manager import Registry  # noqa: E402
from mu_registry.run.runner import RunConfig, Runner  # noqa: E402

FIELDS = ("birthplace", "job", "hobby", "pet")
VALUES = {"birthplace": ["Oslo", "Lima", "Pune", "Kyiv", "Quito", "Accra"],
          "job": ["baker", "pilot", "nurse", "judge", "miner", "tailor"],
          "hobby": ["chess", "rowing", "poetry", "karate", "sailing", "origami"],
          "pet": ["cat", "parrot", "turtle", "goat", "horse", "rabbit"]}


def _profile(pid: str, name: str, rng: np.random.Generator) -> dict:
    facts = {f: str(rng.choice(VALUES[f])) for f in FIELDS}
    color = tuple(int(c) for c in rng.integers(0, 256, 3))

    def mcq(subject: str) -> list[dict]:
        out = []
        for f in FIELDS:
            options = [facts[f]] + [v for v in VALUES[f] if v != facts[f]][:3]
            order = rng.permutation(4)
            letters = "ABCD"
            opts = {letters[i]: options[j] for i, j in enumerate(order)}
            correct = letters[int(np.flatnonzero(order == 0)[0])]
            out.append({"Question": f"What is the {f} of {subject}?", "Options": opts, "Correct_Answer": correct})
        return out

    return {"image": PIL.new("RGB", (24, 24), color), "ID": pid, "biography": f"{name} is a person.",
            "question": f"Who is {name}?", "answer": name,
            "Classification_Task": {"Image_Textual_Questions": mcq("the person in this image"),
                                    "Pure_Text_Questions": mcq(name)}}


def _write(folder, config: str, rows: list[dict]) -> None:
    opt = datasets.Features({k: datasets.Value("string") for k in "ABCD"})
    q = [{"Correct_Answer": datasets.Value("string"), "Options": opt, "Question": datasets.Value("string")}]
    features = datasets.Features({
        "image": datasets.Image(), "ID": datasets.Value("string"), "biography": datasets.Value("string"),
        "question": datasets.Value("string"), "answer": datasets.Value("string"),
        "Classification_Task": {"Image_Textual_Questions": q, "Pure_Text_Questions": q}})
    (folder / config).mkdir(parents=True, exist_ok=True)
    path = folder / config / "train-00000-of-00001.parquet"
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mllmu")
    rng = np.random.default_rng(0)
    fictitious = [_profile(f"{i}", f"Fict{i}", rng) for i in range(8)]
    real = [_profile(f"r{i}", f"Real{i}", rng) for i in range(10)]
    _write(folder, "Full_Set", fictitious)
    _write(folder, "forget_10", fictitious[:4])
    _write(folder, "Retain_Set", real)
    return folder


def test_reader_turns_profiles_into_multiple_choice_rows(standin):
    splits = Registry().dataset("mllmu_bench")(path=str(standin))
    fict, real = splits["fictitious"], splits["real"]
    assert len(fict) == 8 * 8 and len(real) == 10 * 8  # 4 image+text and 4 text-only questions a profile
    assert set(fict.columns["form"]) == {"multimodal", "text"}
    for i in range(len(fict)):
        assert fict.columns["answer"][i] in fict.columns["options"][i] and len(fict.columns["options"][i]) == 4
        assert (fict.columns["image"][i] is None) == (fict.columns["form"][i] == "text")
    forget = {e for e, f in zip(fict.columns["entity"], fict.columns["in_forget"]) if f == "True"}
    assert forget == {"0", "1", "2", "3"}
    assert fict.columns["image"][0].shape == (3, 24, 24)


def test_pulse_tasks_run_on_the_standin(standin, tmp_path):
    overrides = {"dataset.builder_args.path": str(standin), "model.name": "tiny_llava",
                 "model.args": {"hidden_size": 64, "layers": 2, "heads": 2},
                 "model.train": {"epochs": 40, "batch_size": 16, "lr": 0.003, "optimizer": "adamw"},
                 "model.finetune": None, "eval_batch_size": 64,
                 # the tiny model learns the option texts, not letters: scored by likelihood (the variant),
                 # without MLLMU-Bench's lettered one-shot example (tests/test_decoding.py checks that one)
                 "generation.choice_scoring": "likelihood", "generation.one_shot": False,
                 "methods": {"ga": {"lr": 0.002, "epochs": 3}}}

    def run(task: str, **more) -> dict:
        cfg = RunConfig(tasks=[task], methods=["ga"], task_overrides={**overrides, **more})
        return Runner(cfg, Registry(), run_dir=tmp_path / task).run()

    results = run("pulse-finetuned", **{"lifelong.requests": 2, "lifelong.forget_units": 2,
                                        "lifelong.retain_units": 2,
                                        "general_benchmarks": {"tasks": ["mu_antonyms"], "limit": 12}})
    fine = results["tasks"]["pulse-finetuned"]
    assert fine["choice_scoring"] == "likelihood"  # which scoring was used is recorded
    assert all(set(r["forget_units"]) <= {"0", "1", "2", "3"} for r in fine["requests"])
    seed = fine["seeds"]["0"]
    orig, after = seed["original"]["metrics"], seed["methods"]["ga"]["requests"][-1]["metrics"]
    assert set(orig["forget_0"]) >= {"accuracy", "nll", "by_form"} and "forget_quality" not in orig["forget_0"]
    assert orig["forget_0"]["accuracy"] > 0.6  # the facts were learned (chance is 0.25)
    assert after["forget_0"]["nll"] > orig["forget_0"]["nll"]  # and unlearned
    # lm-eval's general benchmark on the model in memory, for the original and after every request
    records = [seed["original"], *seed["methods"]["ga"]["requests"]]
    assert len(records) == 3
    for rec in records:
        assert set(rec["benchmarks"]) == {"mu_antonyms"} and 0 <= rec["benchmarks"]["mu_antonyms"]["acc"] <= 1
        assert rec["summary"]["general_benchmark"] == rec["benchmarks"]["mu_antonyms"]["acc"]
    assert "lm-eval general" in (tmp_path / "pulse-finetuned" / "results.md").read_text()

    # pre-trained scenario at this scale: the 6 best-known of 10 real people, 2 requests x 1 forgotten
    pre = run("pulse-pretrained", **{"lifelong.requests": 2, "lifelong.forget_units": 1, "lifelong.retain_units": 2,
                                     "lifelong.select_known": 6})["tasks"]["pulse-pretrained"]
    known = pre["known_units"]
    assert len(known) == 6 and all(set(r["forget_units"]) <= set(known) for r in pre["requests"])
    assert pre["sizes"]["general"] == 4 * 8  # the 4 least-known people are the general set


def test_multiple_choice_as_mllmu_bench_eval_reads_the_generated_letter():
    from mu_registry.api.generative_model import letter_prompt, parse_letter
    from mu_registry.api.qa import EncodedQA
    from mu_registry.evaluation.generative import answer_sets, choice_correct, grade_sets

    assert letter_prompt("Where?", ["Oslo", "Lima"]) == ("Where?\nA: Oslo\nB: Lima\n"
                                                         "Just give ONE letter representing the answer directly.")
    opts = ["Oslo", "Lima", "Pune", "Kyiv"]
    # eval.py: the first character of the stripped answer, upper-cased, must be an option letter
    cases = [("B", True), (" b) Lima", True), ("Lima", False),  # "L" is no option letter: wrong
             ("A", False), ("", False), ("E", False), ("Because B", True)]  # "Because B" reads as B
    for answer, right in cases:
        assert choice_correct(answer, opts, "Lima") is right, answer
    assert parse_letter("d", 4) == 3 and parse_letter("d", 3) is None
    assert choice_correct("Lima", opts, "Lima", "likelihood") and not choice_correct("B", opts, "Lima", "likelihood")

    class Stub:  # an engine whose greedy answers are fixed
        def sync(self, model):
            pass

        def generate(self, data, *, max_new_tokens, stop=(), adapter=None):
            return ["B", "Lima", "c", "zzz"][:len(data)]

        def loglikelihood(self, data, *, adapter=None):
            return np.ones(len(data))

        def choose(self, data, *, adapter=None):
            raise AssertionError("letter scoring never ranks options by likelihood")

    n = 4
    data = EncodedQA("forget_0", [[1]] * n, [[2]] * n, ["Lima", "Lima", "Pune", "Oslo"], ["q"] * n, [None] * n,
                     ["e"] * n, ["text"] * n, np.arange(n), [opts] * n)
    got = answer_sets(Stub(), torch.nn.Linear(1, 1), {"forget_0": data}, route=None, max_new_tokens=5, mode="choice")
    assert got["forget_0"].answers == ["B", "Lima", "c", "zzz"]
    graded = grade_sets({"forget_0": data}, got, None)
    assert graded["forget_0"]["accuracy"] == 0.5  # B=Lima right, "Lima" no letter, c=Pune right, zzz no letter
