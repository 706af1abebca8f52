"""COCO run-length encoding (RLE) of binary masks, written in numpy.

A mask of shape (H, W) is flattened in column-major order (down column 0, then column 1, ...)
and stored as alternating run lengths, starting with a run of zeros that may be empty:
``{"size": [H, W], "counts": [...]}``. The compressed form stores ``counts`` as COCO's ASCII
string: from the fourth run on, each run is replaced by its difference with the run two
places before; each value is then written as 5-bit groups, least significant first, one
character ``chr(48 + group)`` per group, with bit 0x20 set while more groups follow and bit
0x10 of the last group giving the sign. The output is identical to pycocotools'.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from physreason.errors import PhysreasonError

_MAX_GROUPS = 12
"""Most 5-bit groups a run length may use (60 bits, far above any real mask)."""


class RLEError(PhysreasonError, ValueError):
    """An RLE dict is malformed; ``field`` is ``size``, ``counts`` or ``mask``."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"RLE field '{field}': {problem}")


def mask_runs(mask: np.ndarray) -> np.ndarray:
    """Run lengths (int64, at least one) of a (H, W) mask, column-major, zeros run first."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise RLEError("mask", f"expected a 2-D (H, W) mask, got shape {m.shape}")
    flat = m.ravel(order="F").astype(bool, copy=False)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(bounds)
    if flat.size and flat[0]:
        runs = np.concatenate(([0], runs))
    return runs.astype(np.int64, copy=False)


def runs_to_string(runs: np.ndarray) -> str:
    """COCO's compressed ASCII string for a sequence of run lengths."""
    x = np.asarray(runs, dtype=np.int64).copy()
    if x.size == 0:
        return ""
    x[3:] -= np.asarray(runs, dtype=np.int64)[1:-2]
    bits = int(np.abs(x).max()).bit_length() + 1  # one more for the sign
    n_groups = max(1, -(-bits // 5))
    shifts = 5 * np.arange(n_groups, dtype=np.int64)
    groups = (x[:, None] >> shifts) & 0x1F
    rest = x[:, None] >> (shifts + 5)
    last = np.where(groups & 0x10, rest == -1, rest == 0)
    n_chars = np.argmax(last, axis=1) + 1
    more = np.arange(n_groups)[None, :] < (n_chars - 1)[:, None]
    chars = groups + 48 + 0x20 * more
    used = np.arange(n_groups)[None, :] < n_chars[:, None]
    return chars[used].astype(np.uint8).tobytes().decode("ascii")


def string_to_runs(counts: str) -> np.ndarray:
    """Run lengths (int64) decoded from COCO's compressed ASCII string."""
    try:
        raw = counts.encode("ascii")
    except UnicodeEncodeError:
        raise RLEError("counts", "contains non-ASCII characters") from None
    c = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero((c < 0) | (c > 63))
    if bad.size:
        i = int(bad[0])
        raise RLEError("counts", f"invalid character {counts[i]!r} at position {i}")
    cont = (c & 0x20) != 0
    if cont[-1]:
        raise RLEError("counts", "string ends in the middle of a number")
    ends = np.flatnonzero(~cont)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > _MAX_GROUPS:
        raise RLEError("counts", "a run length is too large")
    pos = np.arange(c.size) - np.repeat(starts, lengths)
    x = np.add.reduceat((c & 0x1F) << (5 * pos), starts)
    negative = (c[ends] & 0x10) != 0
    x[negative] -= np.int64(1) << (5 * lengths[negative])
    runs = x.copy()
    runs[1::2] = np.cumsum(x[1::2])
    runs[2::2] = np.cumsum(x[2::2])
    return runs


def _size(rle: Mapping[str, Any]) -> tuple[int, int]:
    size = rle.get("size")
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)
    ):
        raise RLEError("size", f"expected [height, width] as two non-negative ints, got {size!r}")
    return int(size[0]), int(size[1])


def rle_runs(rle: Mapping[str, Any]) -> tuple[tuple[int, int], np.ndarray]:
    """Validated ((H, W), run lengths) of an RLE dict with string or list ``counts``."""
    if not isinstance(rle, Mapping):
        raise RLEError("", f"expected a dict with 'size' and 'counts', got {type(rle).__name__}")
    h, w = _size(rle)
    counts = rle.get("counts")
    if isinstance(counts, str):
        runs = string_to_runs(counts)
    elif isinstance(counts, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
            raise RLEError("counts", "a list of counts must hold only ints")
        runs = np.asarray(counts, dtype=np.int64).reshape(-1)
    else:
        kind = type(counts).__name__
        raise RLEError("counts", f"expected a string or a list of ints, got {kind}")
    if runs.size and runs.min() < 0:
        raise RLEError("counts", "a run length is negative")
    total = int(runs.sum())
    if total != h * w:
        raise RLEError("counts", f"runs cover {total} pixels but size {h}x{w} has {h * w}")
    return (h, w), runs


def encode(mask: np.ndarray, compressed: bool = True) -> dict[str, Any]:
    """RLE of a (H, W) mask (nonzero = inside): ``{"size": [H, W], "counts": str | list[int]}``."""
    runs = mask_runs(mask)
    h, w = np.shape(mask)
    counts: str | list[int] = runs_to_string(runs) if compressed else runs.tolist()
    return {"size": [int(h), int(w)], "counts": counts}


def decode(rle: Mapping[str, Any]) -> np.ndarray:
    """Bool mask of shape (H, W) from an RLE dict."""
    (h, w), runs = rle_runs(rle)
    values = np.arange(runs.size) % 2 == 1
    return np.repeat(values, runs).reshape(w, h).T


def area(rle: Mapping[str, Any]) -> int:
    """Number of pixels inside the mask."""
    _, runs = rle_runs(rle)
    return int(runs[1::2].sum())


def to_bbox(rle: Mapping[str, Any]) -> list[float]:
    """COCO box ``[x, y, w, h]`` in pixels of the mask's inside; ``[0, 0, 0, 0]`` if empty."""
    (h, _), runs = rle_runs(rle)
    ends = np.cumsum(runs)
    inside = np.arange(runs.size) % 2 == 1
    inside &= runs > 0
    if not inside.any():
        return [0.0, 0.0, 0.0, 0.0]
    first = ends[inside] - runs[inside]
    last = ends[inside] - 1
    col_first, row_first = np.divmod(first, h)
    col_last, row_last = np.divmod(last, h)
    one_column = col_first == col_last
    x0, x1 = int(col_first.min()), int(col_last.max())
    y0 = int(np.where(one_column, row_first, 0).min())
    y1 = int(np.where(one_column, row_last, h - 1).max())
    return [float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)]
