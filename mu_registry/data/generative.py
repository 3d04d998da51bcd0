"""Turns a generative task's config into its request stream (the one place that does it).

Every request forgets the rows about some entities (``columns.unit``) and has retain rows of its
own; after each request the runner evaluates every request's forget set (seen phrasing), its
paraphrases (generality), every retain set, and the ``general`` set of entities that no request
touches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mu_registry.api.data import Split
from mu_registry.util.errors import ConfigError, MuError
from mu_registry.registry.manager import Registry
from mu_registry.data.classification import load_source_splits
from mu_registry.config.task import TaskConfig
from mu_registry.registry.task_index import LoadedTask


@dataclass
class QARequest:
    index: int
    name: str
    forget: Split
    retain: Split
    forget_units: list[str]
    paraphrase: Split | None  # paraphrased probes of the forgotten entities' facts


@dataclass
class QATaskData:
    train: Split  # what the original model learns (all knowledge)
    requests: list[QARequest]
    general: Split | None  # entities no request forgets or retains
    phases: dict[str, Split]  # phase name -> training rows of that phase (empty without a phase column)
    #: every entity of the training data before ``limit`` shrank it, in order of appearance
    all_units: list[str] = field(default_factory=list)

    def eval_sets(self) -> dict[str, Split]:
        """Every set evaluated after every request (the same sets each time, so a matrix forms)."""
        sets: dict[str, Split] = {}
        for r in self.requests:
            sets[f"forget_{r.name}"] = r.forget
            if r.paraphrase is not None and len(r.paraphrase):
                sets[f"paraphrase_{r.name}"] = r.paraphrase
            sets[f"retain_{r.name}"] = r.retain
        if self.general is not None and len(self.general):
            sets["general"] = self.general
        return sets


def _units(split: Split, column: str) -> list[str]:
    return [str(u) for u in split.columns[column]]


def _rows_of(split: Split, column: str, units: set[str], name: str) -> Split:
    keep = np.asarray([u in units for u in _units(split, column)], dtype=bool)
    return split.take(np.flatnonzero(keep), name)


def build_qa_task(loaded: LoadedTask, registry: Registry, *, units: list[str] | None = None,
                  limit: int | None = None) -> QATaskData:
    """The request stream; ``units`` restricts the entities that may be forgotten or retained (PULSE's
    best-known entities), the others going to the general set. ``limit`` (``--limit``) keeps at most that
    many rows of every split: the training rows (and each training phase), each request's forget,
    retain and paraphrase sets, and the general set, so any task can be smoke-tested in seconds; the
    requests themselves (which entities) are chosen from the whole data as without a limit."""
    cfg: TaskConfig = loaded.config
    life = cfg.lifelong
    assert life is not None and cfg.columns.unit is not None
    unit = cfg.columns.unit
    splits = load_source_splits(loaded, registry)
    source = str(loaded.path)
    for col in [*cfg.columns.inputs, cfg.columns.label, unit]:
        for role, split in splits.items():
            if col not in split.columns and not (role != "train" and col in cfg.columns.inputs[1:]):
                raise ConfigError(source, "columns", f"split '{role}' has no column '{col}' "
                                  f"(it has: {', '.join(sorted(split.columns))})")
    paraphrase_all = splits.get(life.paraphrase_split) if life.paraphrase_split else None
    if life.paraphrase_split and paraphrase_all is None:
        raise ConfigError(source, "lifelong.paraphrase_split", f"no split '{life.paraphrase_split}' "
                          f"(splits: {', '.join(sorted(splits))})")

    variants: dict[str, Split | None] = {}
    if life.request_splits:
        requests = []
        for spec in life.request_splits:
            for role in (spec.forget, spec.retain):
                if role not in splits:
                    raise ConfigError(source, "lifelong.request_splits", f"request '{spec.name}' names split "
                                      f"'{role}', which the dataset does not have ({', '.join(sorted(splits))})")
            forget, retain = splits[spec.forget], splits[spec.retain]
            para = None
            if life.variant_column:
                forget, para = _by_variant(forget, life.variant_column, life.seen_variants, source)
                retain, _ = _by_variant(retain, life.variant_column, life.seen_variants, source)
            units = sorted(set(_units(forget, unit)))
            requests.append((spec.name, forget, retain, units))
            variants[spec.name] = para
        train_parts = [r[1] for r in requests] + [r[2] for r in requests]
        train = concat_splits(train_parts, "train")
        general = None
    else:
        if "train" not in splits:
            raise ConfigError(source, "dataset.splits", "generated requests need a 'train' split")
        train = splits["train"]
        all_units = list(dict.fromkeys(_units(train, unit)))
        pool = all_units if units is None else [u for u in all_units if u in set(units)]
        eligible = pool
        if life.forget_filter:
            for col, value in life.forget_filter.items():
                if col not in train.columns:
                    raise ConfigError(source, "lifelong.forget_filter", f"no column '{col}'")
            eligible = list(dict.fromkeys(
                u for i, u in enumerate(_units(train, unit))
                if u in set(pool) and all(str(train.columns[c][i]) == v for c, v in life.forget_filter.items())))
        need_f = life.requests * life.forget_units
        if need_f > len(eligible):
            raise ConfigError(source, "lifelong", f"{life.requests} requests x {life.forget_units} entities need "
                              f"{need_f} entities to forget; only {len(eligible)} are eligible")
        rng = np.random.default_rng(life.seed)
        forget_pool = [eligible[i] for i in rng.permutation(len(eligible))[:need_f]]
        rest = [u for u in pool if u not in set(forget_pool)]
        rest = [rest[i] for i in rng.permutation(len(rest))]
        need_r = life.requests * life.retain_units
        if need_r > len(rest):
            raise ConfigError(source, "lifelong", f"{life.requests} requests x {life.retain_units} retain entities "
                              f"need {need_r} entities besides the forgotten ones; only {len(rest)} are left")
        requests = []
        for i in range(life.requests):
            f_units = sorted(forget_pool[i * life.forget_units:(i + 1) * life.forget_units])
            r_units = set(rest[i * life.retain_units:(i + 1) * life.retain_units])
            requests.append((str(i), _rows_of(train, unit, set(f_units), f"forget_{i}"),
                             _rows_of(train, unit, r_units, f"retain_{i}"), f_units))
        touched = set(forget_pool) | set(rest[:need_r])
        general = _rows_of(train, unit, set(all_units) - touched, "general")

    names = [r[0] for r in requests]
    order = life.order or names
    by_name = {r[0]: r for r in requests}
    out: list[QARequest] = []
    for index, name in enumerate(order):
        _, forget, retain, units = by_name[name]
        para = variants.get(name)
        if para is not None:
            para = para.take(range(len(para)), f"paraphrase_{name}")
        elif paraphrase_all is not None:
            para = _rows_of(paraphrase_all, unit, set(units), f"paraphrase_{name}")
            if life.request_splits:  # the release's variants also hold the forget questions themselves
                seen = set(str(q) for q in forget.columns[cfg.columns.inputs[0]])
                keep = [i for i, q in enumerate(para.columns[cfg.columns.inputs[0]]) if str(q) not in seen]
                para = para.take(keep)
        out.append(QARequest(index, name, forget, retain, units, para))
    if not any(len(r.forget) for r in out):
        raise MuError(f"{source}: every forget set is empty")

    phases: dict[str, Split] = {}
    if life.phase_column:
        if life.phase_column not in train.columns:
            raise ConfigError(source, "lifelong.phase_column", f"no column '{life.phase_column}' in the train split")
        values = np.asarray([str(v) for v in train.columns[life.phase_column]])
        for phase in ("pretrain", "finetune"):
            phases[phase] = train.take(np.flatnonzero(values == phase), phase)
    all_units = list(dict.fromkeys(_units(train, unit)))
    if limit is not None:
        out = [QARequest(r.index, r.name, _head(r.forget, limit), _head(r.retain, limit), r.forget_units,
                         _head(r.paraphrase, limit) if r.paraphrase is not None else None) for r in out]
        general = _head(general, limit) if general is not None else None
        phases = {k: _head(v, limit) for k, v in phases.items()}
        train = _head(train, limit)
    return QATaskData(train=train, requests=out, general=general, phases=phases, all_units=all_units)


def _head(split: Split, limit: int) -> Split:
    """The first ``limit`` rows."""
    return split if len(split) <= limit else split.take(np.arange(limit), split.name)


def _by_variant(split: Split, column: str, seen: list[int], source: str) -> tuple[Split, Split]:
    if column not in split.columns:
        raise ConfigError(source, "lifelong.variant_column", f"split '{split.name}' has no column '{column}'")
    is_seen = np.isin(np.asarray(split.columns[column], dtype=np.int64), np.asarray(seen, dtype=np.int64))
    return split.take(np.flatnonzero(is_seen), split.name), split.take(np.flatnonzero(~is_seen), split.name)


def concat_splits(parts: list[Split], name: str) -> Split:
    """Rows of several splits, each id kept once (MLUBench's retain sets overlap across tasks)."""
    seen: set[tuple[str, int]] = set()
    cols: dict[str, list] = {}
    ids: list[int] = []
    keys = set.intersection(*(set(p.columns) for p in parts))
    for p in parts:
        for pos in range(len(p)):
            key = (str(p.columns["qa_id"][pos]), int(p.ids[pos])) if "qa_id" in p.columns else (p.name, int(p.ids[pos]))
            if key in seen:
                continue
            seen.add(key)
            for k in keys:
                cols.setdefault(k, []).append(p.columns[k][pos])
            ids.append(len(ids))
    return Split(name, {k: (np.asarray(v) if isinstance(parts[0].columns[k], np.ndarray) else v)
                        for k, v in cols.items()}, np.asarray(ids, dtype=np.int64))
