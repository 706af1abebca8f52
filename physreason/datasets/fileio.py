"""Atomic file writes and validated JSON reading, shared by every reader and writer.

A write goes to a temporary file in the destination folder and is renamed into place, so a
crash never leaves a half-written file. Readers raise :class:`FormatError` naming the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from physreason.errors import FormatError


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    ``suffix`` keeps the extension for writers that pick a format from the name (e.g. ``.mp4``).
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or ".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(fileobj)`` on a temporary file and rename it onto ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def write_json(path: str | os.PathLike[str], data: Any, indent: int | None = None) -> None:
    """Write ``data`` as JSON atomically (deterministic: keys keep insertion order)."""
    text = json.dumps(data, indent=indent, allow_nan=False)
    atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8")))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing file or invalid JSON raises :class:`FormatError`."""
    p = Path(path)
    if not p.is_file():
        raise FormatError(p, "", "file not found")
    try:
        with open(p, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise FormatError(p, "", f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise FormatError(p, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
