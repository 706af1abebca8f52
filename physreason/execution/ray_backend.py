"""The Ray backend: one Ray task per video on a local Ray instance or an existing cluster.

Without ``address`` a private Ray instance is started on this machine with ``workers`` CPUs,
bound to the loopback address only (no dashboard, usage statistics off) and shut down by
:meth:`RayBackend.close`; with ``address`` (``HOST:PORT`` of a running head, or ``auto``) the
driver attaches to that cluster and the cluster's CPUs set the parallelism. Ray reuses its worker
processes across tasks of a job, so module-level caches in the task's module (model weights,
compiled kernels) are loaded once per worker process. ``fn`` is stored once in the object store
and shared by every task. Every node must have physreason (and its dependencies) installed.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from physreason.errors import ConfigError
from physreason.execution.base import Backend, TaskResult, call_task, format_error

INSTALL_HINT = "--backend ray needs Ray: pip install 'physreason[ray]' (or pip install ray==2.60.0)"
OBJECT_STORE_BYTES = 256 * 1024**2
"""Object store of a private local instance: tasks pass indices and small results only."""
IN_FLIGHT_PER_CPU = 4
"""Tasks submitted ahead per cluster CPU: enough to keep workers busy, few to cancel on Ctrl-C."""


def import_ray() -> Any:
    """``import ray``, or a one-line :class:`ConfigError` saying how to install it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


FORWARDED_ENV = ("MUJOCO_GL", "PYOPENGL_PLATFORM", "OMP_NUM_THREADS")
"""Environment variables (besides every ``PHYSREASON_*``) given to a cluster's workers as the driver has them."""


def forwarded_env() -> dict[str, str]:
    """The driver's settings that change what a task computes or how it renders (cluster workers get them)."""
    return {k: v for k, v in os.environ.items() if k.startswith("PHYSREASON_") or k in FORWARDED_ENV}


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast (one line) when nothing listens at a ``HOST:PORT`` address: Ray itself retries for minutes."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address '{address}': expected HOST:PORT of a Ray head (e.g. 10.0.0.5:6379) or 'auto'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"--address {address}: no Ray head answers there ({exc.strerror or exc})") from None


def _use_token_if_present() -> None:
    """Send the cluster's auth token when this machine has one (RAY_AUTH_TOKEN or ~/.ray/auth_token), as
    ``ray start`` does; Ray's driver does not do so by itself unless RAY_AUTH_MODE=token is set."""
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available)
    except ImportError:  # another Ray version: RAY_AUTH_MODE is the user's to set
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _ray_task(fn: Callable[[int], Any], index: int) -> TaskResult:
    """Body of every Ray task (module-level so workers import it by name)."""
    return call_task(fn, index)


class RayBackend(Backend):
    """Ray tasks, one per video; see the module docstring."""

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None, max_retries: int = 1) -> None:
        super().__init__(workers)
        self.address = address
        self.max_retries = max_retries
        self._ray: Any = None
        self._started = False
        self._remote: Any = None
        self._temp_dir: str | None = None

    def describe(self) -> str:
        where = f"cluster at {self.address}" if self.address else f"local instance, {self.workers} CPUs"
        return f"ray ({where})"

    def start(self) -> None:
        """Start (or attach to) Ray; called by the first :meth:`run`. Kept out of per-task timings."""
        if self._ray is not None:
            return
        if self.address is None:
            # Ray resolves 127.0.0.1 to the machine's outward address unless it is told that this
            # is not a cluster node: then every server binds to, and every peer dials, loopback.
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        ray = import_ray()
        if self.address is None:
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.ERROR,
                                          log_to_driver=False, configure_logging=True)
            try:
                if self.address is None:
                    # a private session folder, removed at close (short: it holds Unix sockets)
                    self._temp_dir = tempfile.mkdtemp(prefix="physreason-ray-")
                    ray.init(address="local", num_cpus=self.workers, _node_ip_address="127.0.0.1",
                             object_store_memory=OBJECT_STORE_BYTES, _temp_dir=self._temp_dir, **kwargs)
                else:
                    kwargs.pop("include_dashboard")
                    check_reachable(self.address)
                    _use_token_if_present()
                    ray.init(address=self.address, runtime_env={"env_vars": forwarded_env()}, **kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                self._remove_temp_dir()
                where = self.address or "a local instance"
                raise ConfigError(f"cannot start Ray on {where}: {format_error(exc)}") from None
            self._started = True
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries)(_ray_task)

    def cluster_cpus(self) -> int:
        self.start()
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def run(self, fn: Callable[[int], Any], indices: Sequence[int]) -> Iterator[TaskResult]:
        self.start()
        ray = self._ray
        fn_ref = ray.put(fn)
        limit = IN_FLIGHT_PER_CPU * self.cluster_cpus()
        todo = iter(indices)
        running: dict[Any, int] = {}

        def fill() -> None:
            for index in todo:
                running[self._remote.remote(fn_ref, index)] = index
                if len(running) >= limit:
                    return

        finished = False
        try:
            fill()
            while running:
                ray.wait(list(running), num_returns=1)
                ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
                for ref in ready:
                    index = running.pop(ref)
                    try:
                        yield ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - worker or node died, result lost
                        yield TaskResult(index, None, format_error(exc))
                fill()
            finished = True
        finally:
            if not finished:
                for ref in running:
                    ray.cancel(ref, force=False)

    def close(self) -> None:
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray = None
        self._started = False
        self._remove_temp_dir()

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
