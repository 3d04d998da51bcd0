"""Checking a judge against hand grades: ``mu-eval judge check GRADED.jsonl``.

A graded file is JSON Lines, one answer a line, with the fields ``question``, ``reference``, ``answer``
and the hand grades ``forget`` and ``utility`` (0, 1, 2, or null where that aspect was not graded);
``subject`` (the entity asked about), ``id``, ``case`` (the kind of answer) and ``reason`` are optional.
The judge grades every answer for both aspects; agreement is the share of hand-graded answers whose grade
it reproduces exactly, and the confusion matrix counts (hand grade, judge grade) pairs, a judge that
could not grade an answer counting as ``ungraded``.

The project's own set (``tests/data/judge_set/``) is split by :func:`split_of`, a fixed hash of each
answer's text, into a development half and a sealed half; ``SEALED.sha256`` holds the sealed file's
hash, recorded before the rules were changed against the development half (see the README).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mu_registry.util.errors import MuError
from mu_registry.api.judge import ASPECTS, Judge
from mu_registry.evaluation.judging import call_judge

REQUIRED = ("question", "reference", "answer", "forget", "utility")
GRADES = (0, 1, 2)


def read_graded(path: Path) -> list[dict[str, Any]]:
    """The rows of a graded file; a malformed line is one error naming the line and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MuError(f"{path}: cannot read ({exc.strerror or exc})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MuError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise MuError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        for key in REQUIRED:
            if key not in row:
                raise MuError(f"{path}:{number}: missing field '{key}'")
        for key in ("question", "reference", "answer"):
            if not isinstance(row[key], str):
                raise MuError(f"{path}:{number}: field '{key}' must be a string")
        for key in ASPECTS:
            if row[key] is not None and (isinstance(row[key], bool) or row[key] not in GRADES):
                raise MuError(f"{path}:{number}: field '{key}': a grade is 0, 1, 2 or null (got {row[key]!r})")
        if row["forget"] is None and row["utility"] is None:
            raise MuError(f"{path}:{number}: fields 'forget' and 'utility' are both null: nothing to check")
        rows.append(row)
    if not rows:
        raise MuError(f"{path}: no graded answers")
    return rows


def split_of(row: dict[str, Any]) -> str:
    """``dev`` or ``sealed``: the parity of the sha256 of the row's question, reference and answer (a fixed
    hash, so a row's half never depends on the others or on their order)."""
    text = "\x1f".join((row["question"], row["reference"], row["answer"]))
    return "sealed" if hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 else "dev"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class AspectAgreement:
    aspect: str
    n: int = 0
    agree: int = 0
    #: (hand grade, judge grade or "ungraded") -> count
    confusion: Counter = field(default_factory=Counter)
    #: per answer kind (the row's ``case``): [agree, n]
    by_case: dict[str, list[int]] = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        return self.agree / self.n if self.n else float("nan")

    def matrix_lines(self) -> list[str]:
        cols = [0, 1, 2, "ungraded"]
        lines = [f"  {self.aspect}: hand (rows) x judge (columns)", "          " + "".join(f"{c!s:>10}" for c in cols)]
        for hand in GRADES:
            lines.append(f"  {hand:>8}" + "".join(f"{self.confusion[(hand, c)]:>10}" for c in cols))
        return lines


@dataclass
class CheckResult:
    aspects: dict[str, AspectAgreement]
    disagreements: list[dict[str, Any]]
    #: relevant refusals (a ``case`` naming a refusal, hand-graded forget 2) graded 2 by the judge: [graded 2, n]
    relevant_refusals: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {a: {"n": r.n, "agree": r.agree, "agreement": r.agreement,
                    "confusion": {f"{h}->{j}": c for (h, j), c in sorted(r.confusion.items(), key=str)},
                    "by_case": r.by_case} for a, r in self.aspects.items()} | {
            "relevant_refusals_graded_2": self.relevant_refusals}


def check(judge: Judge, rows: list[dict[str, Any]]) -> CheckResult:
    """Grade every row with ``judge`` for both aspects and compare with the hand grades."""
    grades = call_judge(judge, [r["question"] for r in rows], [r["reference"] for r in rows],
                        [r["answer"] for r in rows], subjects=[str(r.get("subject") or "") for r in rows],
                        aspects=ASPECTS)
    aspects = {a: AspectAgreement(a) for a in ASPECTS}
    disagreements = []
    refusals = [0, 0]
    for row, grade in zip(rows, grades):
        case = str(row.get("case") or "")
        for aspect in ASPECTS:
            hand = row[aspect]
            if hand is None:
                continue
            got = getattr(grade, aspect)
            rec = aspects[aspect]
            rec.n += 1
            rec.confusion[(hand, "ungraded" if got is None else got)] += 1
            tally = rec.by_case.setdefault(case, [0, 0])
            tally[1] += 1
            if got == hand:
                rec.agree += 1
                tally[0] += 1
            else:
                disagreements.append({"aspect": aspect, "hand": hand, "judge": got, "rule": grade.why,
                                      "case": case, "id": row.get("id"), "answer": row["answer"]})
        if "refusal" in case and row["forget"] == 2:
            refusals[1] += 1
            refusals[0] += grade.forget == 2
    return CheckResult(aspects, disagreements, refusals)


def render(result: CheckResult, *, label: str, show_disagreements: int = 0) -> str:
    lines = [f"judge check: {label}"]
    for rec in result.aspects.values():
        lines.append(f"{rec.aspect:<8} agreement {rec.agreement:.3f} ({rec.agree}/{rec.n} hand-graded answers)")
    if result.relevant_refusals[1]:
        done, n = result.relevant_refusals
        lines.append(f"relevant refusals graded 2 (forget): {done}/{n} ({done / n:.3f})")
    for rec in result.aspects.values():
        lines.extend(rec.matrix_lines())
    if show_disagreements and result.disagreements:
        lines.append(f"disagreements (first {show_disagreements} of {len(result.disagreements)}):")
        for d in result.disagreements[:show_disagreements]:
            lines.append(f"  [{d['aspect']}] hand {d['hand']} judge {d['judge']} ({d['rule']}; {d['case'] or '-'}): "
                         f"{d['answer'][:100]!r}")
    return "\n".join(lines)
