"""physreason: watch CLEVRER-style videos of objects sliding and colliding, answer questions about them.

``physreason.Engine`` (see :mod:`physreason.pipeline.engine`) is the whole engine as a Python
object; it is imported on first use, so ``import physreason`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Engine"]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from physreason.pipeline.engine import Engine

        return Engine
    raise AttributeError(f"module 'physreason' has no attribute {name!r}")
