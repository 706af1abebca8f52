"""Taichi start-up for the physics engine: one ``ti.init`` per process, CPU unless asked.

The architecture comes from the ``arch`` argument of the first :func:`ensure_taichi` call, else
from the environment variable ``PHYSREASON_PHYSICS_ARCH`` (``cpu``, ``gpu`` or ``auto``:
GPU when one is present, else CPU), else ``cpu``. ``PHYSREASON_PHYSICS_THREADS`` caps the CPU
threads (default: Taichi's, all cores).
"""

from __future__ import annotations

import contextlib
import io
import os

import taichi as ti

from physreason.errors import ConfigError

_ARCHS = ("cpu", "gpu", "auto")
_started: str | None = None


def ensure_taichi(arch: str | None = None) -> str:
    """Initialise Taichi once (later calls are no-ops); returns the architecture in use ('cpu'/'gpu')."""
    global _started
    if _started is not None:
        return _started
    name = arch or os.environ.get("PHYSREASON_PHYSICS_ARCH", "cpu")
    if name not in _ARCHS:
        raise ConfigError(f"physics arch must be one of {', '.join(_ARCHS)}, got '{name}'")
    threads = os.environ.get("PHYSREASON_PHYSICS_THREADS")
    kwargs: dict = {"default_fp": ti.f32, "log_level": ti.WARN, "offline_cache": True}
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ConfigError(f"PHYSREASON_PHYSICS_THREADS must be a positive integer, got '{threads}'")
        kwargs["cpu_max_num_threads"] = int(threads)
    with contextlib.redirect_stdout(io.StringIO()):  # ti.init prints "[Taichi] Starting on arch=..."
        if name == "cpu":
            ti.init(arch=ti.cpu, **kwargs)
        else:
            ti.init(arch=ti.gpu, **kwargs)  # Taichi falls back to the CPU when no GPU backend works
    _started = "cpu" if ti.lang.impl.current_cfg().arch in (ti.x64, ti.arm64) else "gpu"
    return _started
