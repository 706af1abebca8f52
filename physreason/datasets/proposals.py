"""CLEVRER object-proposal files (``proposal_XXXXX.json``, reference notes §1.4).

A file holds per-frame detections: ``{"frames": [{"frame_filename", "frame_index", "objects":
[{"color", "material", "shape", "score", "mask": {"size": [H, W], "counts"}}]}]}`` where the
mask is COCO RLE (see :mod:`physreason.datasets.rle`). Our generator adds the ground-truth
``object_id`` per object. Unknown keys at any level are kept in ``extra`` so that reading and
writing a file loses nothing. A malformed file raises :class:`FormatError` naming the file and
the field path, e.g. ``frames[3].objects[1].mask.counts``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physreason.datasets import rle
from physreason.datasets.fileio import read_json, write_json
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import FormatError

PathLike = str | os.PathLike[str]

_OBJECT_KEYS = ("color", "material", "shape", "score", "mask", "object_id")
_FRAME_KEYS = ("frame_filename", "frame_index", "objects")
_TOP_KEYS = ("frames",)


@dataclass(frozen=True)
class ProposalObject:
    """One detected object: attributes, detector score in [0, 1] and COCO RLE mask."""

    color: str
    material: str
    shape: str
    score: float
    mask_rle: dict[str, Any]
    object_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def mask(self) -> np.ndarray:
        """The decoded bool mask, shape (H, W)."""
        return rle.decode(self.mask_rle)

    def to_json(self) -> dict[str, Any]:
        """The object as CLEVRER proposal JSON."""
        out: dict[str, Any] = {
            "color": self.color,
            "material": self.material,
            "shape": self.shape,
            "score": self.score,
            "mask": dict(self.mask_rle),
        }
        if self.object_id is not None:
            out["object_id"] = self.object_id
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class ProposalFrame:
    """The proposals of one frame (``frame_index`` counts from 0)."""

    frame_index: int
    frame_filename: str
    objects: tuple[ProposalObject, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The frame as CLEVRER proposal JSON."""
        out: dict[str, Any] = {
            "frame_filename": self.frame_filename,
            "frame_index": self.frame_index,
            "objects": [o.to_json() for o in self.objects],
        }
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Proposals:
    """All proposal frames of one video."""

    frames: tuple[ProposalFrame, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The whole file as CLEVRER proposal JSON."""
        out: dict[str, Any] = {"frames": [f.to_json() for f in self.frames]}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Any, path: PathLike = "<proposals>") -> Proposals:
        """Parse and validate proposal JSON; ``path`` names the source in error messages."""
        return _Parser(str(path)).proposals(data)


class _Parser:
    """Validating JSON -> record conversion; every error names the file and field path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> FormatError:
        return FormatError(self.path, where, problem)

    def mapping(self, value: Any, where: str, required: tuple[str, ...]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        for key in required:
            if key not in value:
                raise self.fail(f"{where}.{key}" if where else key, "missing")
        return value

    def list_of(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def integer(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(where, f"expected a non-negative int, got {value!r}")
        return value

    def word(self, value: Any, where: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(where, f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def proposals(self, data: Any) -> Proposals:
        top = self.mapping(data, "", _TOP_KEYS)
        frames = self.list_of(top["frames"], "frames")
        return Proposals(
            tuple(self.frame(f, f"frames[{i}]") for i, f in enumerate(frames)),
            _extra(top, _TOP_KEYS),
        )

    def frame(self, data: Any, where: str) -> ProposalFrame:
        fr = self.mapping(data, where, _FRAME_KEYS)
        name = fr["frame_filename"]
        if not isinstance(name, str):
            raise self.fail(f"{where}.frame_filename", f"expected a string, got {name!r}")
        objects = self.list_of(fr["objects"], f"{where}.objects")
        return ProposalFrame(
            self.integer(fr["frame_index"], f"{where}.frame_index"),
            name,
            tuple(self.object(o, f"{where}.objects[{j}]") for j, o in enumerate(objects)),
            _extra(fr, _FRAME_KEYS),
        )

    def object(self, data: Any, where: str) -> ProposalObject:
        ob = self.mapping(data, where, _OBJECT_KEYS[:5])
        score = ob["score"]
        if (
            not isinstance(score, (int, float))
            or isinstance(score, bool)
            or not math.isfinite(score)
            or not 0.0 <= score <= 1.0
        ):
            raise self.fail(f"{where}.score", f"expected a number in [0, 1], got {score!r}")
        object_id = ob.get("object_id")
        if object_id is not None:
            self.integer(object_id, f"{where}.object_id")
        return ProposalObject(
            self.word(ob["color"], f"{where}.color", COLORS),
            self.word(ob["material"], f"{where}.material", MATERIALS),
            self.word(ob["shape"], f"{where}.shape", SHAPES),
            float(score),
            self.mask(ob["mask"], f"{where}.mask"),
            object_id,
            _extra(ob, _OBJECT_KEYS),
        )

    def mask(self, data: Any, where: str) -> dict[str, Any]:
        m = self.mapping(data, where, ("size", "counts"))
        try:
            rle.rle_runs(m)
        except rle.RLEError as exc:
            raise self.fail(f"{where}.{exc.field}" if exc.field else where, exc.problem) from None
        return dict(m)


def _extra(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


def read_proposals(path: PathLike) -> Proposals:
    """Read and validate a proposal JSON file."""
    return Proposals.from_json(read_json(path), path)


def write_proposals(path: PathLike, proposals: Proposals) -> None:
    """Write a proposal JSON file atomically."""
    write_json(path, proposals.to_json())
