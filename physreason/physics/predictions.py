"""Predictive and counterfactual rollouts in VRDP / NS-DR's ``predictions`` JSON layout.

VRDP writes, per video, ``object_updated_results/sim_XXXXX.json`` in the schema of NS-DR's
PropNet predictions (reference notes §4.4), which its executor reads unchanged::

    {"objects": [{"color", "material", "shape", "id"}],
     "predictions": [{"what_if": -1 | k,
                      "trajectory": [{"frame_index": f, "objects": [{"x", "y", "color", "material", "shape"}]}],
                      "collisions": [{"frame": f, "objects": [{"color", "material", "shape"} x 2]}]}]}

``what_if`` is -1 for the factual world (observed window plus predicted future) and k for the
world without object k. Positions are table-plane world units (VRDP's simulator works in them);
a frame lists the objects inside the camera view. Objects are named by their attributes, unique
within a CLEVRER video; reading maps them back to ids through the ``objects`` list. Two keys are
added to the layout: ``scene_index`` at the top, and ``changes`` in a world whose parameters were
changed (VRDP's mass variants), absent otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from physreason.datasets.fileio import read_json, write_json
from physreason.datasets.records import Change, Event, ObjectInfo, World
from physreason.errors import ConfigError, FormatError

_ATTRS = ("color", "material", "shape")


@dataclass(frozen=True, eq=False)
class PredictedWorld:
    """One entry of ``predictions``: ``what_if`` (-1 factual, else the removed object id),
    ``position`` (F, N, 2) units, NaN where the object is not listed (out of view or removed),
    ``collisions`` as events, ``changes`` (extension) parameter changes."""

    what_if: int
    position: np.ndarray
    collisions: tuple[Event, ...]
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, eq=False)
class Predictions:
    """A video's objects and its predicted worlds."""

    scene_index: int
    objects: tuple[ObjectInfo, ...]
    worlds: tuple[PredictedWorld, ...]


def _name(obj: ObjectInfo) -> dict:
    return {a: getattr(obj, a) for a in _ATTRS}


def predictions_json(scene_index: int, objects: Sequence[ObjectInfo], worlds: Sequence[World]) -> dict:
    """The ``predictions`` document of ``worlds`` (a factual one and counterfactuals)."""
    keys = [tuple(getattr(o, a) for a in _ATTRS) for o in objects]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"scene {scene_index}: objects must differ in color, material or shape to be named")
    out = []
    for world in worlds:
        if world.removed is None and world.kind == "counterfactual" and not world.changes:
            raise ConfigError("a counterfactual world needs a removed object or changes")
        obs = world.observation
        trajectory = []
        for f in range(obs.n_frames):
            listed = [dict(x=float(tr.position[f, 0]), y=float(tr.position[f, 1]), **_name(objects[k]))
                      for k, tr in enumerate(obs.tracks) if tr.visible[f] and np.isfinite(tr.position[f, :2]).all()]
            trajectory.append({"frame_index": f, "objects": listed})
        collisions = [{"frame": int(e.frame), "objects": [_name(objects[i]) for i in e.objects]}
                      for e in obs.collisions]
        entry: dict[str, Any] = {"what_if": -1 if world.removed is None else int(world.removed),
                                 "trajectory": trajectory, "collisions": collisions}
        if world.changes:
            entry["changes"] = [c.to_json() for c in world.changes]
        out.append(entry)
    return {"scene_index": int(scene_index),
            "objects": [dict(_name(o), id=int(o.id)) for o in objects],
            "predictions": out}


def write_predictions(path: str | os.PathLike[str], scene_index: int, objects: Sequence[ObjectInfo],
                      worlds: Sequence[World]) -> None:
    """Write :func:`predictions_json` atomically."""
    write_json(path, predictions_json(scene_index, objects, worlds))


def _get(d: Any, key: str, path: object, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise FormatError(path, where, f"missing '{key}'")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FormatError(path, f"{where}.{key}" if where else key, f"expected {kind}, got {type(value).__name__}")
    return value


def predictions_from_json(data: Any, path: object = "<predictions>") -> Predictions:
    """Read a ``predictions`` document (see the module notes) back into records."""
    raw_objects = _get(data, "objects", path, "", list)
    objects, ids = [], {}
    for k, o in enumerate(raw_objects):
        where = f"objects[{k}]"
        attrs = [_get(o, a, path, where, str) for a in _ATTRS]
        oid = _get(o, "id", path, where, int)
        objects.append(ObjectInfo(oid, *attrs))
        ids[tuple(attrs)] = oid
    objects.sort(key=lambda o: o.id)
    if [o.id for o in objects] != list(range(len(objects))):
        raise FormatError(path, "objects", "ids must be 0..N-1")

    def object_id(item: Any, where: str) -> int:
        key = tuple(_get(item, a, path, where, str) for a in _ATTRS)
        if key not in ids:
            raise FormatError(path, where, f"no object {' '.join(key)} in 'objects'")
        return ids[key]

    worlds = []
    for w, entry in enumerate(_get(data, "predictions", path, "", list)):
        where = f"predictions[{w}]"
        what_if = _get(entry, "what_if", path, where, int)
        frames = _get(entry, "trajectory", path, where, list)
        position = np.full((len(frames), len(objects), 2), np.nan)
        for f, frame in enumerate(frames):
            fw = f"{where}.trajectory[{f}]"
            index = _get(frame, "frame_index", path, fw, int)
            if not 0 <= index < len(frames):
                raise FormatError(path, f"{fw}.frame_index", f"{index} outside 0..{len(frames) - 1}")
            for j, item in enumerate(_get(frame, "objects", path, fw, list)):
                ow = f"{fw}.objects[{j}]"
                position[index, object_id(item, ow)] = (_get(item, "x", path, ow, (int, float)),
                                                        _get(item, "y", path, ow, (int, float)))
        collisions = []
        for c, item in enumerate(_get(entry, "collisions", path, where, list)):
            cw = f"{where}.collisions[{c}]"
            pair = _get(item, "objects", path, cw, list)
            if len(pair) != 2:
                raise FormatError(path, f"{cw}.objects", f"expected 2 objects, got {len(pair)}")
            i, j = sorted(object_id(p, f"{cw}.objects[{m}]") for m, p in enumerate(pair))
            collisions.append(Event("collision", _get(item, "frame", path, cw, int), (i, j)))
        changes = tuple(Change.from_json(c, path, f"{where}.changes[{m}]")
                        for m, c in enumerate(entry.get("changes", [])))
        worlds.append(PredictedWorld(what_if, position, tuple(collisions), changes))
    return Predictions(int(data.get("scene_index", 0)), tuple(objects), tuple(worlds))


def read_predictions(path: str | os.PathLike[str]) -> Predictions:
    return predictions_from_json(read_json(path), path)
