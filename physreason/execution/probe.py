"""Tiny per-index tasks for checking a backend: tests, ``scripts/bench_scale.py`` and cluster smoke checks.

Module-level so that worker processes (local or Ray) import them by name.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from physreason.datasets.fileio import write_json


def echo(index: int) -> int:
    """Returns ``index`` (a task that does nothing: its time is the backend's overhead)."""
    return index


def square_or_fail(index: int, bad: tuple[int, ...] = ()) -> int:
    """``index ** 2``, or a ValueError for the indices in ``bad``."""
    if index in bad:
        raise ValueError(f"video {index} is broken on purpose")
    return index * index


def busy(index: int, seconds: float = 0.01) -> int:
    """Spins the CPU for ``seconds`` and returns ``index``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return index


def write_once(index: int, out: str) -> bool:
    """Writes ``out/item_NNNNN.json`` (atomically) unless it exists; True if it wrote it.

    Also appends the index to ``out/work.log``, so a test can see what each run redid.
    """
    path = Path(out) / f"item_{index:05d}.json"
    if path.is_file():
        return False
    write_json(path, {"index": index, "square": index * index})
    with open(Path(out) / "work.log", "a") as fh:
        fh.write(f"{index} {os.getpid()}\n")
    return True
