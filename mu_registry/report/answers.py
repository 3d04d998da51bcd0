"""What a forget-quality number is made of: ``mu-eval report RUN_DIR --answers``.

A generative run writes every answer of every evaluation to
``RUN_DIR/answers/<task>/seed<s>/<who>/request<k>.jsonl`` (``who``: ``original`` or a method), each with
its grade and the judge's rule (``why``). This module reads them back and shows, per task, method and
request, how many answers each rule decided for the forget sets and for the utility sets, and a fixed
sample of answers with their grades; the same as an HTML page beside ``results.json``.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu_registry.util.atomic import atomic_write_text
from mu_registry.util.errors import MuError

_REQUEST = re.compile(r"request(\d+)\.jsonl$")


@dataclass
class Evaluation:
    task: str
    seed: str
    who: str
    request: int
    path: Path
    rows: list[dict[str, Any]]

    def groups(self) -> dict[str, list[dict[str, Any]]]:
        """The answers by aspect: ``forget`` (forget and paraphrase sets), ``utility`` (retain and general sets),
        ``choice`` (multiple choice, no judge)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            if "correct" in row:
                key = "choice"
            elif row.get("forget") is not None or str(row.get("set", "")).startswith(("forget_", "paraphrase_")):
                key = "forget"
            else:
                key = "utility"
            out.setdefault(key, []).append(row)
        return out


def read_evaluations(run_dir: Path) -> list[Evaluation]:
    root = run_dir / "answers"
    if not root.is_dir():
        raise MuError(f"{run_dir}: no answers/ folder (answers are written by generative tasks only)")
    found = []
    for path in sorted(root.glob("*/seed*/*/request*.jsonl")):
        match = _REQUEST.search(path.name)
        if match is None:
            continue
        task, seed, who = path.parts[-4], path.parts[-3], path.parts[-2]
        try:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, json.JSONDecodeError) as exc:
            raise MuError(f"{path}: unreadable answer file ({exc})") from None
        found.append(Evaluation(task, seed, who, int(match.group(1)), path, rows))
    order = {"original": 0}
    found.sort(key=lambda e: (e.task, e.seed, order.get(e.who, 1), e.who, e.request))
    return found


def _grade_of(row: dict[str, Any], aspect: str) -> str:
    if aspect == "choice":
        return "correct" if row.get("correct") else "wrong"
    value = row.get(aspect)
    return "ungraded" if value is None else str(value)


def _score(rows: list[dict[str, Any]], aspect: str) -> float | None:
    if aspect == "choice":
        return sum(bool(r.get("correct")) for r in rows) / len(rows) if rows else None
    given = [r[aspect] for r in rows if r.get(aspect) is not None]
    return sum(given) / (2 * len(given)) if given else None


def sample_rows(rows: list[dict[str, Any]], k: int, key: str) -> list[dict[str, Any]]:
    """``k`` rows drawn with a fixed seed (the same sample every time the report is made)."""
    if len(rows) <= k:
        return list(rows)
    return random.Random(key).sample(rows, k)


def render_text(evals: list[Evaluation], sample: int = 3) -> str:
    names = {"forget": "forget quality", "utility": "utility", "choice": "choice accuracy"}
    lines = []
    for ev in evals:
        lines.append(f"== {ev.task} / {ev.seed} / {ev.who} / request {ev.request}  ({ev.path})")
        for aspect, rows in ev.groups().items():
            score = _score(rows, aspect)
            rules = Counter(str(r.get("rule") or _grade_of(r, aspect)) for r in rows)
            head = f"  {aspect} sets: {names[aspect]} " + ("-" if score is None else f"{score:.3f}")
            lines.append(f"{head} over {len(rows)} answers; " + ", ".join(f"{k} {n}" for k, n in rules.most_common()))
            for row in sample_rows(rows, sample, f"{ev.path}:{aspect}"):
                rule = f" ({row['rule']})" if row.get("rule") else ""
                lines.append(f"    [{row.get('set')}] Q: {row.get('question')!s:.90}")
                lines.append(f"      reference: {row.get('reference')!s:.90}")
                lines.append(f"      answer:    {row.get('answer')!r:.90}")
                lines.append(f"      -> {aspect} {_grade_of(row, aspect)}{rule}")
    return "\n".join(lines)


def render_html(evals: list[Evaluation], run_dir: Path, sample: int = 10) -> str:
    e = html.escape
    out = ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>Answers: {e(str(run_dir))}</title>",
           "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.4em 0 1.2em}"
           "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}"
           "th{background:#f3f3f3}.g0{background:#fde2e2}.g1{background:#fff3cd}.g2{background:#dff5e1}"
           "code{white-space:pre-wrap}</style></head><body>",
           f"<h1>Answers and their grades</h1><p>{e(str(run_dir))}: per task, method and request, the rules that "
           "decided the grades and a fixed sample of answers (grade 2 green, 1 yellow, 0 red). Forget quality and "
           "utility are the mean grade / 2 over the graded answers.</p>"]
    for ev in evals:
        out.append(f"<h2>{e(ev.task)} · {e(ev.seed)} · {e(ev.who)} · request {ev.request}</h2>")
        for aspect, rows in ev.groups().items():
            score = _score(rows, aspect)
            rules = Counter(str(r.get("rule") or _grade_of(r, aspect)) for r in rows)
            out.append(f"<p><b>{e(aspect)}</b>: {'-' if score is None else f'{score:.3f}'} over {len(rows)} answers; "
                       + e(", ".join(f"{k} {n}" for k, n in rules.most_common())) + "</p>")
            out.append("<table><tr><th>set</th><th>question</th><th>reference</th><th>answer</th><th>grade</th>"
                       "<th>rule</th></tr>")
            for row in sample_rows(rows, sample, f"{ev.path}:{aspect}:html"):
                grade = _grade_of(row, aspect)
                cls = {"correct": "g2", "wrong": "g0"}.get(grade, f"g{grade}")
                out.append(f"<tr><td>{e(str(row.get('set')))}</td><td>{e(str(row.get('question')))}</td>"
                           f"<td>{e(str(row.get('reference')))}</td><td><code>{e(str(row.get('answer')))}</code></td>"
                           f"<td class='{cls}'>{e(grade)}</td><td>{e(str(row.get('rule') or ''))}</td></tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def report_answers(run_dir: Path, sample: int = 3) -> tuple[str, Path]:
    """The text report, and the HTML page written to ``RUN_DIR/answers.html``."""
    evals = read_evaluations(run_dir)
    if not evals:
        raise MuError(f"{run_dir}: answers/ holds no answer files")
    page = run_dir / "answers.html"
    atomic_write_text(page, render_html(evals, run_dir))
    return render_text(evals, sample), page
