"""Reader for the MLUBench release as published (groundwork for issue 4's `mlubench` task).

The release holds LLaVA conversation JSON:

* ``Entities/variants_<Entity>_updated.json``: every entity's questions and answers, with
  paraphrase variants of the questions;
* ``Tasks/Task{A..D}/task{A..D}_{forget,retain}.json``: the four lifelong requests, each with its
  forget and retain sets.

Question ``n``'s paraphrase variant ``k`` has id ``k * 100000 + n`` (column ``variant``); each task's
forget and retain files hold the originals and four variant families.

Each record is ``{"id", "image": "downloaded_images/<Class>/<Entity>/<file>", "conversations":
[{"from": "human", "value": "<image>\\n<question>"}, {"from": "gpt", "value": "<answer>"}]}``;
class and entity come from the image path. Images are the benchmark's own download, which the user
points to with ``image_root``: only their paths are read here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from mu_registry import MuError, Split, expand_path, source_dir

COLUMNS = ("qa_id", "question", "answer", "image_path", "entity_class", "entity", "has_image", "form", "image",
           "variant")


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise MuError(f"MLUBench file {path} not found; give dataset.builder_args.root (the unzipped release)") \
            from None
    except json.JSONDecodeError as exc:
        raise MuError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise MuError(f"{path}: expected a list of conversations")
    return data


def parse_record(rec: dict[str, Any], source: str) -> dict[str, Any]:
    """One conversation as a flat row (question without the ``<image>`` marker, answer, class, entity)."""
    try:
        human, gpt = rec["conversations"][0]["value"], rec["conversations"][1]["value"]
        image = rec.get("image") or ""
    except (KeyError, IndexError, TypeError):
        raise MuError(f"{source}: record {rec.get('id', '?')!r} is not a human/gpt conversation") from None
    parts = image.split("/")
    if len(parts) < 4:
        raise MuError(f"{source}: record {rec.get('id', '?')!r}: image path {image!r} is not "
                      "downloaded_images/<Class>/<Entity>/<file>")
    has_image = "<image>" in human
    return {"qa_id": str(rec.get("id", "")), "question": human.replace("<image>", "").strip(), "answer": gpt.strip(),
            "image_path": image, "entity_class": parts[-3], "entity": parts[-2].replace("_", " "),
            "has_image": has_image, "form": "multimodal" if has_image else "text", "image": image,
            "variant": _variant(rec.get("id"))}


def _variant(qa_id: Any) -> int:
    """The release numbers paraphrase variant k of question n as k * 100000 + n (k = 0: the original)."""
    try:
        return int(qa_id) // 100000
    except (TypeError, ValueError):
        return 0


def _split(name: str, rows: list[dict[str, Any]], image_root: Path | None) -> Split:
    cols: dict[str, Any] = {c: [r[c] for r in rows] for c in COLUMNS}
    if image_root is not None:  # the image column holds file paths; models read them per batch
        cols["image"] = [str(image_root / p) for p in cols["image"]]
    cols["has_image"] = np.asarray(cols["has_image"], dtype=bool)
    cols["variant"] = np.asarray(cols["variant"], dtype=np.int64)
    return Split(name, cols, np.arange(len(rows), dtype=np.int64))


def release_folder(root: str | None) -> Path:
    """``root`` (``~`` and ``$VARS`` expanded); an unset variable in it (``$MLUBENCH_DIR``), or no root,
    means where ``mu-eval data get mlubench`` puts the release. Missing: one line naming the expanded
    path and the command that fetches it."""
    given = root or os.environ.get("MLUBENCH_DIR", "")
    base = expand_path(given) if given else None
    if base is None or "$" in str(base):
        unset = f" ({given} is not set)" if given and "$" in str(base) else ""
        base = source_dir("mlubench")
    else:
        unset = ""
    if not base.is_dir():
        raise MuError(f"MLUBench release folder {base} not found{unset}; get it with `mu-eval data get mlubench` "
                      "(or set $MLUBENCH_DIR to the unzipped release)")
    return base


def _preflight(root: str | None = None, **_: Any) -> None:
    """What planning checks before anything trains: the release folder is there (see release_folder)."""
    release_folder(root)


def mlubench_release(root: str | None = None, tasks: list[str] | None = None,
                     image_root: str | None = None) -> dict[str, Split]:
    """Splits ``task<X>_forget`` / ``task<X>_retain`` for each request X (A..D by default, in that order)
    and ``entities`` (every entity's QA with paraphrase variants).

    ``image_root`` is the folder holding the release's ``downloaded_images/`` (default: ``root``);
    the ``image`` column is each row's image file there (read when a batch needs it)."""
    base = release_folder(root)
    images = expand_path(image_root) if image_root else base
    out: dict[str, Split] = {}
    for task in tasks or ["A", "B", "C", "D"]:
        for part in ("forget", "retain"):
            path = base / "Tasks" / f"Task{task}" / f"task{task}_{part}.json"
            out[f"task{task}_{part}"] = _split(f"task{task}_{part}", [parse_record(r, str(path))
                                                                      for r in _records(path)], images)
    rows: list[dict[str, Any]] = []
    for path in sorted((base / "Entities").glob("variants_*_updated.json")):
        rows += [parse_record(r, str(path)) for r in _records(path)]
    if not rows:
        raise MuError(f"{base / 'Entities'}: no variants_<Entity>_updated.json files")
    out["entities"] = _split("entities", rows, images)
    return out


mlubench_release.preflight = _preflight  # type: ignore[attr-defined]
