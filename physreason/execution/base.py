"""The task result record, the task wrapper and the :class:`Backend` interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskResult:
    """What running ``fn(index)`` gave: its ``value``, or ``error`` ("ExcType: message", one line)."""

    index: int
    value: Any
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def format_error(exc: BaseException) -> str:
    """``"ExcType: message"`` on one line (the message's lines joined, at most 500 characters)."""
    message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if len(message) > 500:
        message = message[:497] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def call_task(fn: Callable[[int], Any], index: int) -> TaskResult:
    """Run ``fn(index)`` and catch any exception into the result (runs inside a worker)."""
    try:
        return TaskResult(index, fn(index))
    except Exception as exc:  # noqa: BLE001 - a failing video must not stop the others
        return TaskResult(index, None, format_error(exc))


class Backend(ABC):
    """Runs ``fn(i)`` for many indices and yields a :class:`TaskResult` for each as it finishes.

    A backend is a context manager: what it starts (processes, a Ray instance) is released by
    :meth:`close`. It may run several batches between start and close.
    """

    name: str = "?"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    @abstractmethod
    def run(self, fn: Callable[[int], Any], indices: Sequence[int]) -> Iterator[TaskResult]:
        """Yield one result per index, in completion order (any order)."""

    def start(self) -> None:
        """Start what the backend needs (a Ray instance); :meth:`run` calls it too. Idempotent."""

    def close(self) -> None:
        """Release what the backend started (idempotent)."""

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
