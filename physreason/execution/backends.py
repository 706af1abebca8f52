"""The registry of backends, their command-line options, :func:`run_videos` and :func:`report_failures`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from physreason.errors import ConfigError
from physreason.execution.base import Backend, TaskResult, call_task, format_error
from physreason.execution.local import LocalBackend
from physreason.execution.progress import Progress
from physreason.execution.ray_backend import INSTALL_HINT, RayBackend

__all__ = ["BACKENDS", "Backend", "TaskResult", "add_backend_arguments", "backend_from_args", "call_task",
           "format_error", "make_backend", "register_backend", "report_failures", "run_videos"]


def _make_local(workers: int | None, address: str | None) -> Backend:
    if address is not None:
        raise ConfigError("--address needs --backend ray")
    return LocalBackend(1 if workers is None else workers)


def _make_ray(workers: int | None, address: str | None) -> Backend:
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(INSTALL_HINT)
    return RayBackend(os.cpu_count() or 1 if workers is None else workers, address)


BACKENDS: dict[str, Callable[[int | None, str | None], Backend]] = {"local": _make_local, "ray": _make_ray}
"""Backend name -> factory(workers or None for the default, cluster address or None)."""


def register_backend(name: str, factory: Callable[[int | None, str | None], Backend]) -> None:
    """Make ``--backend NAME`` available (before the parser is built)."""
    BACKENDS[name] = factory


def make_backend(name: str = "local", workers: int | None = None, address: str | None = None) -> Backend:
    """A backend by name; bad options raise :class:`ConfigError`. Nothing is started yet."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend '{name}' (choose from {', '.join(sorted(BACKENDS))})")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if address is not None and not address.strip():
        raise ConfigError("--address must not be empty")
    return BACKENDS[name](workers, address)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend {local,ray}``, ``--workers K`` and ``--address ADDR`` to a command."""
    group = parser.add_argument_group("execution")
    group.add_argument("--backend", choices=sorted(BACKENDS), default="local",
                       help="where tasks run: 'local' (a pool of --workers processes, default) or 'ray'")
    group.add_argument("--workers", type=int, default=None,
                       help="parallel workers: processes for 'local' (default 1); CPUs of the private Ray "
                            "instance for 'ray' without --address (default: all cores)")
    group.add_argument("--address", default=None,
                       help="with --backend ray: the cluster to attach to (HOST:PORT of its head, or 'auto'); "
                            "without it a private Ray instance is started on this machine")


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The backend that ``add_backend_arguments``'s options ask for (not started yet)."""
    return make_backend(getattr(args, "backend", "local") or "local", getattr(args, "workers", None),
                        getattr(args, "address", None))


def run_videos(fn: Callable[[int], Any], indices: Sequence[int], backend: Backend | None = None, *,
               desc: str = "videos", quiet: bool = False,
               on_result: Callable[[TaskResult], None] | None = None) -> list[TaskResult]:
    """Run ``fn(i)`` for every ``i`` of ``indices`` on ``backend`` (default: in this process).

    Returns the results in the order of ``indices``; a task that raises gives a result with
    ``error`` set and the others go on. One progress bar on stderr (unless ``quiet``);
    ``on_result`` is called in this process as each task finishes (in completion order).
    The backend is not closed: the caller owns it (``with backend_from_args(args) as backend``).
    """
    indices = list(indices)
    if len(set(indices)) != len(indices):
        raise ValueError("run_videos: indices must be distinct")
    backend = backend or LocalBackend(1)
    results: dict[int, TaskResult] = {}
    backend.start()  # start-up (e.g. a Ray instance) is not counted in the rate
    with Progress(len(indices), desc=desc, quiet=quiet) as bar:
        for result in backend.run(fn, indices):
            results[result.index] = result
            bar.update(result.ok)
            if on_result is not None:
                on_result(result)
    return [results[i] for i in indices]


def report_failures(results: Sequence[TaskResult], what: str = "video") -> int:
    """Print one line per failed task and a summary on stderr; 1 if any task failed, else 0."""
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"physreason: {what} {r.index} failed: {r.error}", file=sys.stderr)
    if failed:
        print(f"physreason: {len(failed)} of {len(results)} {what}s failed "
              f"({len(results) - len(failed)} done); run the same command again to redo only what is missing",
              file=sys.stderr)
    return 1 if failed else 0
