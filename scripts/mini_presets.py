"""Choose the `mubench-mini` tasks' method presets the way MU-Bench chooses its own, and write them.

MU-Bench (``CLU-UML/MU-Bench`` at 48f5c7b, ``experiment/<dataset>/gen_config.py``) gives every unlearning
method of a dataset one ``template`` (HF Trainer, AdamW, linear decay with no warm-up, the dataset's batch
size and learning rate, which is also the learning rate its original model was trained with) and a few
per-method multipliers; ``load_best_model_at_end`` then keeps the epoch with the best
``unlearn_overall_accuracy`` on an evaluation split. The minis do the same:

* template: AdamW, ``lr_schedule: linear``, the mini's own training batch size, weight decay of the
  MU-Bench dataset the mini stands in for, and ``EPOCHS`` epochs (this project's budget: MU-Bench runs
  6-10 on pretrained backbones; 5 keeps ``mu-eval run --tasks mubench-mini --methods all`` inside
  15 minutes on 2 cores); the Hugging Face Trainer defaults MU-Bench keeps (gradient clipping at 1.0, no
  weight decay on biases or LayerNorm weights), MU-Bench's Bad Teacher batches and GradDiff retain partners,
  and SCRUB's E/4 max- then E/4 min-epochs (its trainer halves the epochs twice), rounded up to whole passes;
* multipliers: those of the stand-in dataset's ``gen_config.py`` (CIFAR-100 for the image mini, IMDB for
  text, NLVR2 for NLVR); MU-Bench publishes none for Speech Commands or UCF101, so the speech and video
  minis take CIFAR-100's (this project's choice);
* best epoch: ``select_best: {metric: mubench_overall, split: eval}`` on a quarter of the test split
  held out (``dataset.holdout``); the reported test split never takes part;
* base learning rate: MU-Bench uses the training learning rate itself. The minis' models are trained
  from scratch at 1e-3-level rates, so the base rate is chosen from ``FACTORS`` x the training rate by
  the mean over methods of the best epoch's MU-Bench score on the evaluation split (a failed method
  counts 0). Only that evaluation-split score is read: no test number enters the choice.

    MU_CACHE_DIR=... python scripts/mini_presets.py    # sweep, choose, write tasks/mubench_mini/_presets_*.yaml
    python scripts/mini_presets.py --write-only        # write the presets at the recorded choice (no runs)

Each written file records in its header every candidate's per-method evaluation-split scores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "tasks" / "mubench_mini"
EPOCHS = 5
FACTORS = (1.0, 0.1, 0.01)
METHODS = ("finetune", "ga", "graddiff", "random_label", "salun", "bad_teacher", "scrub", "l1_sparse", "npo")

#: MU-Bench's per-method settings relative to its template: (lr multiplier, epochs multiplier), from
#: experiment/<dataset>/gen_config.py at 48f5c7b (see tasks/mubench/*.yaml for the full values)
CIFAR100 = {"ga": (5.0, 1.0), "random_label": (10.0, 1.0), "bad_teacher": (10.0, 1.0), "salun": (10.0, 1.0)}
IMDB = {"ga": (0.1, 2.0), "bad_teacher": (2.0, 10 / 6)}  # ga 12 epochs at lr/10, bad_teaching 10 at x2
NLVR2: dict[str, tuple[float, float]] = {}
#: Hugging Face Trainer defaults MU-Bench keeps: gradient clipping at 1.0, no weight decay on biases or LayerNorm
HF_TRAINER = {"max_grad_norm": 1.0, "weight_decay_params": "hf"}
#: the template's version, recorded with each sweep. 1: before HF_TRAINER, MU-Bench's Bad Teacher batching and
#: GradDiff pairing and SCRUB's E/4 budget; 2: with them. A preset file whose recorded sweep ran with an earlier
#: version says so in its header (the factor was then not chosen again).
TEMPLATE = 2
TEMPLATE_CHANGES = {1: "gradient clipping at 1.0, no decay on biases or LayerNorm, Bad Teacher's mixed batches, "
                       "GradDiff's fixed retain partners and SCRUB's E/4 budget"}


@dataclass(frozen=True)
class MiniTemplate:
    task: str
    short: str
    stand_in: str
    train_lr: float  # the mini's training learning rate (MU-Bench's template rate is its training rate)
    batch_size: int  # the mini's training batch size
    weight_decay: float  # the stand-in's template
    multipliers: dict[str, tuple[float, float]] = field(default_factory=dict)
    multipliers_from: str = ""


MINIS = (
    MiniTemplate("mubench-mini-image", "image", "CIFAR-100", 0.002, 64, 1e-4, CIFAR100, "cifar100"),
    MiniTemplate("mubench-mini-text", "text", "IMDB", 0.001, 32, 0.0, IMDB, "imdb"),
    MiniTemplate("mubench-mini-speech", "speech", "Speech Commands", 0.002, 32, 1e-4, CIFAR100,
                 "cifar100 (none published for speech_commands)"),
    MiniTemplate("mubench-mini-video", "video", "UCF101", 0.001, 32, 1e-4, CIFAR100,
                 "cifar100 (none published for ucf101)"),
    MiniTemplate("mubench-mini-nlvr", "nlvr", "NLVR2", 0.001, 32, 0.0, NLVR2, "nlvr2"),
)


def methods_block(t: MiniTemplate, base_lr: float) -> dict[str, dict]:
    """Every method's settings: the template with the stand-in's multipliers."""
    out: dict[str, dict] = {}
    for name in METHODS:
        lr_mult, ep_mult = t.multipliers.get(name, (1.0, 1.0))
        epochs = max(1, round(EPOCHS * ep_mult))
        lr = float(f"{base_lr * lr_mult:.3g}")
        common = {"epochs": epochs, "lr": lr, "optimizer": "adamw", "weight_decay": t.weight_decay,
                  "lr_schedule": "linear", **HF_TRAINER}
        if name == "scrub":  # MU-Bench's scrub trainer halves the epochs twice: E/4 max, then E/4 min (rounded up)
            quarter = math.ceil(epochs / 4)
            out[name] = {"preset": "large_scale", **common, "epochs": quarter, "max_steps": quarter,
                         "forget_batch_size": t.batch_size, "retain_batch_size": t.batch_size, "lr_decay_epochs": []}
            continue
        args = {**common, "batch_size": t.batch_size}
        if name in ("random_label", "salun"):
            args["label_rule"] = "next"  # MU-Bench's (y + 1) mod K, data/base.py
        if name == "npo":
            args["reduction"] = "batch_mean"  # MU-Bench's npo.py
        if name == "bad_teacher":
            args["batching"] = "mixed"  # D_f and |D_f| retain rows in one shuffled set, data/base.py l.357-368
        if name == "graddiff":
            args.update(retain_pairing="fixed", loss_scale=2.0)  # data/base.py l.301-312, trainer/grad_diff.py
        out[name] = args
    return out


def run_candidate(t: MiniTemplate, factor: float, out: Path) -> dict[str, float | None]:
    """One sweep point: every method at ``factor`` x the training rate; each method's best eval score."""
    block = methods_block(t, t.train_lr * factor)
    env = {**os.environ, "MU_PROGRESS": "0"}  # the machine's thread count, as a plain `mu-eval run` uses
    cmd = [sys.executable, "-m", "mu_registry", "run", "--tasks", t.task, "--methods", ",".join(METHODS),
           "--set", "methods=" + json.dumps(block), "--set", "metrics=[accuracy, mubench_overall]",
           "--output", str(out)]
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL)
    (run_dir,) = out.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    seed = results["tasks"][t.task]["seeds"]["0"]
    # CPU training is deterministic for a thread count, not across thread counts: record it
    scores: dict[str, float | None] = {"torch_threads": results["environment"]["torch_threads"]}
    for name in METHODS:
        reqs = seed["methods"].get(name, {}).get("requests", [])
        best = reqs[0].get("best_epoch") if reqs else None
        scores[name] = None if not best or best.get("score") is None else float(best["score"])
        if best:
            scores[name + "@epoch"] = best.get("epoch")
    return scores


def mean_score(scores: dict[str, float | None]) -> float:
    return sum((scores.get(m) or 0.0) for m in METHODS) / len(METHODS)


def write_presets(t: MiniTemplate, factor: float, sweep: dict[float, dict[str, float | None]] | None,
                  template: int = TEMPLATE) -> Path:
    path = TASKS / f"_presets_{t.short}.yaml"
    intro = (f"MU-Bench's procedure (experiment/*/gen_config.py at CLU-UML/MU-Bench@48f5c7b): one template for "
             f"every method (AdamW, linear decay to 0 with no warm-up, the mini's training batch size {t.batch_size}, "
             f"{EPOCHS} epochs, weight decay {t.weight_decay}; HF Trainer's gradient clipping at 1.0 and no decay on "
             f"biases or LayerNorm; SCRUB E/4 max- and E/4 min-epochs, rounded up, as MU-Bench's scrub trainer halves "
             f"the epochs twice) with the weight decay and per-method multipliers of "
             f"MU-Bench's {t.multipliers_from}; the mini stands in for {t.stand_in}. Best epoch by mubench_overall on "
             f"the held-out evaluation split. Base learning rate = factor x the mini's training rate ({t.train_lr}), "
             "the factor chosen by the mean over methods of the best epoch's evaluation-split score (no test number "
             "read):")
    lines = [f"# GENERATED by scripts/mini_presets.py: the method presets of {t.task} (do not edit by hand)."]
    lines += ["# " + part for part in textwrap.wrap(intro, 112)]
    if sweep:
        for f in sorted(sweep, reverse=True):  # factors from the largest
            scores = sweep[f]
            per = ", ".join(f"{m} {scores[m]:.3f}" if scores.get(m) is not None else f"{m} failed" for m in METHODS)
            text = f"factor {f:g}: mean {mean_score(scores):.3f} ({per})"
            lines += ["#   " + part for part in textwrap.wrap(text, 110, subsequent_indent="  ")]
    threads = {s.get("torch_threads") for s in (sweep or {}).values()}
    if threads:
        listed = ", ".join(str(n) for n in sorted(threads, key=str))
        lines.append(f"# (references trained and methods run with torch threads: {listed})")
    lines.append(f"# chosen: factor {factor:g}, base lr {float(f'{t.train_lr * factor:.3g}'):g}")
    if template != TEMPLATE:
        later = "; ".join(TEMPLATE_CHANGES[v] for v in range(template, TEMPLATE))
        note = (f"note: the sweep above ran with template version {template}, before {later}; the factor was not "
                f"chosen again with version {TEMPLATE} (run scripts/mini_presets.py without --write-only to do so)")
        lines += ["# " + part for part in textwrap.wrap(note, 112)]
    body = yaml.safe_dump({"methods": methods_block(t, t.train_lr * factor)}, default_flow_style=None, sort_keys=False,
                          width=116)
    path.write_text("\n".join(lines) + "\n" + body)
    return path


RECORD = ROOT / "scripts" / "mini_presets_selection.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1, help="sweep points run at once (set OMP_NUM_THREADS to share "
                    "the cores; the thread count can change the trained models, so it is recorded)")
    ap.add_argument("--tasks", default=",".join(t.short for t in MINIS), help="minis, by short name")
    ap.add_argument("--write-only", action="store_true", help="write the presets from the recorded selection")
    args = ap.parse_args()
    chosen = [t for t in MINIS if t.short in args.tasks.split(",")]
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    if not args.write_only:
        with tempfile.TemporaryDirectory() as tmp:
            points = [(t, f) for t in chosen for f in FACTORS]
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                futures = {(t.short, f): pool.submit(run_candidate, t, f, Path(tmp) / f"{t.short}-{f:g}")
                           for t, f in points}
            for t in chosen:
                sweep = {str(f): futures[(t.short, f)].result() for f in FACTORS}
                best = max(FACTORS, key=lambda f: mean_score(sweep[str(f)]))  # ties: the first (largest) factor
                record[t.short] = {"factor": best, "sweep": sweep, "template": TEMPLATE}
                print(f"{t.task}: " + ", ".join(f"x{f:g} {mean_score(sweep[str(f)]):.3f}" for f in FACTORS)
                      + f" -> x{best:g}")
        RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    for t in chosen:
        rec = record.get(t.short)
        if rec is None:
            raise SystemExit(f"{RECORD}: no recorded selection for '{t.short}'; run without --write-only")
        sweep = {float(f): s for f, s in rec["sweep"].items()}
        print("wrote", write_presets(t, rec["factor"], sweep, rec.get("template", 1)).relative_to(ROOT))


if __name__ == "__main__":
    main()
