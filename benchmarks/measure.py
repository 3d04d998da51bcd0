"""Timing and memory for the benchmarks: the best of ``repeats`` wall times, and the peak resident memory
above the level at the start of the call (sampled every 5 ms from ``/proc/self/statm``; on a GPU, also
``torch.cuda.max_memory_allocated``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

PAGE = os.sysconf("SC_PAGE_SIZE")


def trim() -> None:
    """Give freed heap memory back to the system (glibc), so that memory a measured call reuses from an
    earlier call's freed blocks counts again in its resident size."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


@dataclass
class Measured:
    seconds: float  # best of the repeats
    peak_mb: float  # peak resident memory above the start, MiB (largest over the repeats)
    gpu_peak_mb: float | None
    out: Any


def measure(repeats: int, fn: Callable[[], Any]) -> Measured:
    times, peaks, out = [], [], None
    gpu = torch.cuda.is_available()
    for _ in range(repeats):
        trim()
        start_rss = rss()
        peak = [start_rss]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.005)

        thread = threading.Thread(target=sample, daemon=True)
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        thread.start()
        start = time.perf_counter()
        out = fn()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        stop.set()
        thread.join()
        peaks.append(max(peak[0], rss()) - start_rss)
    gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20 if gpu else None
    return Measured(min(times), max(peaks) / 2 ** 20, gpu_peak, out)


def load_note() -> str:
    """The machine's load average when the measurement started (other jobs share the cores)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def interleaved(repeats: int, fns: dict[str, Callable[[], Any]]) -> dict[str, Measured]:
    """``measure`` for several functions, taking turns in every repeat (so a change in the machine's load
    during the run falls on both sides alike); best time and largest peak per function."""
    out: dict[str, Measured] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            m = measure(1, fn)
            old = out.get(name)
            if old is None:
                out[name] = m
            else:
                out[name] = Measured(min(old.seconds, m.seconds), max(old.peak_mb, m.peak_mb),
                                     max(old.gpu_peak_mb or 0, m.gpu_peak_mb or 0) if m.gpu_peak_mb is not None
                                     else None, m.out)
    return out
