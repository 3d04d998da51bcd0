"""What every table shares: set order, the reference rows' names, mean±sd cells, the rows of one seed."""

from __future__ import annotations

import math
import statistics
from typing import Any

SET_ORDER = ("forget", "retain", "test")
# reference rows, named apart from methods (there is a method called "retrain")
ORIGINAL_ROW = "[original]"
RETRAIN_ROW = "[retrain]"


def fmt_values(values: list[float]) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f}±{statistics.stdev(values):.3f}"


def model_records(seed_rec: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(row name, record) for one seed: the original, the retrain reference, then each method."""
    return [(ORIGINAL_ROW, seed_rec.get("original")), (RETRAIN_ROW, seed_rec.get("retrain")),
            *seed_rec.get("methods", {}).items()]
