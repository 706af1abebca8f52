"""The execution layer without Ray: results in order, failures kept, options, the fit-a-directory command."""

from __future__ import annotations

import argparse
import functools
import importlib.util
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest

from physreason.cli import main
from physreason.errors import ConfigError
from physreason.execution import (TaskResult, add_backend_arguments, backend_from_args, format_error, make_backend,
                                  report_failures, run_videos)
from physreason.execution import local, probe
from physreason.execution.local import LocalBackend


def test_results_in_index_order_and_failures_kept(capsys: pytest.CaptureFixture) -> None:
    fn = functools.partial(probe.square_or_fail, bad=(3,))
    indices = [5, 3, 0, 7, 1]
    for backend in (None, LocalBackend(1), LocalBackend(2)):
        results = run_videos(fn, indices, backend, quiet=True)
        assert [r.index for r in results] == indices
        assert [r.value for r in results] == [25, None, 0, 49, 1]
        assert results[1].error == "ValueError: video 3 is broken on purpose"
    assert report_failures(results, "video") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["physreason: video 3 failed: ValueError: video 3 is broken on purpose",
                   "physreason: 1 of 5 videos failed (4 done); run the same command again to redo only what is missing"]
    assert report_failures([TaskResult(0, 1)], "video") == 0


def test_progress_bar_counts_done_failed_and_rate(capsys: pytest.CaptureFixture) -> None:
    run_videos(functools.partial(probe.square_or_fail, bad=(1,)), range(3), desc="demo")
    err = capsys.readouterr().err
    assert "demo: 3/3 videos, 1 failed," in err and "videos/s" in err


def test_error_is_one_line() -> None:
    assert format_error(RuntimeError("first\n  second\n")) == "RuntimeError: first second"
    assert format_error(KeyError()) == "KeyError"
    assert len(format_error(ValueError("x" * 2000))) < 520


def test_backend_options() -> None:
    parser = argparse.ArgumentParser()
    add_backend_arguments(parser)
    backend = backend_from_args(parser.parse_args(["--workers", "3"]))
    assert isinstance(backend, LocalBackend) and backend.workers == 3
    assert backend_from_args(parser.parse_args([])).workers == 1
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        backend_from_args(parser.parse_args(["--workers", "0"]))
    with pytest.raises(ConfigError, match="--address needs --backend ray"):
        backend_from_args(parser.parse_args(["--address", "127.0.0.1:6379"]))
    with pytest.raises(ConfigError, match="unknown backend"):
        make_backend("slurm")


def test_ray_missing_is_one_line_saying_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'physreason\[ray\]'"):
        make_backend("ray")
    assert main(["generate", "--out", "unused", "--videos", "1", "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "physreason[ray]" in err


def test_local_pool_survives_a_dying_worker() -> None:
    results = run_videos(functools.partial(_exit_on, bad=2), range(8), LocalBackend(2), quiet=True)
    assert results[2].error is not None and results[2].error.startswith("WorkerDied")
    # at most 2 * workers tasks are in flight when it dies and fail with it; the pool restarts for the rest
    assert sum(r.ok for r in results) >= 4 and all(r.value == r.index for r in results if r.ok)
    assert [r.index for r in results] == list(range(8))


class _PoolBrokenAtThirdSubmit(ProcessPoolExecutor):
    """A pool whose third submit finds it broken, as when a worker dies between a wait and the
    next submit; the tasks already submitted finish normally."""

    submits = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        type(self).submits += 1
        if type(self).submits == 3:
            raise BrokenProcessPool("a worker died")
        return super().submit(fn, *args, **kwargs)


def test_local_pool_survives_a_pool_found_broken_at_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The task that could not be submitted is not lost: it runs once the pool is back."""
    monkeypatch.setattr(local, "ProcessPoolExecutor", _PoolBrokenAtThirdSubmit)
    results = run_videos(functools.partial(_exit_on, bad=-1), range(6), LocalBackend(2), quiet=True)
    assert [r.index for r in results] == list(range(6)) and all(r.ok and r.value == r.index for r in results)


def _exit_on(index: int, bad: int) -> int:
    if index == bad:
        import os

        os._exit(3)
    return index
