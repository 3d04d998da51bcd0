"""Loading a task's data from a Hugging Face dataset (needs ``pip install mu-registry[hf]``).

Used when a task YAML sets ``dataset.path``. With network, ``path`` is a Hub id
(``uoft-cs/cifar100``); offline, the packaged builders (``csv``, ``json``,
``parquet``) with local ``data_files`` go through the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Split
from .errors import ConfigError, MuError
from .task_config import ColumnsConfig, DatasetConfig


def _column(values: list[Any]) -> Any:
    if values and all(isinstance(v, (int, float, bool, np.integer, np.floating)) for v in values):
        return np.asarray(values)
    return values


def load_hf_splits(ds: DatasetConfig, columns: ColumnsConfig, *, source: str) -> dict[str, Split]:
    try:
        import datasets
    except ImportError:
        raise MuError(f"{source}: dataset.path needs the 'datasets' package: pip install 'mu-registry[hf]'") from None
    wanted = [*columns.inputs, columns.label]
    out: dict[str, Split] = {}
    for role, split_name in ds.splits.items():
        try:
            d = datasets.load_dataset(ds.path, ds.name, split=split_name, revision=ds.revision,
                                      data_files=ds.data_files)
        except Exception as exc:
            raise ConfigError(source, "dataset.path", f"cannot load '{ds.path}' split '{split_name}': "
                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        missing = [c for c in wanted if c not in d.column_names]
        if missing:
            key = "columns.label" if columns.label in missing else f"columns.inputs[{columns.inputs.index(missing[0])}]"
            raise ConfigError(source, key, f"column '{missing[0]}' is not in split '{split_name}' "
                              f"(has: {', '.join(d.column_names)})")
        cols = {c: _column(d[c]) for c in wanted}
        out[role] = Split(role, cols, np.arange(len(d)))
    return out
