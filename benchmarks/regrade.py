"""Grade a generative run's answers again with a judge, and print forget quality and utility per method and
request: what a judge change alone does to a run's numbers (the answers stay the same).

    python benchmarks/regrade.py RUN_DIR [--judge rule] [--json OUT]

Run it once with the judge of one commit and once with another's (e.g. ``PYTHONPATH=<old checkout>``) and
compare the two JSON files with ``--compare OLD.json NEW.json``: the README's judge before -> after tables.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from mu_registry.evaluation.judging import call_judge, describe_judge, make_judge
from mu_registry.registry.manager import get_registry


def regrade(run_dir: Path, judge_name: str) -> dict:
    judge = make_judge(get_registry(), judge_name, {}, source="regrade")
    out: dict = {"judge": describe_judge(judge, judge_name), "tasks": defaultdict(dict)}
    for path in sorted(run_dir.glob("answers/*/seed*/*/request*.jsonl")):
        task, who, request = path.parts[-4], path.parts[-2], int(path.stem.removeprefix("request"))
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        cell = {}
        for aspect, prefixes in (("forget", ("forget_", "paraphrase_")), ("utility", ("retain_", "general"))):
            part = [r for r in rows if r["set"].startswith(prefixes)]
            grades = call_judge(judge, [r["question"] for r in part], [r["reference"] for r in part],
                                [r["answer"] for r in part], subjects=[str(r["unit"]) for r in part],
                                aspects=(aspect,))
            given = [getattr(g, aspect) for g in grades if getattr(g, aspect) is not None]
            cell[aspect] = sum(given) / (2 * len(given)) if given else None
            cell[f"{aspect}_n"], cell[f"{aspect}_ungraded"] = len(part), len(part) - len(given)
        out["tasks"][task].setdefault(who, {})[str(request)] = cell
    return out


def compare(old: dict, new: dict) -> str:
    lines = [f"old judge: {old['judge']}", f"new judge: {new['judge']}", "",
             "| task | method | request | forget quality old -> new | utility old -> new |", "|---|---|---|---|---|"]
    fmt = (lambda v: "-" if v is None else f"{v:.3f}")
    for task, methods in new["tasks"].items():
        for who, requests in methods.items():
            for request, cell in requests.items():
                before = old["tasks"].get(task, {}).get(who, {}).get(request, {})
                lines.append(f"| {task} | {who} | {request} | {fmt(before.get('forget'))} -> {fmt(cell['forget'])} "
                             f"| {fmt(before.get('utility'))} -> {fmt(cell['utility'])} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, nargs="?")
    p.add_argument("--judge", default="rule")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--compare", type=Path, nargs=2, metavar=("OLD", "NEW"), default=None)
    args = p.parse_args()
    if args.compare:
        print(compare(*(json.loads(path.read_text()) for path in args.compare)))
        return
    result = regrade(args.run_dir, args.judge)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
