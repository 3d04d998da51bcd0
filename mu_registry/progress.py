"""Progress bars on stderr (tqdm), silenced with ``MU_PROGRESS=0`` or when not a terminal."""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.auto import tqdm


def enabled() -> bool:
    flag = os.environ.get("MU_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no")
    return sys.stderr.isatty()


def progress(**kwargs: Any) -> tqdm:
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(disable=not enabled(), file=sys.stderr, **kwargs)
