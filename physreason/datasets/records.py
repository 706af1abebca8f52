"""The record types passed between stages, and their lossless CLEVRER JSON forms.

Units: positions in table-plane world units (object radius 0.2), velocities in units per
second, angles in radians, frames are integers at 25 fps, object ids are stable ints 0..N-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from physreason.datasets import validate as v
from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import FormatError

EventKind = Literal["in", "out", "collision", "start", "end"]
EVENT_KINDS: tuple[str, ...] = ("in", "out", "collision", "start", "end")


@dataclass(frozen=True)
class ObjectInfo:
    """An object's identity and static attributes; (color, material, shape) is unique per video."""

    id: int
    color: str
    material: str
    shape: str

    @property
    def key(self) -> tuple[str, str, str]:
        """The (color, material, shape) triple that identifies the object in its video."""
        return (self.color, self.material, self.shape)

    def describe(self) -> str:
        """A readable name, e.g. 'red metal cube'."""
        return f"{self.color} {self.material} {self.shape}"

    def to_json(self) -> dict:
        return {"object_id": self.id, "color": self.color, "material": self.material, "shape": self.shape}

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> ObjectInfo:
        d = v.as_dict(data, path, where)
        return cls(v.get_int(d, "object_id", path, where, minimum=0), v.get_str(d, "color", path, where, COLORS),
                   v.get_str(d, "material", path, where, MATERIALS), v.get_str(d, "shape", path, where, SHAPES))


@dataclass(frozen=True, eq=False)
class Track:
    """One object's state over frames ``first_frame .. first_frame + T - 1``.

    Arrays: ``position`` (T, 3) centre in world units; ``velocity`` (T, 3) units/s;
    ``orientation`` (T, 3) roll, pitch, yaw in radians (pybullet's Euler convention);
    ``angular_velocity`` (T, 3) rad/s; ``visible`` (T,) bool, whether the object is inside the
    camera view.
    """

    object_id: int
    position: np.ndarray
    velocity: np.ndarray
    orientation: np.ndarray
    angular_velocity: np.ndarray
    visible: np.ndarray
    first_frame: int = 0

    def __post_init__(self) -> None:
        n = len(self.visible)
        for name in ("position", "velocity", "orientation", "angular_velocity"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n, 3):
                raise ValueError(f"Track.{name} must have shape ({n}, 3), got {arr.shape}")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "visible", np.asarray(self.visible, dtype=bool))

    @property
    def n_frames(self) -> int:
        return len(self.visible)

    @property
    def xy(self) -> np.ndarray:
        """Planar positions, shape (T, 2)."""
        return self.position[:, :2]

    @property
    def yaw(self) -> np.ndarray:
        """Rotation about the vertical axis, shape (T,)."""
        return self.orientation[:, 2]

    @property
    def speed(self) -> np.ndarray:
        """Planar speed in units/s, shape (T,)."""
        return np.linalg.norm(self.velocity[:, :2], axis=1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Track):
            return NotImplemented
        return (self.object_id == other.object_id and self.first_frame == other.first_frame
                and all(np.array_equal(getattr(self, n), getattr(other, n))
                        for n in ("position", "velocity", "orientation", "angular_velocity", "visible")))


@dataclass(frozen=True)
class Event:
    """Something that happens at one frame: an object entering or leaving the view, a collision
    between two objects, or the start/end pseudo-events. ``location``: world point or None."""

    kind: str
    frame: int
    objects: tuple[int, ...]
    location: tuple[float, float, float] | None = None

    def to_json(self) -> dict:
        out: dict = {"kind": self.kind, "frame": self.frame, "objects": list(self.objects)}
        if self.location is not None:
            out["location"] = list(self.location)
        return out

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> Event:
        d = v.as_dict(data, path, where)
        kind = v.get_str(d, "kind", path, where, EVENT_KINDS)
        objects = tuple(_int_list(v.get(d, "objects", path, where), path, f"{where}.objects"))
        loc = tuple(v.get_vector(d, "location", path, where, 3)) if "location" in d else None
        return cls(kind, v.get_int(d, "frame", path, where, minimum=0), objects, loc)  # type: ignore[arg-type]

    def to_collision_json(self) -> dict:
        """CLEVRER annotation's ``collision`` entry."""
        return {"object_ids": list(self.objects), "frame_id": self.frame,
                "location": list(self.location) if self.location is not None else [0.0, 0.0, 0.0]}

    @classmethod
    def from_collision_json(cls, data: Any, path: object, where: str) -> Event:
        d = v.as_dict(data, path, where)
        ids = _int_list(v.get(d, "object_ids", path, where), path, f"{where}.object_ids")
        if len(ids) != 2:
            raise FormatError(path, f"{where}.object_ids", f"a collision has exactly 2 objects, got {len(ids)}")
        return cls("collision", v.get_int(d, "frame_id", path, where, minimum=0), tuple(ids),
                   tuple(v.get_vector(d, "location", path, where, 3)))  # type: ignore[arg-type]


def switch_events(object_id: int, visible: np.ndarray, first_frame: int = 0) -> list[Event]:
    """``in``/``out`` events where one object's visibility (T,) bool switches, at the first frame
    of the new state (frame ``first_frame`` is row 0)."""
    vis = np.asarray(visible).astype(np.int8)
    return [Event("in" if vis[i] else "out", int(i) + first_frame, (object_id,))
            for i in np.flatnonzero(np.diff(vis)) + 1]


def visibility_events(tracks: tuple[Track, ...]) -> list[Event]:
    """The :func:`switch_events` of every track."""
    return [e for tr in tracks for e in switch_events(tr.object_id, tr.visible, tr.first_frame)]


def sort_events(events: list[Event]) -> tuple[Event, ...]:
    """Events sorted by frame, then kind, then objects (a deterministic order)."""
    return tuple(sorted(events, key=lambda e: (e.frame, EVENT_KINDS.index(e.kind), e.objects)))


@dataclass(frozen=True, eq=False)
class Observation:
    """What was seen of one video (from perception or ground truth).

    ``tracks[k]`` belongs to ``objects[k]``; ``events`` are sorted by frame and hold the
    collisions plus the in/out events implied by the tracks' visibility. ``attribute_probs``
    (optional): ``[attribute][word]`` -> each object's probability of that word (N,), from an
    attribute source that gives them (learned concepts); kept in memory only (not in the JSON
    layout, not compared).
    """

    scene_index: int
    objects: tuple[ObjectInfo, ...]
    tracks: tuple[Track, ...]
    collisions: tuple[Event, ...]
    n_frames: int
    camera: Camera = field(default=CLEVRER_CAMERA)
    video_filename: str = ""
    attribute_probs: Mapping[str, Mapping[str, np.ndarray]] | None = None
    events: tuple[Event, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.tracks) != len(self.objects):
            raise ValueError("Observation needs one track per object")
        for k, (obj, tr) in enumerate(zip(self.objects, self.tracks)):
            if obj.id != k or tr.object_id != k:
                raise ValueError(f"object {k}: ids must be 0..N-1 in order")
        object.__setattr__(self, "events", sort_events(list(self.collisions) + visibility_events(self.tracks)))
        if not self.video_filename:
            object.__setattr__(self, "video_filename", f"video_{self.scene_index:05d}.mp4")

    def object_by_key(self, color: str, material: str, shape: str) -> ObjectInfo | None:
        """The object with this attribute triple, or None."""
        return next((o for o in self.objects if o.key == (color, material, shape)), None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Observation):
            return NotImplemented
        return (self.scene_index == other.scene_index and self.objects == other.objects
                and self.tracks == other.tracks and self.collisions == other.collisions
                and self.n_frames == other.n_frames and self.camera == other.camera
                and self.video_filename == other.video_filename)

    # --- CLEVRER annotation JSON -------------------------------------------------------------
    def to_json(self) -> dict:
        """CLEVRER's annotation layout (plus ``camera`` when it is not CLEVRER's)."""
        first = self.tracks[0].first_frame if self.tracks else 0
        frames = []
        for f in range(self.n_frames):
            objs = [{"object_id": tr.object_id, "location": tr.position[f].tolist(),
                     "orientation": tr.orientation[f].tolist(), "velocity": tr.velocity[f].tolist(),
                     "angular_velocity": tr.angular_velocity[f].tolist(),
                     "inside_camera_view": bool(tr.visible[f])} for tr in self.tracks]
            frames.append({"frame_id": f + first, "objects": objs})
        out: dict = {"scene_index": self.scene_index, "video_filename": self.video_filename,
                     "object_property": [o.to_json() for o in self.objects],
                     "motion_trajectory": frames,
                     "collision": [c.to_collision_json() for c in self.collisions]}
        if self.camera != CLEVRER_CAMERA:
            out["camera"] = self.camera.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any, path: object) -> Observation:
        d = v.as_dict(data, path, "")
        scene = v.get_int(d, "scene_index", path, "", minimum=0)
        video = v.get_str(d, "video_filename", path, "") if "video_filename" in d else ""
        props = v.as_list(v.get(d, "object_property", path, ""), path, "object_property")
        objects = tuple(ObjectInfo.from_json(p, path, f"object_property[{i}]") for i, p in enumerate(props))
        for i, o in enumerate(objects):
            if o.id != i:
                raise FormatError(path, f"object_property[{i}].object_id", f"expected {i} (ids are 0..N-1 in order)")
        keys = [o.key for o in objects]
        if len(set(keys)) != len(keys):
            raise FormatError(path, "object_property", "two objects share the same color, material and shape")
        traj = v.as_list(v.get(d, "motion_trajectory", path, ""), path, "motion_trajectory")
        tracks = _tracks_from_json(traj, len(objects), path)
        cols = v.as_list(v.get(d, "collision", path, ""), path, "collision")
        collisions = tuple(Event.from_collision_json(c, path, f"collision[{i}]") for i, c in enumerate(cols))
        for i, c in enumerate(collisions):
            if any(o >= len(objects) for o in c.objects):
                raise FormatError(path, f"collision[{i}].object_ids", f"unknown object id in {list(c.objects)}")
        camera = Camera.from_json(d["camera"], path) if "camera" in d else CLEVRER_CAMERA
        return cls(scene, objects, tracks, collisions, len(traj), camera, video)


_STATE_FIELDS = ("location", "velocity", "orientation", "angular_velocity")


def _tracks_from_json(traj: list, n_objects: int, path: object) -> tuple[Track, ...]:
    n = len(traj)
    arrays = {name: np.zeros((n_objects, n, 3)) for name in _STATE_FIELDS}
    visible = np.zeros((n_objects, n), dtype=bool)
    first = 0
    for f, frame in enumerate(traj):
        where = f"motion_trajectory[{f}]"
        fd = v.as_dict(frame, path, where)
        frame_id = v.get_int(fd, "frame_id", path, where, minimum=0)
        if f == 0:
            first = frame_id
        elif frame_id != first + f:
            raise FormatError(path, f"{where}.frame_id", f"expected {first + f} (frames must be consecutive)")
        objs = v.as_list(v.get(fd, "objects", path, where), path, f"{where}.objects")
        if len(objs) != n_objects:
            raise FormatError(path, f"{where}.objects", f"expected {n_objects} objects, got {len(objs)}")
        for k, obj in enumerate(objs):
            ow = f"{where}.objects[{k}]"
            od = v.as_dict(obj, path, ow)
            if "object_id" in od and v.get_int(od, "object_id", path, ow) != k:
                raise FormatError(path, f"{ow}.object_id", f"expected {k} (the list is indexed by object id)")
            for name in _STATE_FIELDS:
                arrays[name][k, f] = v.get_vector(od, name, path, ow, 3)
            visible[k, f] = v.get_bool(od, "inside_camera_view", path, ow)
    return tuple(Track(k, arrays["location"][k], arrays["velocity"][k], arrays["orientation"][k],
                       arrays["angular_velocity"][k], visible[k], first) for k in range(n_objects))


def _int_list(value: Any, path: object, where: str) -> list[int]:
    items = v.as_list(value, path, where)
    for i, x in enumerate(items):
        if not isinstance(x, int) or isinstance(x, bool) or x < 0:
            raise FormatError(path, f"{where}[{i}]", f"expected a non-negative integer, got {x!r}")
    return items


# --- physics ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectParams:
    """Physical parameters and initial state of one object.

    ``mass`` in mass units, ``restitution`` in [0, 1], ``friction`` the Coulomb sliding
    coefficient against the table, ``rolling_friction`` (spheres) in units, ``position`` and
    ``velocity`` the planar initial state (units, units/s), ``yaw`` in radians.
    """

    object_id: int
    mass: float
    restitution: float
    friction: float
    rolling_friction: float
    position: tuple[float, float]
    velocity: tuple[float, float]
    yaw: float

    def to_json(self) -> dict:
        return {"object_id": self.object_id, "mass": self.mass, "restitution": self.restitution,
                "friction": self.friction, "rolling_friction": self.rolling_friction,
                "initial_position": list(self.position), "initial_velocity": list(self.velocity),
                "initial_yaw": self.yaw}

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> ObjectParams:
        d = v.as_dict(data, path, where)
        return cls(v.get_int(d, "object_id", path, where, minimum=0), v.get_float(d, "mass", path, where),
                   v.get_float(d, "restitution", path, where), v.get_float(d, "friction", path, where),
                   v.get_float(d, "rolling_friction", path, where),
                   tuple(v.get_vector(d, "initial_position", path, where, 2)),  # type: ignore[arg-type]
                   tuple(v.get_vector(d, "initial_velocity", path, where, 2)),  # type: ignore[arg-type]
                   v.get_float(d, "initial_yaw", path, where))


@dataclass(frozen=True)
class PhysicsParams:
    """Per-object parameters of a scene plus engine-wide constants (``constants``: name -> value)."""

    scene_index: int
    objects: tuple[ObjectParams, ...]
    constants: tuple[tuple[str, float], ...] = ()
    engine: str = ""

    def constant(self, name: str) -> float:
        return dict(self.constants)[name]

    def to_json(self) -> dict:
        return {"scene_index": self.scene_index, "engine": self.engine,
                "constants": {k: val for k, val in self.constants},
                "objects": [o.to_json() for o in self.objects]}

    @classmethod
    def from_json(cls, data: Any, path: object) -> PhysicsParams:
        d = v.as_dict(data, path, "")
        consts = v.as_dict(d.get("constants", {}), path, "constants")
        constants = tuple((k, v.as_float(x, path, f"constants.{k}")) for k, x in consts.items())
        objs = v.as_list(v.get(d, "objects", path, ""), path, "objects")
        engine = v.get_str(d, "engine", path, "") if "engine" in d else ""
        return cls(v.get_int(d, "scene_index", path, "", minimum=0),
                   tuple(ObjectParams.from_json(o, path, f"objects[{i}]") for i, o in enumerate(objs)),
                   constants, engine)


# --- simulated worlds ------------------------------------------------------------------------
WORLD_KINDS: tuple[str, ...] = ("factual", "counterfactual")


@dataclass(frozen=True)
class Change:
    """A counterfactual change of one object's parameter, e.g. Change(2, "mass", 5.0)."""

    object_id: int
    parameter: str
    value: float

    def to_json(self) -> dict:
        return {"object_id": self.object_id, "parameter": self.parameter, "value": self.value}

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> Change:
        d = v.as_dict(data, path, where)
        return cls(v.get_int(d, "object_id", path, where, minimum=0),
                   v.get_str(d, "parameter", path, where, ("mass", "restitution", "friction")),
                   v.get_float(d, "value", path, where))


@dataclass(frozen=True, eq=False)
class World:
    """A simulated video: factual (observed window + future) or counterfactual (``removed``
    object and/or parameter ``changes``). Its observation spans frames 0..n_frames-1."""

    observation: Observation
    kind: str = "factual"
    removed: int | None = None
    changes: tuple[Change, ...] = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, World):
            return NotImplemented
        return (self.observation == other.observation and self.kind == other.kind
                and self.removed == other.removed and self.changes == other.changes)

    def to_json(self) -> dict:
        """The annotation layout plus a ``world`` entry saying what the world is."""
        out = self.observation.to_json()
        out["world"] = {"kind": self.kind, "removed": self.removed, "changes": [c.to_json() for c in self.changes]}
        return out

    @classmethod
    def from_json(cls, data: Any, path: object) -> World:
        d = v.as_dict(data, path, "")
        w = v.as_dict(v.get(d, "world", path, ""), path, "world")
        kind = v.get_str(w, "kind", path, "world", WORLD_KINDS)
        removed = None if w.get("removed") is None else v.get_int(w, "removed", path, "world", minimum=0)
        changes = tuple(Change.from_json(c, path, f"world.changes[{i}]")
                        for i, c in enumerate(v.as_list(w.get("changes", []), path, "world.changes")))
        return cls(Observation.from_json(d, path), kind, removed, changes)


@dataclass(frozen=True)
class CounterfactualOutcome:
    """The events of a scene re-simulated with ``removed`` taken out and/or ``changes`` applied."""

    removed: int | None
    changes: tuple[Change, ...]
    events: tuple[Event, ...]

    def to_json(self) -> dict:
        return {"removed": self.removed, "changes": [c.to_json() for c in self.changes],
                "events": [e.to_json() for e in self.events]}

    @classmethod
    def from_json(cls, data: Any, path: object, where: str) -> CounterfactualOutcome:
        d = v.as_dict(data, path, where)
        removed = None if d.get("removed") is None else v.get_int(d, "removed", path, where, minimum=0)
        changes = tuple(Change.from_json(c, path, f"{where}.changes[{i}]")
                        for i, c in enumerate(v.as_list(d.get("changes", []), path, f"{where}.changes")))
        events = tuple(Event.from_json(e, path, f"{where}.events[{i}]")
                       for i, e in enumerate(v.as_list(v.get(d, "events", path, where), path, f"{where}.events")))
        return cls(removed, changes, events)


@dataclass(frozen=True)
class Counterfactuals:
    """Counterfactual ground truth of one video: one outcome per intervention, over ``n_frames``."""

    scene_index: int
    n_frames: int
    outcomes: tuple[CounterfactualOutcome, ...]

    def without(self, object_id: int) -> CounterfactualOutcome:
        """The outcome of removing ``object_id`` alone."""
        for o in self.outcomes:
            if o.removed == object_id and not o.changes:
                return o
        raise KeyError(f"no counterfactual removes object {object_id}")

    def to_json(self) -> dict:
        return {"scene_index": self.scene_index, "n_frames": self.n_frames,
                "counterfactuals": [o.to_json() for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: Any, path: object) -> Counterfactuals:
        d = v.as_dict(data, path, "")
        outs = v.as_list(v.get(d, "counterfactuals", path, ""), path, "counterfactuals")
        return cls(v.get_int(d, "scene_index", path, "", minimum=0), v.get_int(d, "n_frames", path, "", minimum=0),
                   tuple(CounterfactualOutcome.from_json(o, path, f"counterfactuals[{i}]") for i, o in enumerate(outs)))
