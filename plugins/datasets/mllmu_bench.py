"""Reader for MLLMU-Bench (Liu et al. 2024; Hugging Face dataset ``MLLMMU/MLLMU-Bench``), the data PULSE uses.

Each row of a config is one profile: ``image``, ``ID``, ``biography``, ``question``, ``answer`` and
``Classification_Task`` with ``Image_Textual_Questions`` and ``Pure_Text_Questions``, lists of
``{Question, Options: {A, B, C, D}, Correct_Answer}``. Configs used here: ``Full_Set`` (the 500
fictitious profiles), ``forget_5`` / ``forget_10`` / ``forget_15`` (which of them are to be
forgotten) and ``Retain_Set`` (153 real celebrities).

Every multiple-choice question becomes one row: ``question``, ``options`` (the four option texts in
A-D order), ``answer`` (the correct option's text), ``image`` (the profile's image for an
image+text question, ``None`` for a text-only one), ``form`` (``multimodal`` / ``text``), ``entity``
(the profile's ID), ``in_forget`` (``"True"`` for fictitious profiles in the forget config).

``path`` is the Hub id (network) or a local folder holding ``<config>/*.parquet`` (the Hub's layout).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mu_registry import MuError, Split, expand_path, hub_problem, source_dir

HUB_ID = "MLLMMU/MLLMU-Bench"  # the Hub dataset (as in mu_registry.data.sources.MLLMU_REPO)
FORMS = {"Image_Textual_Questions": "multimodal", "Pure_Text_Questions": "text"}


def _load(path: str, config: str, revision: str | None):
    try:
        import datasets
    except ImportError:
        raise MuError("mllmu_bench needs the datasets package: pip install 'mu-registry[hf]'") from None
    local = expand_path(path)
    if not local.exists() and path == HUB_ID and source_dir("pulse").is_dir():
        local = source_dir("pulse")  # fetched by `mu-eval data get pulse`
    if local.exists():
        files = sorted(str(p) for p in (local / config).glob("*.parquet"))
        if not files:
            raise MuError(f"mllmu_bench: no {local / config}/*.parquet (config '{config}')")
        return datasets.load_dataset("parquet", data_files={"train": files}, split="train")
    try:
        return datasets.load_dataset(path, config, split="train", revision=revision)
    except Exception as exc:  # offline, or no such dataset
        raise MuError(f"MLLMU-Bench {path!r} config {config!r}: not a local folder, and the Hub gave "
                      f"{type(exc).__name__}; get it with `mu-eval data get pulse` (into {source_dir('pulse')}) "
                      "or give dataset.builder_args.path a local copy") from None


def _image(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value.convert("RGB")) if hasattr(value, "convert") else np.asarray(value)
    return arr.transpose(2, 0, 1).copy() if arr.ndim == 3 and arr.shape[-1] in (1, 3) else arr


def _rows(table, source: str, forget_ids: set[str], what: str) -> dict[str, list]:
    cols: dict[str, list] = {k: [] for k in ("question", "options", "answer", "image", "form", "entity", "source",
                                             "in_forget")}
    for rec in table:
        pid = str(rec.get("ID"))
        tasks = rec.get("Classification_Task") or {}
        image = None
        for key, form in FORMS.items():
            for q in tasks.get(key) or []:
                try:
                    opts = q["Options"]
                    letters = sorted(opts)
                    texts = [str(opts[k]) for k in letters]
                    correct = str(q["Correct_Answer"]).strip()
                    answer = texts[letters.index(correct)] if correct in letters else correct
                except (KeyError, TypeError, ValueError):
                    raise MuError(f"mllmu_bench {what}: profile {pid}: a {key} entry is not "
                                  "{Question, Options: {A..D}, Correct_Answer}") from None
                if answer not in texts:
                    raise MuError(f"mllmu_bench {what}: profile {pid}: correct answer {correct!r} is not an option")
                if form == "multimodal" and image is None:
                    image = _image(rec.get("image"))
                cols["question"].append(str(q["Question"]))
                cols["options"].append(texts)
                cols["answer"].append(answer)
                cols["image"].append(image if form == "multimodal" else None)
                cols["form"].append(form)
                cols["entity"].append(pid)
                cols["source"].append(source)
                cols["in_forget"].append(str(pid in forget_ids))
    return cols


def _preflight(path: str = HUB_ID, **_: Any) -> None:
    """Planning's check: a local copy (the path, or where `mu-eval data get pulse` puts it), the Hugging Face
    cache, or a reachable Hub; else one line naming the folder and the command that fills it."""
    if expand_path(path).exists() or (path == HUB_ID and source_dir("pulse").is_dir()):
        return
    problem = hub_problem(path, "dataset", "mllmu_bench (PULSE's data)",
                          f"get it with `mu-eval data get pulse` (into {source_dir('pulse')})")
    if problem:
        raise MuError(problem)


def mllmu_bench(path: str = HUB_ID, forget: str = "forget_10", fictitious: str = "Full_Set",
                real: str = "Retain_Set", revision: str | None = None) -> dict[str, Split]:
    """Splits ``fictitious`` (every fictitious profile's questions, ``in_forget`` marking the forget
    config's profiles) and ``real`` (the real celebrities' questions)."""
    forget_ids = {str(r["ID"]) for r in _load(path, forget, revision)}
    out = {}
    for name, config, source in (("fictitious", fictitious, "fictitious"), ("real", real, "real")):
        cols = _rows(_load(path, config, revision), source, forget_ids if source == "fictitious" else set(), config)
        if not cols["question"]:
            raise MuError(f"mllmu_bench: config '{config}' has no Classification_Task questions")
        out[name] = Split(name, cols, np.arange(len(cols["question"]), dtype=np.int64))
    return out


mllmu_bench.preflight = _preflight  # type: ignore[attr-defined]
