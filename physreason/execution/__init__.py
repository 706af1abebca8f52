"""Running one task per video on a backend: a local process pool or a Ray cluster.

Every per-video command (``generate``, ``perceive DIR``, ``fit DIR``, ``eval``) calls
:func:`run_videos` with ``fn`` — a picklable callable taking a video index (a module-level
function, or a :func:`functools.partial` of one) — and the indices to run. It returns one
:class:`TaskResult` per index, in the order of ``indices`` whatever the backend and worker count,
shows one progress bar (videos done / failed / per second) and never raises for a failing task:
the error is kept as one line, ``"ExcType: message"``, and :func:`report_failures` prints one
line per failure plus a summary and gives the exit code. Commands get their backend from
:func:`add_backend_arguments` (``--backend {local,ray} --workers K --address ADDR``) and
:func:`backend_from_args`; a :class:`Backend` is a context manager and may run many batches.
Tasks must be idempotent and resumable: write every output atomically
(:mod:`physreason.datasets.fileio`) and skip an index whose outputs already exist, so that a
re-run only redoes what is missing or failed and a killed run leaves no half-written file.
Heavy read-only state (model weights, compiled kernels) belongs in a module-level cache in the
task's module, e.g. ``@functools.cache def _model(path): ...`` called from the task: worker
processes live for the whole run (local pool) or the whole job (Ray), so the state is loaded once
per worker process, not once per task, and never pickled with each task.
"""

from __future__ import annotations

from physreason.execution.backends import (BACKENDS, Backend, TaskResult, add_backend_arguments, backend_from_args,
                                           call_task, format_error, make_backend, report_failures, run_videos)

__all__ = ["BACKENDS", "Backend", "TaskResult", "add_backend_arguments", "backend_from_args", "call_task",
           "format_error", "make_backend", "report_failures", "run_videos"]
