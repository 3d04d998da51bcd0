"""Task and group YAML: the schema, ``include:`` inheritance, and one-line errors.

A task file looks like::

    include: _fashion_mnist.yaml      # inherit keys from a template (relative path)
    task: fashion-mnist-random
    dataset: {builder: fashion_mnist}
    columns: {inputs: [image], label: label}
    modality: image
    forget: {strategy: random, ratio: 0.1, seed: 0}
    model: {name: small_cnn, train: {epochs: 30, lr: 0.002}}
    metrics: [accuracy, gap_to_retrain]

A group file is ``{group: name, task: [task-or-group, ...]}``. Files whose name
starts with ``_`` are templates: only ever included, never listed as tasks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)

from mu_registry.config.checks import secret_key_in
from mu_registry.config.sampling import Sampling
from mu_registry.util.errors import ConfigError

MODALITIES = ("image", "text", "speech", "video", "image-image-text", "image-text", "tabular")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExtraSourceConfig(_Strict):
    """An evaluation set from another Hugging Face dataset (IMDB's out-of-distribution Rotten Tomatoes)."""

    path: str
    name: str | None = None
    split: str = "test"
    revision: str | None = None
    data_files: str | list[str] | dict[str, Any] | None = None
    load_args: dict[str, Any] = Field(default_factory=dict)


class HoldoutConfig(_Strict):
    """A role cut out of another role: a fixed fraction, stratified by label, drawn with seed 0 (part of
    the task, not of the run). Gives ``select_best`` a held-out evaluation split where the source has none
    (the offline builders); the rows leave the source role."""

    #: the role the rows are taken from (not "train": the forget set is chosen from it)
    source: str = "test"
    fraction: float = Field(gt=0, lt=1)


class DatasetConfig(_Strict):
    """Where the data comes from: a named local builder, or a Hugging Face dataset."""

    builder: str | None = None
    builder_args: dict[str, Any] = Field(default_factory=dict)
    path: str | None = None
    name: str | None = None
    revision: str | None = None
    #: local files (csv/json/parquet builders, or a data folder): ``~`` and ``$VARS`` are expanded and
    #: relative paths are taken from the task file's folder
    data_files: str | list[str] | dict[str, Any] | None = None
    #: further keyword arguments for ``datasets.load_dataset`` (``sep``, ``column_names``, ``trust_remote_code``)
    load_args: dict[str, Any] = Field(default_factory=dict)
    #: role -> another dataset, evaluated like the extra roles in ``splits`` (with ``path`` only)
    extra_sources: dict[str, ExtraSourceConfig] = Field(default_factory=dict)
    #: frames sampled evenly from each clip of a ``Video`` column
    video_frames: int = Field(default=16, ge=1)
    #: role -> source split; "train" and "test" are required, other roles become extra eval sets.
    splits: dict[str, str] = Field(default_factory=lambda: {"train": "train", "test": "test"})
    #: at most this many examples per role, a fixed random subset (seed 0) of the source split.
    max_examples: dict[str, int] = Field(default_factory=dict)
    #: new role -> the share of another role it is cut from (``eval: {source: test, fraction: 0.25}``)
    holdout: dict[str, HoldoutConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetConfig:
        if (self.builder is None) == (self.path is None):
            raise ValueError("give exactly one of 'builder' (a local builder) or 'path' (a Hugging Face dataset)")
        if self.extra_sources and self.path is None:
            raise ValueError("extra_sources needs a Hugging Face dataset ('path'), not a builder")
        clash = set(self.extra_sources) & set(self.splits)
        if clash:
            raise ValueError(f"role '{sorted(clash)[0]}' is both in splits and in extra_sources")
        for role, hold in self.holdout.items():
            if role in self.splits or role in self.extra_sources:
                raise ValueError(f"holdout.{role}: role '{role}' is already a split")
            if hold.source == "train":
                raise ValueError(f"holdout.{role}.source: cannot cut from 'train' (the forget set is chosen from it)")
            if hold.source not in self.splits:
                raise ValueError(f"holdout.{role}.source: '{hold.source}' is not a role under dataset.splits")
        return self


class ColumnsConfig(_Strict):
    inputs: list[str] = Field(min_length=1)
    label: str
    #: generative tasks: the column naming the entity a row is about (what a request forgets)
    unit: str | None = None
    #: generative tasks: the probe's form column (``multimodal`` / ``text``), reported separately
    form: str | None = None
    #: multiple-choice generative tasks: the column with each row's option texts (``label`` is the right one)
    options: str | None = None


class ForgetConfig(_Strict):
    """How the forget set is chosen from the training split."""

    strategy: Literal["random", "class", "ids"] = "random"
    #: fraction of the training set to forget (random, ids); 0.01 is MU-Bench's 1%.
    ratio: float | None = Field(default=0.01, gt=0, le=1)
    #: class labels to forget entirely (strategy: class)
    classes: list[int] = Field(default_factory=list)
    #: a file of training-set ids, one per line (strategy: ids): a path relative to the YAML file, or
    #: ``URL#sha256=<hex>``; or a mapping ratio -> file where each deletion ratio has its own file
    #: (MU-Bench's UCF101 masks)
    ids_file: str | dict[float, str] | None = None
    #: "ids": training-set indices, one a line; "mask": one 0/1 a line per training example
    ids_format: Literal["ids", "mask"] = "ids"
    seed: int = 0

    @model_validator(mode="after")
    def _strategy_fields(self) -> ForgetConfig:
        if self.strategy == "class" and not self.classes:
            raise ValueError("strategy 'class' needs 'classes'")
        if self.strategy == "ids" and not self.ids_file:
            raise ValueError("strategy 'ids' needs 'ids_file'")
        if self.strategy in ("random", "ids") and self.ratio is None:
            raise ValueError(f"strategy '{self.strategy}' needs 'ratio'")
        if isinstance(self.ids_file, dict) and self.ratio not in self.ids_file:
            raise ValueError(f"ids_file has no file for ratio {self.ratio} (has: "
                             f"{', '.join(str(r) for r in sorted(self.ids_file))})")
        return self

    def ids_file_for_ratio(self) -> str | None:
        """The ids file that applies to ``ratio``."""
        if isinstance(self.ids_file, dict):
            return self.ids_file[self.ratio]  # type: ignore[index]
        return self.ids_file


class RequestsConfig(_Strict):
    """How the forget set is cut into a sequence of unlearning requests."""

    count: int = Field(default=1, ge=1)
    #: "even": equal random parts; "by_class": one request per forgotten class
    split: Literal["even", "by_class"] = "even"


class TrainConfig(_Strict):
    epochs: int = Field(default=10, ge=0)
    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0)
    #: fraction of the steps spent warming the learning rate up linearly (transformers trained from scratch)
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)


class ModelConfig(_Strict):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    train: TrainConfig = Field(default_factory=TrainConfig)
    #: generative tasks with ``lifelong.phase_column``: a second stage on the ``finetune`` phase's rows
    #: (PULSE's fine-tuned knowledge), trained as a LoRA adapter and merged into the weights
    finetune: TrainConfig | None = None
    #: fraction of the pretrain phase's rows replayed during the fine-tuning stage, so that fine-tuning a
    #: small model on new facts does not wipe out the old ones (a large pretrained model keeps them anyway)
    finetune_replay: float = Field(default=0.0, ge=0, le=1)


class RequestSplitConfig(_Strict):
    """One request of a benchmark that publishes its requests as splits (MLUBench's Task A..D)."""

    name: str
    forget: str
    retain: str


class LifelongConfig(_Strict):
    """A stream of unlearning requests over the entities (``columns.unit``) of a generative task.

    Either ``request_splits`` names each request's forget and retain splits as the benchmark
    publishes them, or the requests are drawn from the training split: ``requests`` requests of
    ``forget_units`` entities each, every request with ``retain_units`` entities of its own to keep;
    the entities left over are the ``general`` set (knowledge no method sees during unlearning).
    """

    requests: int = Field(default=4, ge=1)
    forget_units: int = Field(default=3, ge=1)
    retain_units: int = Field(default=3, ge=0)
    request_splits: list[RequestSplitConfig] = Field(default_factory=list)
    #: request names in the order they arrive (default: as listed; generated requests are 0, 1, ...)
    order: list[str] | None = None
    #: only entities whose row has these column values may be forgotten ({phase: finetune})
    forget_filter: dict[str, str] = Field(default_factory=dict)
    #: the split holding paraphrased probes of the same facts (generality); rows of the forget entities
    paraphrase_split: str | None = None
    #: benchmarks that ship paraphrase variants inside each request's splits (MLUBench): the column
    #: numbering a row's variant; rows of ``seen_variants`` are unlearned and retained, the forget
    #: split's other variants are that request's paraphrase (generality) set
    variant_column: str | None = None
    seen_variants: list[int] = Field(default_factory=lambda: [0])
    #: PULSE's pre-trained scenario: only the ``select_known`` entities the original model answers best
    #: (accuracy on their training rows) are forgotten and retained; the others form the general set
    select_known: int | None = Field(default=None, ge=1)
    #: column that says whether a row was learned in ``pretrain`` or ``finetune``
    phase_column: str | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _order(self) -> LifelongConfig:
        names = [r.name for r in self.request_splits] or [str(i) for i in range(self.requests)]
        if self.order is not None:
            unknown = [o for o in self.order if o not in names]
            if unknown:
                raise ValueError(f"order names unknown request '{unknown[0]}' (requests: {', '.join(names)})")
        return self


class GenerationConfig(_Strict):
    """How a generative task is evaluated after every request."""

    #: the most tokens an answer may have (MLUBench's ``eval_unlearned_model.py`` / ``LUMoE.py``: 250;
    #: MLLMU-Bench's ``eval.py``: 50)
    max_new_tokens: int = Field(default=32, ge=1)
    #: "greedy" (the argmax at every step) or "sample" (``temperature``, ``top_k``, ``top_p``, ``seed``): MLUBench's
    #: evaluation scripts sample at temperature 0.2 (``do_sample=True if args.temperature > 0``)
    decoding: Literal["greedy", "sample"] = "greedy"
    #: sampling: the logits are divided by it (> 0; required with ``decoding: sample``, refused with greedy)
    temperature: float | None = Field(default=None, validate_default=True)
    #: sampling: only the k likeliest tokens (transformers' default 50; 0 = every token)
    top_k: int = Field(default=50, ge=0, validate_default=True)
    #: sampling: the smallest set of likeliest tokens whose probability reaches top_p (1 = every token)
    top_p: float = Field(default=1.0, gt=0, le=1, validate_default=True)
    #: sampling: each row draws from its own generator seeded by this and the row's content (prompt, images),
    #: so the same seed gives the same answers on any batch size, order or engine path; one_shot: which
    #: entity of each set is the example
    seed: int = 0
    #: multiple choice (letter scoring): MLLMU-Bench ``eval.py``'s example before every question: one entity of
    #: the set drawn, every question of the same form of that entity shown with its correct letter, that
    #: entity's rows left out of the set's scores
    one_shot: bool = False
    #: "generate": greedy answers, judged; "choice": the option whose text the model finds likeliest
    #: (token-mean log-likelihood after the question and the lettered options), as PULSE scores MLLMU-Bench
    mode: Literal["generate", "choice"] = "generate"
    #: choice mode: "letter" (MLLMU-Bench eval.py: the options lettered in the prompt, a greedy answer, its
    #: first character the chosen letter, no letter = wrong) or "likelihood" (the option with the lowest
    #: token-mean NLL; a variant)
    choice_scoring: Literal["letter", "likelihood"] = "letter"
    #: judge plugin scoring answers with MLUBench's 0/1/2 rubric (``rule``: deterministic, offline)
    judge: str = "rule"
    judge_args: dict[str, Any] = Field(default_factory=dict)
    #: answers are cut at the first of these strings (as well as at end of sequence)
    stop: list[str] = Field(default_factory=list)
    #: evaluation engine: transformers, vllm (GPU), or auto (vllm where it can serve the model)
    engine: Literal["auto", "transformers", "vllm"] = "auto"
    #: keyword arguments of the vLLM engine (gpu_memory_utilization, max_model_len, max_loras, ...);
    #: ignored where the transformers engine runs
    engine_args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v: float | None, info: ValidationInfo) -> float | None:
        decoding = info.data.get("decoding")
        if decoding == "sample" and v is None:
            raise ValueError("decoding 'sample' needs a temperature > 0 (MLUBench's scripts sample at 0.2)")
        if decoding == "greedy" and v is not None:
            raise ValueError(f"{v} is for decoding 'sample'; greedy decoding takes the argmax (set decoding: sample, "
                             "or leave temperature out)")
        if v is not None and not v > 0:
            raise ValueError(f"must be greater than 0 (got {v}); temperature 0 is greedy decoding")
        return v

    @field_validator("top_k", "top_p")
    @classmethod
    def _sampling_only(cls, v: Any, info: ValidationInfo) -> Any:
        default = cls.model_fields[info.field_name].default
        if info.data.get("decoding") == "greedy" and v != default:
            raise ValueError(f"{v} is for decoding 'sample'; greedy decoding takes the argmax")
        return v

    @model_validator(mode="after")
    def _one_shot(self) -> "GenerationConfig":
        if self.one_shot and (self.mode != "choice" or self.choice_scoring != "letter"):
            raise ValueError("one_shot is MLLMU-Bench's lettered multiple-choice example: it needs mode 'choice' "
                             "with choice_scoring 'letter'")
        if self.decoding == "sample" and self.mode == "choice" and self.choice_scoring == "likelihood":
            raise ValueError("decoding 'sample' applies to generated answers; choice_scoring 'likelihood' "
                             "generates none")
        return self

    def sampling(self) -> Sampling | None:
        """The engines' sampling settings (``None``: greedy decoding)."""
        if self.decoding == "greedy":
            return None
        assert self.temperature is not None
        return Sampling(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, seed=self.seed)

    @model_validator(mode="after")
    def _no_secrets(self) -> "GenerationConfig":
        name = secret_key_in(self.judge_args)
        if name is not None:  # the task config is written into results.json: keys come from the environment
            raise ValueError(f"judge_args.{name}: a literal API key is refused (the task config is written into "
                             "results.json); put the key in an environment variable and name it with "
                             "judge_args.api_key_env (default OPENAI_API_KEY)")
        return self


class GeneralBenchmarksConfig(_Strict):
    """lm-eval benchmarks of general capability, run on the model in memory after every request."""

    #: lm-eval task names (``mu_world_capitals`` and ``mu_world_capitals_gen`` run offline; others need their data)
    tasks: list[str] = Field(min_length=1)
    #: extra folders of lm-eval task YAML (relative to this file)
    include_path: list[str] = Field(default_factory=list)
    num_fewshot: int | None = None
    limit: int | float | None = None
    batch_size: int | Literal["auto"] = "auto"


class SelectBestConfig(_Strict):
    """Keep the epoch of each method that scores best on a held-out evaluation split (MU-Bench's
    ``load_best_model_at_end``; see ``mu_registry/best_epoch.py``)."""

    #: a registered metric; its value (or its ``score``) is computed with ``split`` in the test role
    metric: str = "mubench_overall"
    #: an evaluation role under dataset.splits; never the test split
    split: str = "eval"

    @field_validator("split")
    @classmethod
    def _not_test(cls, v: str) -> str:
        if v == "test":
            raise ValueError("select_best.split must be a held-out evaluation split, not 'test'")
        return v


class LmmsBenchmarksConfig(_Strict):
    """lmms-eval benchmarks of multimodal general capability (PULSE: MMBench), on the model in memory
    after every request (``pip install 'mu-registry[lmms]'``; see mu_registry.evaluation.benchmarks.lmms_eval)."""

    #: lmms-eval task names (``mmbench_en_dev_static``: MMBench with its rule-based option extraction)
    tasks: list[str] = Field(min_length=1)
    #: extra folders of lmms-eval task YAML (relative to this file)
    include_path: list[str] = Field(default_factory=list)
    limit: int | float | None = None
    #: cap on generated tokens per answer (MMBench asks for a letter)
    max_new_tokens: int = Field(default=16, ge=1)


class TaskConfig(_Strict):
    task: str
    description: str = ""
    version: int | str = 1
    task_type: Literal["classification", "generation"] = "classification"
    dataset: DatasetConfig
    columns: ColumnsConfig
    modality: Literal[MODALITIES]  # type: ignore[valid-type]
    num_classes: int | None = Field(default=None, ge=2)
    class_names: list[str] | None = None
    forget: ForgetConfig = Field(default_factory=ForgetConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    model: ModelConfig
    #: per-method hyperparameter overrides: {method: {param: value}}
    methods: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: named configurations of a method, run and recorded under their own name beside the method's plain one:
    #: {name: {method: algorithm, param: value, ...}} (MLUBench's "KL" is ga_klr: graddiff with retain_loss: kl)
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: methods run when the CLI gives no --methods
    default_methods: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=lambda: ["accuracy", "gap_to_retrain"])
    #: evaluation batch size, or "auto": the largest that fits in memory (halved on out-of-memory errors)
    eval_batch_size: int | Literal["auto"] = Field(default=512)
    #: classification: keep each method's best epoch by a metric on an evaluation split (None: the last)
    select_best: SelectBestConfig | None = None

    @model_validator(mode="after")
    def _select_best_split(self) -> "TaskConfig":
        roles = [*self.dataset.splits, *self.dataset.holdout]
        if self.select_best is not None and self.select_best.split not in roles:
            raise ValueError(f"select_best.split: '{self.select_best.split}' is not a role under dataset.splits "
                             f"or dataset.holdout ({', '.join(roles)})")
        return self

    @model_validator(mode="after")
    def _presets_name_a_method(self) -> "TaskConfig":
        for name, preset in self.presets.items():
            if not isinstance(preset.get("method"), str) or not preset["method"]:
                raise ValueError(f"presets.{name}: needs 'method: <registered method>' (then its parameters)")
        return self

    @model_validator(mode="after")
    def _positive_batch(self) -> "TaskConfig":
        if isinstance(self.eval_batch_size, int) and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be at least 1 or 'auto' (got {self.eval_batch_size})")
        return self
    #: generative tasks: the request stream and how answers are generated and judged
    lifelong: LifelongConfig | None = None
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    #: generative tasks: general-capability benchmarks through lm-eval, after every request
    general_benchmarks: GeneralBenchmarksConfig | None = None
    #: generative multimodal tasks: general-capability benchmarks through lmms-eval (MMBench), after every request
    lmms_benchmarks: LmmsBenchmarksConfig | None = None

    @model_validator(mode="after")
    def _generation_keys(self) -> TaskConfig:
        if self.task_type == "classification":
            for role in ("train", "test"):
                if role not in self.dataset.splits:
                    raise ValueError(f"dataset.splits must map '{role}'")
        if self.task_type == "generation":
            if self.lifelong is None:
                raise ValueError("a generation task needs a 'lifelong' block (its unlearning requests)")
            if self.columns.unit is None:
                raise ValueError("a generation task needs columns.unit (the entity a row is about)")
            if self.generation.mode == "choice" and self.columns.options is None:
                raise ValueError("generation.mode 'choice' needs columns.options (each row's option texts)")
            if "metrics" in self.model_fields_set:
                raise ValueError("a generation task is scored by generation.judge; 'metrics' is for classification")
        elif self.lifelong is not None:
            raise ValueError("'lifelong' applies to task_type: generation only")
        return self


class GroupConfig(_Strict):
    group: str
    task: list[str] = Field(min_length=1)
    description: str = ""


# ------------------------------------------------------------------ loading
def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), None, f"YAML syntax error{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), None, f"expected a mapping of keys, got {type(data).__name__}")
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_includes(path: Path, _stack: tuple[Path, ...] = (),
                     by_name: Callable[[str], Path | None] | None = None) -> dict[str, Any]:
    """The file's keys on top of everything it ``include:``s (recursively): a path relative to the file,
    or else the name of a known task (``include: digits-class``), looked up with ``by_name``."""
    path = path.resolve()
    if path in _stack:
        chain = " -> ".join(p.name for p in (*_stack, path))
        raise ConfigError(str(path), "include", f"include cycle: {chain}")
    raw = read_yaml(path)
    includes = raw.pop("include", None)
    if includes is None:
        return raw
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise ConfigError(str(path), "include", "must be a file name or a list of file names")
    merged: dict[str, Any] = {}
    for inc in includes:
        target: Path | None = path.parent / inc
        if not target.exists():
            target = by_name(inc) if by_name is not None else None
        if target is None:
            raise ConfigError(str(path), "include", f"included file '{inc}' does not exist (nor is it a task name)")
        merged = deep_merge(merged, resolve_includes(target, (*_stack, path), by_name))
    return deep_merge(merged, raw)


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        elif item in ("function-after[_one_source()]",) or str(item).startswith("function-"):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts) or None  # type: ignore[return-value]


def _problem(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], dict):
        msg = f"{msg} (got {err['input']!r})"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg


def config_error(exc: ValidationError, source: str) -> ConfigError:
    """One line naming ``source`` and every problem pydantic found (each key at fault and what is wrong),
    so a file is fixed in one pass."""
    errors = exc.errors()
    first = errors[0]
    msg = _problem(first)
    rest = [f"{_format_loc(e['loc']) or '(top level)'}: {_problem(e)}" for e in errors[1:]]
    if rest:
        msg += f"; and {len(rest)} more: " + "; ".join(rest)
    return ConfigError(source, _format_loc(first["loc"]), msg)


def validate_task(data: dict[str, Any], source: str) -> TaskConfig:
    try:
        return TaskConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source) from None


def validate_group(data: dict[str, Any], source: str) -> GroupConfig:
    try:
        return GroupConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(source, _format_loc(err["loc"]), msg) from None


def content_hash(config: TaskConfig) -> str:
    """A hash of the resolved configuration (after includes)."""
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
