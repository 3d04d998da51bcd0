"""How the judge's hand-graded set (``tests/data/judge_set/``) was built, step by step.

1. ``sample RUN_DIR... --out real_ungraded.jsonl``: real answers written by the project's methods (the
   ``answers/`` files of generative runs), drawn with a fixed seed, stratified by task, method, request and
   set kind, distinct answers only; each row keeps where it came from (``source``).
2. The rows (these and hand-written ones) are graded by hand by the rubric's text, with a one-line reason,
   by a grader who has not read the rule judge's code.
3. ``split GRADED.jsonl... --out DIR``: every row goes to ``dev.jsonl`` or ``sealed.jsonl`` by
   :func:`mu_registry.report.judge_check.split_of` (a fixed hash of its text); ``SEALED.sha256`` records the sealed
   file's hash. This is committed before any rule of the judge changes; the rules are then changed looking
   at ``dev.jsonl`` only (``mu-eval judge check tests/data/judge_set/dev.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from mu_registry.report.judge_check import read_graded, sha256_file, split_of

#: words in a question that name MLUBench's entity classes (the generated worlds' questions say the class)
CLASSES = (("Person", r"\bperson\b|\bwho\b"), ("Animal", r"\banimal\b"), ("Plant", r"\bplant\b"),
           ("Building", r"\bbuilding\b"), ("Landmark", r"\blandmark\b"), ("Celestial body", r"\bcelestial\b"),
           ("Movie", r"\bmovie\b|\bfilm\b"), ("Logo/brand", r"\blogo\b|\bbrand\b"),
           ("Object", r"\bobject\b|\bcartoon\b|\bcharacter\b"), ("Country", r"\bcountry\b|\bflag\b"))


def entity_class(question: str) -> str:
    for name, pattern in CLASSES:
        if re.search(pattern, question, re.IGNORECASE):
            return name
    return "unknown"


def sample(run_dirs: list[Path], per_cell: int, seed: int, methods: list[str] | None = None,
           requests: list[int] | None = None, start: int = 1, with_original: bool = False) -> list[dict]:
    cells: dict[tuple, list[dict]] = defaultdict(list)
    for run_dir in run_dirs:
        for path in sorted(run_dir.glob("answers/*/seed*/*/request*.jsonl")):
            task, who, request = path.parts[-4], path.parts[-2], path.stem
            if (who == "original" and not with_original) or (methods and who not in methods and who != "original"):
                continue
            if requests is not None and int(request.removeprefix("request")) not in requests:
                continue
            for line in path.read_text().splitlines():
                row = json.loads(line)
                kind = "forget" if row["set"].startswith(("forget_", "paraphrase_")) else "utility"
                cells[(task, who, request, kind)].append(row)
    rng = random.Random(seed)
    out, seen = [], set()
    for (task, who, request, kind), rows in sorted(cells.items()):
        rng.shuffle(rows)
        taken = 0
        for row in rows:
            key = (row["question"], row["reference"], row["answer"])
            if key in seen or taken >= per_cell:
                continue
            seen.add(key)
            taken += 1
            out.append({"id": f"r{len(out) + start:03d}", "source": f"{task}/{who}/{request}/{row['set']}",
                        "entity_class": entity_class(row["question"]), "case": "real_" + kind,
                        "subject": str(row["unit"]), "question": row["question"], "reference": row["reference"],
                        "answer": row["answer"]})
    return out


def split(graded: list[Path], out_dir: Path) -> None:
    rows = [row for path in graded for row in read_graded(path)]
    halves: dict[str, list[dict]] = {"dev": [], "sealed": []}
    for row in rows:
        halves[split_of(row)].append(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, part in halves.items():
        (out_dir / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part))
    digest = sha256_file(out_dir / "sealed.jsonl")
    (out_dir / "SEALED.sha256").write_text(f"{digest}  sealed.jsonl\n")
    print(f"dev {len(halves['dev'])}, sealed {len(halves['sealed'])}; sealed sha256 {digest}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample")
    s.add_argument("run_dirs", nargs="+", type=Path)
    s.add_argument("--per-cell", type=int, default=2, help="rows per task x method x request x set kind")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--methods", default=None, help="only these methods (comma separated)")
    s.add_argument("--requests", default=None, help="only these request indices (comma separated)")
    s.add_argument("--start", type=int, default=1, help="first row number of the ids (r001, ...)")
    s.add_argument("--with-original", action="store_true", help="also the original model's answers")
    s.add_argument("--out", type=Path, required=True)
    sp = sub.add_parser("split")
    sp.add_argument("graded", nargs="+", type=Path)
    sp.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if args.command == "sample":
        rows = sample(args.run_dirs, args.per_cell, args.seed,
                      methods=args.methods.split(",") if args.methods else None,
                      requests=[int(r) for r in args.requests.split(",")] if args.requests else None, start=args.start,
                      with_original=args.with_original)
        args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"{len(rows)} rows -> {args.out}")
    else:
        split(args.graded, args.out)


if __name__ == "__main__":
    main()
