"""Progress on stderr: tqdm bars on a terminal; elsewhere (``> log``, nohup, CI) one status line per stage
and, while a stage runs, a line at least every ``$MU_PROGRESS_EVERY`` seconds (default 30) with how far
it is and an estimate of the time left. ``MU_PROGRESS=0`` silences both, ``MU_PROGRESS=1`` forces bars."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from tqdm.auto import tqdm

log = logging.getLogger("mu_registry")


def enabled() -> bool:
    """Bars: on a terminal, or forced with ``MU_PROGRESS=1``."""
    flag = os.environ.get("MU_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "no")
    return sys.stderr.isatty()


def _lines() -> bool:
    """Status lines instead of bars: not a terminal and not silenced."""
    return os.environ.get("MU_PROGRESS") is None and not sys.stderr.isatty()


def _every() -> float:
    try:
        return max(0.0, float(os.environ.get("MU_PROGRESS_EVERY", "30")))
    except ValueError:
        return 30.0


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# The heartbeat: off a terminal, a line at least every $MU_PROGRESS_EVERY seconds while a run works, even inside
# one long step (an evaluation of every set, a slow batch): "working (last: <the last line>, <time> ago)".
_HEART: dict[str, Any] = {"last_line": None, "at": 0.0, "beat": 0.0}
_LOCK = threading.Lock()
_THREAD: list[threading.Thread] = []


def _beat() -> None:
    while True:
        time.sleep(1.0)
        every = _every()
        with _LOCK:
            line, at, beat = _HEART["last_line"], _HEART["at"], _HEART["beat"]
            now = time.monotonic()
            if line is None or every <= 0 or not _lines() or now - max(at, beat) < max(every, 1.0):
                continue
            _HEART["beat"] = now
        log.info("working (last: %s, %s ago)", line, duration(now - at))


def _seen(line: str) -> None:
    """A status line was written: the heartbeat counts from now (and starts, the first time)."""
    with _LOCK:
        _HEART["last_line"], _HEART["at"] = line, time.monotonic()
        if not _THREAD:
            _THREAD.append(threading.Thread(target=_beat, name="mu-eval-heartbeat", daemon=True))
            _THREAD[0].start()


def idle() -> None:
    """The run has ended (or not started): no heartbeat lines until the next status line."""
    with _LOCK:
        _HEART["last_line"] = None


class StatusLines:
    """tqdm's interface as used here (``update``, ``close``, a context manager), written as log lines: one
    when the stage starts, one at most every ``every`` seconds while it runs, one when it ends."""

    def __init__(self, total: int | None = None, desc: str = "", unit: str = "it", initial: int = 0,
                 every: float | None = None, **_: Any):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.every = _every() if every is None else every
        self.start = self.last = time.monotonic()
        self.initial, self.closed = initial, False
        of = f" of {total} {unit}s" if total else ""
        log.info("%s: started%s%s", desc, of, f" (from {initial})" if initial else "")
        _seen(f"{desc}: started")

    def _line(self) -> str:
        elapsed = time.monotonic() - self.start
        done = self.n - self.initial
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        text = f"{self.desc}: {count} {self.unit}s"
        text += f", {duration(elapsed)}"
        if self.total and done > 0 and self.n < self.total:
            text += f", about {duration(elapsed / done * (self.total - self.n))} left"
        return text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every and (not self.total or self.n < self.total):
            self.last = now
            line = self._line()
            log.info("%s", line)
            _seen(line)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            log.info("%s: done (%s/%s %ss in %s)", self.desc, self.n, self.total if self.total else self.n,
                     self.unit, duration(time.monotonic() - self.start))
            _seen(f"{self.desc}: done")

    def __enter__(self) -> "StatusLines":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.closed = True  # an error or an interrupt: no "done" line


def progress(**kwargs: Any) -> Any:
    """A bar on a terminal, status lines elsewhere (see the module docstring), nothing with ``MU_PROGRESS=0``."""
    if _lines():
        return StatusLines(**kwargs)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(disable=not enabled(), file=sys.stderr, **kwargs)


def stage(message: str, *args: Any) -> None:
    """One status line for a stage of a run (a reference model, a method's request, an evaluation): logged
    when not on a terminal, written above the bars on one."""
    if _lines():
        log.info(message, *args)
        _seen(message % args if args else message)
    elif enabled():
        tqdm.write("mu-eval: " + (message % args if args else message), file=sys.stderr)
