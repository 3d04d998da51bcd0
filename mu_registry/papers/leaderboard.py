"""`mu-eval leaderboard`: this project's numbers beside the published ones, with the difference.

For every configuration of a reference suite (``mu_registry.papers.published``) the leaderboard finds a
finished run of its task (matching the task keys the configuration sets) or of its offline stand-in,
in result folders it is given or in the runs it starts itself, and lays out one table per
configuration: a row per method (the original model first, then every method the run holds, built-in
or from a plugin package alike), a column per metric; a cell holds this project's mean over seeds
and, where a published value exists, the reference and the difference. Rows from a stand-in task
are marked as such everywhere (text, Markdown, HTML, JSON).
"""

from __future__ import annotations

import functools
import html
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mu_registry.util.atomic import atomic_write_json, atomic_write_text
from mu_registry.evaluation.judging import judge_label
from mu_registry.papers.published import PublishedSuite, SuiteConfig, split_metric
from mu_registry.registry.manager import get_registry
from mu_registry.util.errors import MuError
from mu_registry.run.runner import RunConfig, Runner
from mu_registry.registry.task_index import TaskIndex

log = logging.getLogger(__name__)

ORIGINAL = "original"
RETRAIN = "retrain"


@dataclass
class FoundRun:
    """A finished task inside a run folder that serves one configuration."""

    run_dir: Path
    task_name: str
    task: dict[str, Any]
    created: str
    stand_in: bool


@dataclass
class Cell:
    ours: float | None
    std: float | None
    seeds: int
    reference: float | None = None
    source: str | None = None
    where: str | None = None
    note: str | None = None

    @property
    def diff(self) -> float | None:
        return None if self.ours is None or self.reference is None else self.ours - self.reference


@dataclass
class ConfigTable:
    name: str
    task: str
    metrics: list[str]
    rows: dict[str, dict[str, Cell]] = field(default_factory=dict)
    run: FoundRun | None = None
    stand_in_task: str | None = None
    note: str | None = None


# --- finding results -------------------------------------------------------------------------

def scan_runs(roots: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``results.json`` under ``roots`` (a run folder or a folder of run folders)."""
    found = []
    for root in roots:
        if not root.exists():
            raise MuError(f"--results {root}: no such folder")
        paths = [root / "results.json"] if (root / "results.json").exists() else sorted(root.rglob("results.json"))
        for path in paths:
            try:
                found.append((path.parent, json.loads(path.read_text())))
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("%s: skipped, not readable results (%s)", path, exc)
    return found


def _get(obj: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _sets_match(task_config: dict[str, Any], overrides: dict[str, Any]) -> bool:
    return all(_get(task_config, key.split(".")) == value for key, value in overrides.items())


def find_run(config: SuiteConfig, runs: list[tuple[Path, dict[str, Any]]], *,
             allow_real: bool = True) -> FoundRun | None:
    """The newest run of the configuration's task with its keys set, else of its stand-in."""
    candidates: list[FoundRun] = []
    wanted = []
    if allow_real:
        wanted.append((config.task, config.set, False))
    if config.stand_in:
        wanted.append((config.stand_in.task, config.stand_in.set, True))
    for task_name, overrides, stand_in in wanted:
        for run_dir, results in runs:
            task = results.get("tasks", {}).get(task_name)
            if task and task.get("seeds") and _sets_match(task.get("config", {}), overrides):
                candidates.append(FoundRun(run_dir, task_name, task, results.get("created", ""), stand_in))
        if candidates:  # the real task wins over the stand-in
            break
    return max(candidates, key=lambda f: f.created) if candidates else None


# --- reading values --------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _renames() -> dict[str, str]:
    """Old method names (results written before issue 26's renames) -> the names results carry now."""
    return get_registry().method_renames()


def _record(seed_rec: dict[str, Any], method: str) -> dict[str, Any] | None:
    if method == ORIGINAL:
        return seed_rec.get("original")
    if method == RETRAIN:
        return seed_rec.get("retrain")
    methods = seed_rec.get("methods", {})
    if method in methods:
        return methods[method]
    # a run recorded before the renames: 'neggrad' is read as 'ga', 'llm_npo' as 'npo', 'gd' as 'graddiff'
    return next((rec for old, rec in methods.items() if _renames().get(old) == method), None)


def metric_value(record: dict[str, Any] | None, path: str) -> float | None:
    """A metric of one model record: after the last request, or after request ``@i``."""
    if not record or record.get("status") in ("not_applicable", "failed"):
        return None
    keys, request = split_metric(path)
    base: Any = record
    if "requests" in record:
        reqs = [r for r in record["requests"] if r]
        if request is None:
            base = reqs[-1] if reqs else None
        else:
            base = next((r for r in reqs if r.get("index") == request), None)
            if base is None and request < len(record["requests"]):
                base = record["requests"][request]
    value = _get(base, keys)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _methods_in(task: dict[str, Any]) -> list[str]:
    names = [ORIGINAL]
    seeds = task.get("seeds", {}).values()
    if any(s.get("retrain") for s in seeds):
        names.append(RETRAIN)
    for seed_rec in seeds:
        names += [m for m in (_renames().get(m, m) if m in _renames() and "[" not in _renames()[m] else m
                              for m in seed_rec.get("methods", {})) if m not in names]
    return names


def _label(path: str) -> str:
    keys, request = split_metric(path)
    if keys[0] in ("metrics", "summary"):
        keys = keys[1:]
    return ".".join(keys) + (f" @{request}" if request is not None else "")


def build_tables(suite: PublishedSuite, runs: list[tuple[Path, dict[str, Any]]], *,
                 stand_in_only: bool = False, configs: list[str] | None = None) -> list[ConfigTable]:
    tables = []
    for config in selected(suite, configs):
        found = find_run(config, runs, allow_real=not stand_in_only and config.runnable)
        metrics: list[str] = []
        for per_method in config.reference.values():
            metrics += [m for m in per_method if m not in metrics]
        metrics += [m for m in suite.show if m not in metrics]
        table = ConfigTable(config.name, config.task, metrics, run=found, note=config.note,
                            stand_in_task=found.task_name if found and found.stand_in else None)
        methods = _methods_in(found.task) if found else []
        methods += [m for m in [ORIGINAL, *(config.methods or [])] if m not in methods]
        methods += [m for m in config.reference if m not in methods]
        for method in methods:
            row = {}
            for path in metrics:
                values = []
                if found:
                    read = config.stand_in.rename(path) if found.stand_in and config.stand_in else path
                    values = [v for s in found.task["seeds"].values()
                              if (v := metric_value(_record(s, method), read)) is not None]
                cell = Cell(float(np.mean(values)) if values else None,
                            float(np.std(values)) if len(values) > 1 else None, len(values))
                ref = config.reference.get(method, {}).get(path)
                if ref is not None:
                    cell.reference, cell.where, cell.note = ref.value, ref.where, ref.note
                    cell.source = ref.source
                row[path] = cell
            table.rows[method] = row
        tables.append(table)
    return tables


def selected(suite: PublishedSuite, names: list[str] | None) -> list[SuiteConfig]:
    if not names:
        return list(suite.configs)
    picked = [c for c in suite.configs if any(n.lower() in c.name.lower() for n in names)]
    if not picked:
        raise MuError(f"--configs {','.join(names)}: no configuration of suite {suite.suite} matches "
                      f"(configurations: {'; '.join(c.name for c in suite.configs)})")
    return picked


# --- running the standardized configurations -----------------------------------------------

def run_configs(suite: PublishedSuite, registry: Any, *, output: Path, stand_in: bool,
                extra_methods: list[str], seeds: list[int], limit: int | None, include_paths: list[str],
                device: str, configs: list[str] | None = None) -> list[Path]:
    """Run each selected configuration (or its stand-in) once; configurations sharing a stand-in
    share its run. Returns the run folders."""
    index = TaskIndex(registry, include_paths)
    plans: dict[str, tuple[str, dict[str, Any], list[str] | None]] = {}
    for config in selected(suite, configs):
        if stand_in and config.stand_in is None:
            raise MuError(f"suite {suite.suite}, config {config.name!r}: no stand_in task to run offline")
        offline = stand_in or not config.runnable
        if not config.runnable:
            if config.stand_in is None:
                raise MuError(f"suite {suite.suite}, config {config.name!r}: no task reproduces it and it has no "
                              "stand_in to run")
            log.info("leaderboard %s: %s is not runnable here (%s); running its stand-in %s", suite.suite,
                     config.name, config.note or "its data is not released", config.stand_in.task)
        task, overrides = ((config.stand_in.task, config.stand_in.set) if offline and config.stand_in
                           else (config.task, config.set))
        methods = config.methods
        if extra_methods:
            base = methods if methods is not None else list(index.load(task).config.default_methods)
            methods = base + [m for m in extra_methods if m not in base]
        key = json.dumps([task, overrides, methods], sort_keys=True)
        plans.setdefault(key, (task, overrides, methods))
    run_dirs = []
    for i, (task, overrides, methods) in enumerate(plans.values()):
        log.info("leaderboard %s: run %d/%d, task %s", suite.suite, i + 1, len(plans), task)
        run_config = RunConfig(tasks=[task], methods=methods, seeds=seeds, output=str(output / "runs"),
                               limit=limit, include_paths=include_paths, device=device,
                               task_overrides=dict(overrides))
        runner = Runner(run_config, registry)
        runner.run()
        run_dirs.append(runner.run_dir)
    return run_dirs


# --- rendering -------------------------------------------------------------------------------

def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _cell_text(cell: Cell) -> str:
    text = _num(cell.ours)
    if cell.std is not None:
        text += f"±{cell.std:.3f}"
    if cell.reference is not None:
        diff = cell.diff
        text += f" (ref {cell.reference:.3f}" + (f", Δ {diff:+.3f})" if diff is not None else ")")
    return text


def _status(table: ConfigTable) -> str:
    if table.run is None:
        return "no finished run of this configuration was found"
    seeds = ", ".join(table.run.task.get("seeds", {}))
    judge = judge_label(table.run.task.get("judge"))
    if judge:
        seeds += f"; forget quality and utility judged by {judge}"
    if table.stand_in_task:
        return (f"STAND-IN: run on the offline task {table.stand_in_task} instead of {table.task} "
                f"(different data and scale: the difference is not a reproduction error); "
                f"run {table.run.run_dir}, seeds {seeds}")
    return f"task {table.task}, run {table.run.run_dir}, seeds {seeds}"


def _rows(table: ConfigTable) -> list[list[str]]:
    return [[method] + [_cell_text(row[m]) for m in table.metrics] for method, row in table.rows.items()]


#: tables with more metrics than this are laid out a row per metric, a column per method
WIDE = 8


def _grid(table: ConfigTable) -> tuple[list[str], list[list[str]]]:
    """Header and rows: a row per method, or per metric where the metrics are many (MLUBench's matrices)."""
    if len(table.metrics) <= WIDE:
        return ["method"] + [_label(m) for m in table.metrics], _rows(table)
    methods = list(table.rows)
    return (["metric"] + methods,
            [[_label(m)] + [_cell_text(table.rows[method][m]) for method in methods] for m in table.metrics])


def render_text(suite: PublishedSuite, tables: list[ConfigTable]) -> str:
    lines = [f"Leaderboard: {suite.title}", ""]
    for table in tables:
        header, rows = _grid(table)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines += [f"{table.name}  [{_status(table)}]", *([f"Note: {table.note}"] if table.note else []),
                  "  ".join(h.ljust(w) for h, w in zip(header, widths)),
                  "  ".join("-" * w for w in widths),
                  *("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows), ""]
    lines.append("Cells: this project's mean (± std over seeds); (ref R, Δ D): the published value R and "
                 "ours minus R. —: no value.")
    if suite.missing:
        lines.append(f"Not in the reference data: {suite.missing}")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(suite: PublishedSuite, tables: list[ConfigTable]) -> str:
    lines = [f"# Leaderboard: {_md_escape(suite.title)}", ""]
    for table in tables:
        lines += [f"## {_md_escape(table.name)}", "", f"_{_md_escape(_status(table))}_", ""]
        if table.note:
            lines += [f"Note: {_md_escape(table.note)}", ""]
        header, rows = _grid(table)
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
        lines.append("")
    lines += ["Cells: this project's mean (± std over seeds); (ref R, Δ D): the published value R and ours "
              "minus R.", "", "## Sources", ""]
    lines += [f"- `{key}`: {_md_escape(src.cite)}" + (f" ({src.url})" if src.url else "")
              for key, src in suite.sources.items()]
    if suite.missing:
        lines += ["", f"Not in the reference data: {_md_escape(suite.missing)}"]
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 2em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f3f3f3}.ref{color:#666;font-size:.85em}.neg{color:#b00}.pos{color:#070}
.standin{background:#fff4d6;border:1px solid #e0b84c;padding:.2em .5em;display:inline-block}.status{color:#555}"""


def render_html(suite: PublishedSuite, tables: list[ConfigTable]) -> str:
    e = html.escape
    out = ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>Leaderboard: {e(suite.suite)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{e(suite.title)}</h1>"]
    for table in tables:
        out.append(f"<h2>{e(table.name)}</h2>")
        cls = "standin" if table.stand_in_task else "status"
        out.append(f"<p class='{cls}'>{e(_status(table))}</p>")
        out.append("<table><tr><th>method</th>" + "".join(f"<th>{e(_label(m))}</th>" for m in table.metrics) + "</tr>")
        for method, row in table.rows.items():
            cells = []
            for m in table.metrics:
                c = row[m]
                text = e(_num(c.ours)) + (f"<span class='ref'>±{c.std:.3f}</span>" if c.std is not None else "")
                if c.reference is not None:
                    diff = c.diff
                    tip = e(" ".join(x for x in (c.source, c.where, c.note) if x), quote=True)
                    sign = "neg" if diff is not None and diff < 0 else "pos"
                    dtxt = "" if diff is None else f", <span class='{sign}'>Δ {diff:+.3f}</span>"
                    text += f"<br><span class='ref' title=\"{tip}\">ref {c.reference:.3f}{dtxt}</span>"
                cells.append(f"<td>{text}</td>")
            out.append(f"<tr><td>{e(method)}</td>{''.join(cells)}</tr>")
        out.append("</table>")
    out.append("<h2>Sources</h2><ul>")
    for key, src in suite.sources.items():
        link = f" <a href='{e(src.url, quote=True)}'>{e(src.url)}</a>" if src.url else ""
        out.append(f"<li><code>{e(key)}</code>: {e(src.cite)}{link}</li>")
    out.append("</ul>")
    if suite.missing:
        out.append(f"<p><b>Not in the reference data:</b> {e(suite.missing)}</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_json(suite: PublishedSuite, tables: list[ConfigTable]) -> dict[str, Any]:
    return {"suite": suite.suite, "title": suite.title,
            "sources": {k: v.model_dump() for k, v in suite.sources.items()},
            "configs": [{"name": t.name, "task": t.task, "stand_in_task": t.stand_in_task,
                         "run_dir": str(t.run.run_dir) if t.run else None,
                         "rows": [{"method": method, "metric": m, **asdict(cell), "diff": cell.diff}
                                  for method, row in t.rows.items() for m, cell in row.items()]}
                        for t in tables]}


def write_reports(suite: PublishedSuite, tables: list[ConfigTable], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{suite.suite}.md", out_dir / f"{suite.suite}.html", out_dir / f"{suite.suite}.json"]
    atomic_write_text(paths[0], render_markdown(suite, tables))
    atomic_write_text(paths[1], render_html(suite, tables))
    atomic_write_json(paths[2], to_json(suite, tables))
    return paths
