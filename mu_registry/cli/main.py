"""``mu-eval``: run unlearning evaluations, list and validate plugins and tasks."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

from mu_registry import __version__
from mu_registry.util.errors import ConfigError, MuError

log = logging.getLogger("mu_registry")
DEFAULT_GROUP = "offline-default"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _seeds(value: str) -> list[int]:
    try:
        return [int(v) for v in _csv(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers, got '{value}'") from None


def _method_args(items: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        for part in _csv(item):
            key, eq, value = part.partition("=")
            method, dot, param = key.partition(".")
            if not eq or not dot or not method or not param:
                raise MuError(f"--method-args '{part}': expected METHOD.PARAM=VALUE")
            out.setdefault(method, {})[param] = value
    return out


def _task_overrides(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key or key.startswith(".") or key.endswith("."):
            raise MuError(f"--set '{item}': expected KEY=VALUE, e.g. forget.ratio=0.05")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise MuError(f"--set '{item}': the value is not valid YAML ({str(exc).splitlines()[0]})") from None
    return out


def _run_arguments(r: argparse.ArgumentParser) -> None:
    r.add_argument("--tasks", type=_csv, default=None, help=f"task or group names, comma separated "
                   f"(default: {DEFAULT_GROUP})")
    r.add_argument("--methods", type=_csv, default=None, help="method names, comma separated, or 'all' "
                   "(default: each task's default_methods)")
    r.add_argument("--model", default=None, help="use this model plugin instead of each task's default")
    r.add_argument("--seed", type=_seeds, default=[0], help="seed, or several comma separated (default 0)")
    r.add_argument("--output", default="results", help="folder for run folders (default ./results)")
    r.add_argument("--limit", type=int, default=None, help="at most N examples per split (quick checks)")
    r.add_argument("--include-path", action="append", default=[], help="extra folder of task YAML files")
    r.add_argument("--method-args", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                   help="override a method hyperparameter (repeatable, or comma separated)")
    r.add_argument("--set", dest="task_set", action="append", default=[], metavar="KEY=VALUE",
                   help="change a task key for this run, e.g. forget.ratio=0.05 or model.train.epochs=3 "
                        "(value parsed as YAML; repeatable)")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    r.add_argument("--engine", choices=["auto", "transformers", "vllm"], default=None,
                   help="evaluation engine of generative tasks (default: each task's generation.engine)")
    r.add_argument("--no-cache", action="store_true", help="always retrain original and retrain models")


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (the usage block stays behind ``--help``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        message = message.replace("argument ", "", 1) if message.startswith("argument ") else message
        self.exit(2, f"mu-eval: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mu-eval", description="Evaluate machine-unlearning methods on tasks.")
    p.add_argument("--version", action="version", version=f"mu-registry {__version__}")
    sub = p.add_subparsers(dest="command")

    r = sub.add_parser("run", help="run tasks x methods and write results")
    _run_arguments(r)
    r.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                   help="continue an interrupted run in RUN_DIR with its recorded configuration")
    r.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run failed methods again from their last finished request "
                        "(default: keep them as failed)")

    sw = sub.add_parser("sweep", help="tasks x methods x seeds as separate cells on Ray (or in turn), merged")
    _run_arguments(sw)
    sw.add_argument("--backend", choices=["ray", "serial"], default="ray")
    sw.add_argument("--ray-address", default=None, help="a running Ray cluster (default: start one here)")
    sw.add_argument("--gpus-per-cell", type=float, default=0.0)
    sw.add_argument("--ray-cpus", type=int, default=None, help="CPUs of a Ray instance started here (default: all)")
    sw.add_argument("--resume", type=Path, default=None, metavar="SWEEP_DIR",
                    help="run the cells of SWEEP_DIR that did not finish, then merge again")

    ls = sub.add_parser("list", help="list registered tasks, groups, methods, models, metrics or datasets")
    ls.add_argument("kind", choices=["tasks", "groups", "methods", "models", "metrics", "datasets", "judges",
                                     "routers", "protocols"])
    ls.add_argument("--include-path", action="append", default=[])
    ls.add_argument("--long", action="store_true", help="tasks: with the time a run took from a cold cache, "
                    "and the cores and load it was measured at (benchmarks/task_times.py)")

    sub.add_parser("plugins", help="show each plugin, its version and what it registered")

    rp = sub.add_parser("report", help="tables and plots for a finished (or interrupted) run folder")
    rp.add_argument("run_dir", type=Path, help="a run folder holding results.json")
    rp.add_argument("--answers", action="store_true", help="generative tasks: per task, method and request, the "
                    "rules behind the grades and a sample of answers with their grade (and answers.html)")
    rp.add_argument("--sample", type=int, default=3, metavar="N", help="with --answers: answers shown per set "
                    "kind and request (default 3)")

    cp = sub.add_parser("compare", help="is every number of RUN_B where reference run RUN_A says it should be? "
                        "(exit 1 when not)")
    cp.add_argument("run_a", type=Path, help="the reference run folder (its seeds' spread sets the tolerance)")
    cp.add_argument("run_b", type=Path, help="the run folder to check")
    cp.add_argument("--tolerance", type=float, default=0.05, help="absolute difference always allowed (default 0.05)")
    cp.add_argument("--spread", type=float, default=3.0, help="allowed difference in standard deviations of the "
                    "reference's seeds (default 3)")
    cp.add_argument("--show", type=int, default=20, help="differences listed (default 20)")

    lb = sub.add_parser("leaderboard", help="this project's numbers beside the papers' published ones, "
                        "with the difference (Markdown and HTML too)")
    which = lb.add_mutually_exclusive_group(required=True)
    which.add_argument("--suite", help="a shipped suite of published numbers: mubench, mlubench or pulse")
    which.add_argument("--published", "--reference", dest="published", type=Path,
                       help="a file of published numbers of the same shape instead (--reference: the old name)")
    lb.add_argument("--results", type=Path, action="append", default=[], metavar="DIR",
                    help="read finished runs (a run folder or a folder of them) instead of running")
    lb.add_argument("--stand-in", action="store_true",
                    help="use each configuration's offline stand-in task (rows are marked as stand-ins)")
    lb.add_argument("--configs", type=_csv, default=None, help="only configurations whose name contains one "
                    "of these, comma separated")
    lb.add_argument("--methods", type=_csv, default=[], help="methods to run besides the standardized ones "
                    "(a plugin package's method, say)")
    lb.add_argument("--seed", type=_seeds, default=[0])
    lb.add_argument("--limit", type=int, default=None, help="at most N examples per split (quick checks)")
    lb.add_argument("--include-path", action="append", default=[])
    lb.add_argument("--device", default="auto")
    lb.add_argument("--output", type=Path, default=Path("results/leaderboard"),
                    help="folder for the reports and runs (default results/leaderboard)")

    da = sub.add_parser("data", help="the suites' data: list its sources, get it, check it")
    da_sub = da.add_subparsers(dest="data_command", required=True)
    for verb, text in (("list", "each source: origin, licence, where it goes, present and complete"),
                       ("get", "download a source (pinned, checksummed) and print any manual step"),
                       ("check", "verify a source's files: one line per problem")):
        dp = da_sub.add_parser(verb, help=text)
        if verb != "list":
            dp.add_argument("name", help="mlubench, pulse or mubench-<task> (see mu-eval data list)")
        dp.add_argument("--dir", default=None, help="data folder (default: $MU_DATA_DIR, else <cache>/data)")
        dp.add_argument("--image-root", default=None, help="mlubench: the folder holding downloaded_images/ "
                        "(default: the release folder)")
        if verb == "get":
            dp.add_argument("--no-progress", action="store_true", help="no progress bars")

    sh = sub.add_parser("show", help="print a task's YAML as resolved (include:, --set) and the file it came from")
    sh.add_argument("name", help="a task or group name")
    sh.add_argument("--raw", action="store_true", help="print the file as written instead")
    sh.add_argument("--set", dest="task_set", action="append", default=[], metavar="KEY=VALUE",
                    help="change a task key, as mu-eval run --set does")
    sh.add_argument("--include-path", action="append", default=[])

    jd = sub.add_parser("judge", help="check a judge against hand-graded answers")
    jd_sub = jd.add_subparsers(dest="judge_command", required=True)
    jc = jd_sub.add_parser("check", help="agreement and confusion matrix per aspect of a judge on a graded "
                           "JSONL file (question, reference, answer, forget, utility; subject, case optional)")
    jc.add_argument("graded", type=Path, help="the hand-graded answers (JSON Lines)")
    jc.add_argument("--judge", default="rule", help="a registered judge: rule, openai_compatible, ... (default rule)")
    jc.add_argument("--judge-args", dest="judge_args", action="append", default=[], metavar="KEY=VALUE",
                    help="an argument of the judge (value parsed as YAML; repeatable), e.g. model=gpt-4o "
                         "base_url=http://127.0.0.1:8000/v1")
    jc.add_argument("--split", choices=["all", "dev", "sealed"], default="all",
                    help="only the rows of one half of the fixed-hash split (default all)")
    jc.add_argument("--show", type=int, default=10, metavar="N", help="print the first N disagreements (default 10)")
    jc.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the numbers as JSON")

    v = sub.add_parser("validate", help="check task and group files without running them")
    v.add_argument("names", nargs="*", help="tasks or groups (default: all)")
    v.add_argument("--include-path", action="append", default=[])
    v.add_argument("--load", action="store_true", help="also load the data and check columns")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("--") and argv[0] not in ("--help", "-h", "--version"):
        argv = ["run", *argv]  # `mu-eval --tasks ...` is `mu-eval run --tasks ...`
    _setup_logging()
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    try:
        return {"run": cmd_run, "list": cmd_list, "plugins": cmd_plugins, "validate": cmd_validate,
                "report": cmd_report, "show": cmd_show, "data": cmd_data, "leaderboard": cmd_leaderboard,
                "sweep": cmd_sweep, "judge": cmd_judge, "compare": cmd_compare}[args.command](args)
    except MuError as exc:
        print(f"mu-eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if _RUN_DIR is not None and (_RUN_DIR / "results.json").exists():
            print(f"mu-eval: interrupted; finished requests are saved; resume with: mu-eval run --resume {_RUN_DIR}",
                  file=sys.stderr)
        else:
            print("mu-eval: interrupted before anything was recorded (no run folder was kept)", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: records stay, the status says the run did not finish."""


#: the folder of the run in progress, for the interrupt message
_RUN_DIR: Path | None = None


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _install_sigterm() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mu-eval: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.addLevelName(logging.WARNING, "warning")
    logging.addLevelName(logging.INFO, "info")


def _registry():
    from mu_registry.registry.manager import get_registry  # on demand: --help stays fast

    return get_registry()


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise MuError(f"--limit {limit}: must be a positive number of examples per split")


def _run_config(args: argparse.Namespace):
    from mu_registry.run.runner import RunConfig  # on demand: --help stays fast

    _check_limit(args.limit)
    return RunConfig(
        tasks=args.tasks or [DEFAULT_GROUP], methods=args.methods, model=args.model, seeds=args.seed,
        output=args.output, limit=args.limit, include_paths=args.include_path,
        method_args=_method_args(args.method_args), device=args.device, use_cache=not args.no_cache,
        task_overrides=_task_overrides(args.task_set), engine=args.engine)


def cmd_sweep(args: argparse.Namespace) -> int:
    import json

    from mu_registry.report.tables import render_tables  # on demand: --help stays fast
    from mu_registry.run.sweep import sweep  # on demand: --help stays fast

    config = _run_config(args)
    if args.resume is not None:
        try:
            from mu_registry.run.runner import RunConfig  # on demand: --help stays fast

            config = RunConfig(**json.loads((args.resume / "results.json").read_text())["config"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no merged results yet: the command line's configuration
    out = sweep(config, _registry(), backend=args.backend, ray_address=args.ray_address,
                gpus_per_cell=args.gpus_per_cell, ray_cpus=args.ray_cpus, resume=args.resume)
    print(render_tables(json.loads((out / "results.json").read_text())))
    print(f"results: {out / 'results.json'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mu_registry.run.runner import Runner  # on demand: --help stays fast

    from mu_registry.evaluation.distributed import init_from_environment  # on demand: --help stays fast

    launched_on = init_from_environment()  # accelerate launch / torchrun: evaluation split across processes
    if launched_on is not None and args.device == "auto":
        args.device = str(launched_on)
    global _RUN_DIR
    if args.retry_failed and args.resume is None:
        raise MuError("--retry-failed: only with --resume RUN_DIR")
    registry = _registry()
    if args.resume is not None:
        _refuse_changes_on_resume(args, ignore={"device"} if launched_on is not None else set())
        runner = Runner.resume(args.resume, registry, retry_failed=args.retry_failed)
        log.info("resuming run %s", args.resume)
    else:
        runner = Runner(_run_config(args), registry)
    _install_sigterm()
    _RUN_DIR = runner.run_dir
    results = runner.run()
    from mu_registry.report.tables import render_tables  # on demand: --help stays fast

    print(render_tables(results, run_dir=runner.run_dir))
    print(f"results: {runner.run_dir / 'results.json'}")
    failed = runner.failures()
    if failed:
        print(f"mu-eval: error: {len(failed)} failed ({'; '.join(failed)}); the other results are complete; "
              f"tracebacks in {runner.run_dir / 'errors.log'}; run them again with: "
              f"mu-eval run --resume {runner.run_dir} --retry-failed", file=sys.stderr)
        return 1
    return 0


#: run flags -> RunConfig fields; with --resume each must be absent or equal to what the run recorded
_RESUME_FLAGS = {"tasks": ("--tasks", "tasks"), "methods": ("--methods", "methods"), "model": ("--model", "model"),
                 "seed": ("--seed", "seeds"), "output": ("--output", "output"), "limit": ("--limit", "limit"),
                 "include_path": ("--include-path", "include_paths"), "method_args": ("--method-args", "method_args"),
                 "task_set": ("--set", "task_overrides"), "device": ("--device", "device"),
                 "engine": ("--engine", "engine"), "no_cache": ("--no-cache", "use_cache")}


def _refuse_changes_on_resume(args: argparse.Namespace, ignore: frozenset[str] | set[str] = frozenset()) -> None:
    """A flag given with --resume that differs from the run's recorded configuration is an error, not
    silently ignored (the run continues with what it started with)."""
    import json
    from dataclasses import asdict

    defaults = build_parser().parse_args(["run"])
    given = [dest for dest in _RESUME_FLAGS if dest not in ignore and getattr(args, dest) != getattr(defaults, dest)]
    if not given:
        return
    try:
        recorded = json.loads((args.resume / "results.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # Runner.resume names what is wrong with the folder
    now = asdict(_run_config(args))
    differ = [_RESUME_FLAGS[d][0] for d in given if now[_RESUME_FLAGS[d][1]] != recorded.get(_RESUME_FLAGS[d][1])]
    if differ:
        raise MuError(f"--resume {args.resume}: {', '.join(differ)} differ{'s' if len(differ) == 1 else ''} from "
                      f"the run's recorded configuration; a resumed run keeps its own (drop "
                      f"{'it' if len(differ) == 1 else 'them'}, or start a new run)")


def cmd_list(args: argparse.Namespace) -> int:
    registry = _registry()
    rows: list[tuple[str, ...]]
    if args.kind in ("tasks", "groups"):
        from mu_registry.registry.task_index import TaskIndex  # on demand: --help stays fast

        index = TaskIndex(registry, args.include_path)
        if args.kind == "tasks":
            from mu_registry.data.preflight import needs  # on demand: --help stays fast

            times = _expected_times() if args.long else {}
            rows = [("task", "modality", "needs", *(("time (cold cache)",) if args.long else ()), "plugin",
                     "description")]
            for name, tf in sorted(index.tasks.items()):
                took = (_took(times.get(name)),) if args.long else ()
                try:
                    cfg = index.load(name).config
                    rows.append((name, cfg.modality, needs(cfg), *took, tf.source, cfg.description))
                except ConfigError as exc:
                    rows.append((name, "INVALID", "-", *took, tf.source, str(exc)))
        else:
            rows = [(name, ",".join(index.load_group(name).task), gf.source)
                    for name, gf in sorted(index.groups.items())]
    else:
        rows = []
        old: dict[str, list[str]] = {}
        for alias, target in registry.aliases(args.kind).items():
            old.setdefault(target.name, []).append(alias)
        for name in registry.names(args.kind):
            entry = registry.entry(args.kind, name)
            summary = entry.summary  # read from the source: nothing is imported
            types = registry.method_task_types(name) if args.kind == "methods" else summary.task_types
            formerly = f" (old names: {', '.join(old[name])})" if name in old else ""
            rows.append((name, entry.source, ",".join(types), summary.description + formerly))
    _print_rows(rows)
    return 0


def _expected_times() -> dict[str, Any]:
    """The built-in tasks' measured run times (tasks/expected_times.json, written by benchmarks/task_times.py)."""
    import json
    from importlib import resources

    try:
        return json.loads(resources.files("mu_registry_tasks").joinpath("expected_times.json").read_text())
    except (FileNotFoundError, ModuleNotFoundError, ValueError):
        return {}


def _took(figure: dict[str, Any] | None) -> str:
    from mu_registry.util.progress import duration  # on demand: --help stays fast

    if not figure:
        return "-"
    return f"{duration(figure['wall_s'])} ({figure['cores']} cores, load {figure['load_before']:.1f})"


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = _registry()
    for name, info in sorted(registry.plugins.items()):
        dist = f"{info.distribution} {info.version}" if info.distribution else "(not installed)"
        print(f"{name}  [{dist}]  {info.status}" + (f": {info.error}" if info.error else ""))
        for kind, names in sorted(info.registered.items()):
            print(f"    {kind}: {', '.join(names)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from mu_registry.report.compare import compare, load_results, render  # on demand: --help stays fast

    if args.tolerance < 0 or args.spread < 0:
        raise MuError(f"--tolerance {args.tolerance} / --spread {args.spread}: must be 0 or more")
    renames = {old: new for old, new in _registry().method_renames().items() if "[" not in new}
    result = compare(load_results(args.run_a), load_results(args.run_b), tolerance=args.tolerance,
                     spread=args.spread, renames=renames)
    print(render(result, str(args.run_a), str(args.run_b), show=args.show))
    return 0 if result.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from mu_registry.report.plots import write_plots  # on demand: --help stays fast
    from mu_registry.report.tables import render_tables  # on demand: --help stays fast

    path = args.run_dir / "results.json"
    if not path.exists():
        raise MuError(f"{args.run_dir}: no results.json here (give a run folder: OUTPUT/<run-id>)")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MuError(f"{path}: not valid JSON ({exc})") from None
    if args.answers:
        from mu_registry.report.answers import report_answers  # on demand: --help stays fast

        if args.sample < 0:
            raise MuError(f"--sample {args.sample}: must be 0 or more")
        text, page = report_answers(args.run_dir, sample=args.sample)
        print(text)
        print(f"answers page: {page}")
        return 0
    print(render_tables(results, run_dir=args.run_dir))
    for plot in write_plots(results, args.run_dir / "plots"):
        print(f"plot: {plot}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from mu_registry.papers.leaderboard import (  # on demand: --help stays fast
        build_tables, render_text, run_configs, scan_runs, write_reports)
    from mu_registry.papers.published import load_published  # on demand: --help stays fast

    _check_limit(args.limit)
    suite = load_published(args.suite if args.suite else args.published)
    roots = list(args.results)
    if not roots:
        roots = run_configs(suite, _registry(), output=args.output, stand_in=args.stand_in,
                            extra_methods=args.methods, seeds=args.seed, limit=args.limit,
                            include_paths=args.include_path, device=args.device, configs=args.configs)
    tables = build_tables(suite, scan_runs(roots), stand_in_only=args.stand_in, configs=args.configs)
    print(render_text(suite, tables))
    for path in write_reports(suite, tables, args.output):
        print(f"wrote {path}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from mu_registry.data.sources import data_root, source, sources  # on demand: --help stays fast

    root = data_root(args.dir)
    if args.data_command == "list":
        rows = []
        for name, src in sources(image_root=args.image_root).items():
            status = src.status(root)
            rows.append((name, status.label(), str(src.target(root)), src.origin, src.licence + (
                f"; {status.note}" if status.note else "")))
        print(f"data folder: {root}")
        _print_rows([("name", "status", "goes to", "origin", "licence"), *rows])
        return 0
    src = source(args.name, image_root=args.image_root)
    if args.data_command == "get":
        for line in src.get(root, progress=not args.no_progress):
            print(line)
        return 0
    problems = src.check(root)
    for line in problems:
        print(f"mu-eval: problem: {line}", file=sys.stderr)
    if not problems:
        print(f"ok      {args.name}: {src.target(root)}")
    return 1 if problems else 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    from mu_registry.registry.task_index import TaskIndex  # on demand: --help stays fast

    index = TaskIndex(_registry(), args.include_path, overrides=_task_overrides(args.task_set))
    found = index.tasks.get(args.name) or index.groups.get(args.name)
    if found is None:
        index.resolved(args.name)  # raises the "unknown task ... did you mean" error
    assert found is not None
    print(f"# {args.name}: {found.path} (from {found.source})")
    if args.raw or args.name in index.groups:
        text = found.path.read_text(encoding="utf-8")
        print(text, end="" if text.endswith("\n") else "\n")
        return 0
    index.load(args.name)  # the resolved keys must form a valid task
    raw = index.resolved(args.name)
    first = {k: raw[k] for k in ("task", "description") if k in raw}
    print(yaml.safe_dump({**first, **raw}, sort_keys=False, allow_unicode=True, width=110), end="")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    import json

    from mu_registry.evaluation.judging import make_judge  # on demand: --help stays fast
    from mu_registry.report.judge_check import check, read_graded, render, split_of  # on demand: --help stays fast
    from mu_registry.config.checks import refuse_secrets  # on demand: --help stays fast

    rows = read_graded(args.graded)
    if args.split != "all":
        rows = [r for r in rows if split_of(r) == args.split]
        if not rows:
            raise MuError(f"{args.graded}: no rows in the {args.split} half")
    judge_args = _task_overrides(args.judge_args)
    refuse_secrets(judge_args, where="--judge-args")
    judge = make_judge(_registry(), args.judge, judge_args, source="mu-eval judge check",
                       keys=("--judge", "--judge-args"))
    result = check(judge, rows)
    label = f"{args.judge} on {args.graded}" + (f" ({args.split} half)" if args.split != "all" else "")
    print(render(result, label=label, show_disagreements=args.show))
    if args.json is not None:
        from mu_registry.util.atomic import atomic_write_text  # on demand: --help stays fast

        atomic_write_text(args.json, json.dumps(result.to_dict(), indent=1) + "\n")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from mu_registry.data.classification import build_task  # on demand: --help stays fast
    from mu_registry.registry.task_index import TaskIndex  # on demand: --help stays fast

    registry = _registry()
    index = TaskIndex(registry, args.include_path)
    errors = [str(e) for e in index.broken] if not args.names else []
    names = index.expand(args.names) if args.names else sorted(index.tasks)
    if not args.names:
        for group in sorted(index.groups):
            try:
                index.expand([group])
                print(f"ok      group {group}")
            except MuError as exc:
                errors.append(str(exc))
    for name in names:
        try:
            loaded = index.load(name)
            index.check(loaded)
            if args.load:
                data = build_task(loaded, registry)
                print(f"ok      {name}  (train {len(data.train)}, test {len(data.test)}, forget {len(data.forget)})")
            else:
                print(f"ok      {name}")
        except MuError as exc:
            errors.append(str(exc))
    for e in errors:
        print(f"mu-eval: error: {e}", file=sys.stderr)
    return 2 if errors else 0


def _print_rows(rows: list[tuple[str, ...]]) -> None:
    if not rows:
        print("(none)")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
