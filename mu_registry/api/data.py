"""Data containers shared by tasks, models, methods and metrics.

A :class:`Split` is a columnar set of examples with stable ``ids`` (the
example's row index in its source split), so a forget set can be named by ids
and found again after any subsampling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _take(column: Any, positions: np.ndarray) -> Any:
    if isinstance(column, np.ndarray):
        return column[positions]
    if hasattr(column, "index_select"):  # torch tensor
        import torch

        return column.index_select(0, torch.as_tensor(positions, dtype=torch.long))
    return [column[int(i)] for i in positions]


@dataclass
class Split:
    """Examples stored column by column; every column has ``len(ids)`` rows."""

    name: str
    columns: dict[str, Any]
    ids: np.ndarray

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        for key, col in self.columns.items():
            if len(col) != len(self.ids):
                raise ValueError(f"split '{self.name}': column '{key}' has {len(col)} rows, ids have {len(self.ids)}")

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, positions: Sequence[int] | np.ndarray, name: str | None = None) -> Split:
        """A new split with the rows at ``positions`` (0-based row positions, not ids)."""
        pos = np.asarray(positions, dtype=np.int64)
        return Split(name or self.name, {k: _take(v, pos) for k, v in self.columns.items()}, self.ids[pos])

    def select_ids(self, ids: Sequence[int] | np.ndarray, name: str | None = None) -> Split:
        """Rows whose id is in ``ids``, in this split's order."""
        mask = np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        return self.take(np.flatnonzero(mask), name)

    def drop_ids(self, ids: Sequence[int] | np.ndarray, name: str | None = None) -> Split:
        """Rows whose id is not in ``ids``."""
        mask = ~np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        return self.take(np.flatnonzero(mask), name)

    def fingerprint(self) -> str:
        """A content hash of ids and columns (arrays hashed by bytes, lists by repr)."""
        h = hashlib.sha256(self.ids.tobytes())
        for key in sorted(self.columns):
            col = self.columns[key]
            h.update(key.encode())
            if isinstance(col, np.ndarray):
                h.update(str(col.dtype).encode() + str(col.shape).encode())
                h.update(np.ascontiguousarray(col).tobytes())
            else:
                for item in col:
                    h.update(item.tobytes() if isinstance(item, np.ndarray) else repr(item).encode())
        return h.hexdigest()[:16]


@dataclass
class Request:
    """One unlearning request: forget ``forget``; what remains to keep is ``retain``.

    In a sequence of requests, ``retain`` is the training data minus every
    forget set so far, and ``forgotten`` the union of all forget sets so far.
    """

    index: int
    forget: Split
    retain: Split
    forgotten: Split


@dataclass
class TaskData:
    """Everything a run needs from a task: splits, requests and the label space."""

    train: Split
    test: Split
    requests: list[Request]
    num_classes: int
    input_columns: list[str]
    label_column: str
    extra: dict[str, Split] = field(default_factory=dict)
    class_names: list[str] | None = None

    @property
    def forget(self) -> Split:
        """The forget set of a single-shot task (all requests' forget sets together)."""
        return self.requests[-1].forgotten

    @property
    def retain(self) -> Split:
        return self.requests[-1].retain

    def eval_sets(self, request_index: int) -> dict[str, Split]:
        """The sets evaluated after request ``request_index``.

        ``forget`` is everything forgotten so far; with several requests each
        earlier request's forget set is also evaluated as ``forget_<j>``.
        """
        req = self.requests[request_index]
        sets = {"forget": req.forgotten, "retain": req.retain, "test": self.test}
        if len(self.requests) > 1:
            for j in range(request_index + 1):
                sets[f"forget_{j}"] = self.requests[j].forget
        sets.update(self.extra)
        return sets
