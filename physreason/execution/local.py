"""The local backend: a pool of ``workers`` processes on this machine (in-process for one worker)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from physreason.execution.base import Backend, TaskResult, call_task, format_error


class LocalBackend(Backend):
    """``workers`` == 1 runs tasks in this process, one after the other; more starts a pool of
    spawned processes for each :meth:`run` (worker processes, and their caches, live for the run).

    At most ``2 * workers`` tasks are in flight at once, so a long list of videos does not pickle
    every task up front and an interrupted run has little queued work to throw away. A worker
    process that dies (killed, out of memory) fails the tasks it was running, the pool is
    restarted and the remaining tasks go on.
    """

    name = "local"

    def run(self, fn: Callable[[int], Any], indices: Sequence[int]) -> Iterator[TaskResult]:
        if self.workers == 1 or len(indices) <= 1:
            for index in indices:
                yield call_task(fn, index)
            return
        n_procs = min(self.workers, len(indices))
        pool = ProcessPoolExecutor(n_procs, mp_context=get_context("spawn"))
        pending = deque(indices)
        running: dict[Future, int] = {}

        def fill() -> None:
            while pending and len(running) < 2 * self.workers:
                try:
                    future = pool.submit(call_task, fn, pending[0])
                except BrokenProcessPool:  # a worker died since the last wait: its tasks fail there
                    return
                running[future] = pending.popleft()

        finished = False
        try:
            fill()
            while running or pending:
                broken = not running  # the pool broke with nothing of ours in flight
                if running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        index = running.pop(fut)
                        try:
                            yield fut.result()
                        except BrokenProcessPool:
                            broken = True
                            yield TaskResult(index, None, "WorkerDied: a worker process died while running this task")
                        except Exception as exc:  # e.g. the value could not be pickled
                            yield TaskResult(index, None, format_error(exc))
                if broken:
                    for fut, index in list(running.items()):  # the pool is gone: so are these tasks
                        running.pop(fut)
                        yield TaskResult(index, None, "WorkerDied: a worker process died while running this task")
                    pool.shutdown(wait=True)
                    pool = ProcessPoolExecutor(n_procs, mp_context=get_context("spawn"))
                fill()
            finished = True
        finally:
            pool.shutdown(wait=finished, cancel_futures=True)
