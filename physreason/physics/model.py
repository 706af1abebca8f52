"""The static description of a batch of planar scenes: shapes, parameters, initial states.

A :class:`Model` holds B scenes of up to N objects each as numpy arrays (scene b, object i).
Spheres and cylinders are discs of radius :data:`HALF_SIZE`, cubes oriented squares of half
side :data:`HALF_SIZE`. Units: world units, seconds, mass units; angles in radians.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import numpy as np

from physreason.datasets.records import ObjectInfo, PhysicsParams
from physreason.datasets.shapes import get_shape
from physreason.datasets.vocab import FPS, OBJECT_RADIUS, SHAPES
from physreason.errors import ConfigError

HALF_SIZE = OBJECT_RADIUS
"""Disc radius and square half side (world units)."""
GRAVITY = 9.81
"""Units/s²: sliding objects decelerate at friction x GRAVITY."""
SUBSTEPS = 10
"""Fixed steps per video frame (the reference engine's)."""
TIME_STEP = 1.0 / (FPS * SUBSTEPS)
"""Seconds per fixed step."""

SPHERE, CYLINDER, CUBE = 0, 1, 2
"""Shape codes of :attr:`Model.kind` (the order of :data:`SHAPES`)."""
assert SHAPES == ("sphere", "cylinder", "cube")

YAW_INERTIA = np.array([get_shape(s).yaw_inertia(1.0) for s in SHAPES])
"""Moment of inertia about the vertical axis per unit mass (units²), by shape code."""
PARAMETERS = ("mass", "restitution", "friction", "rolling_friction", "position", "velocity", "yaw")
"""Differentiable fields of a model."""


@dataclass(frozen=True, eq=False)
class Model:
    """B scenes of up to N objects.

    ``kind`` (B, N) int shape codes; ``active`` (B, N) bool, False for padding and removed
    objects; ``mass``, ``restitution``, ``friction`` (sliding coefficient), ``rolling_friction``
    (units; a rolling sphere decelerates at min(rolling_friction x g / (1.4 r), friction x g)),
    ``yaw`` (rad): (B, N); ``position`` (units), ``velocity`` (units/s): (B, N, 2).
    """

    kind: np.ndarray
    active: np.ndarray
    mass: np.ndarray
    restitution: np.ndarray
    friction: np.ndarray
    rolling_friction: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    yaw: np.ndarray

    def __post_init__(self) -> None:
        b, n = np.shape(self.kind)
        for name in ("active", "mass", "restitution", "friction", "rolling_friction", "yaw"):
            if np.shape(getattr(self, name)) != (b, n):
                raise ConfigError(f"Model.{name} must have shape ({b}, {n}), got {np.shape(getattr(self, name))}")
        for name in ("position", "velocity"):
            if np.shape(getattr(self, name)) != (b, n, 2):
                raise ConfigError(f"Model.{name} must have shape ({b}, {n}, 2), got {np.shape(getattr(self, name))}")
        if np.any(self.active & (np.asarray(self.mass) <= 0)):
            raise ConfigError("every active object needs a positive mass")

    @property
    def n_scenes(self) -> int:
        return int(self.kind.shape[0])

    @property
    def n_objects(self) -> int:
        return int(self.kind.shape[1])

    def with_values(self, **values: np.ndarray) -> Model:
        """A copy with some parameter arrays replaced (names from :data:`PARAMETERS`)."""
        unknown = set(values) - set(PARAMETERS)
        if unknown:
            raise ConfigError(f"unknown model parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **{k: np.asarray(v, float) for k, v in values.items()})

    @classmethod
    def from_params(cls, objects: Sequence[ObjectInfo], params: PhysicsParams,
                    removed: Collection[int] = ()) -> Model:
        """A one-scene model of ``objects`` (ids 0..N-1) with ``params``; ``removed`` objects inactive."""
        by_id = {p.object_id: p for p in params.objects}
        missing = [o.id for o in objects if o.id not in by_id]
        if missing:
            raise ConfigError(f"scene {params.scene_index}: no physics parameters for object(s) {missing}")
        ps = [by_id[o.id] for o in objects]
        return cls(kind=np.array([[SHAPES.index(o.shape) for o in objects]], np.int32),
                   active=np.array([[o.id not in removed for o in objects]], bool),
                   mass=np.array([[p.mass for p in ps]], float),
                   restitution=np.array([[p.restitution for p in ps]], float),
                   friction=np.array([[p.friction for p in ps]], float),
                   rolling_friction=np.array([[p.rolling_friction for p in ps]], float),
                   position=np.array([[p.position for p in ps]], float).reshape(1, len(ps), 2),
                   velocity=np.array([[p.velocity for p in ps]], float).reshape(1, len(ps), 2),
                   yaw=np.array([[p.yaw for p in ps]], float))

    @classmethod
    def stack(cls, models: Sequence[Model]) -> Model:
        """One batch of all scenes of ``models``, padded with inactive objects to the largest N."""
        if not models:
            raise ConfigError("cannot stack zero models")
        n = max(m.n_objects for m in models)
        out = {}
        for name in _FIELDS:
            parts = []
            for m in models:
                arr = getattr(m, name)
                pad = [(0, 0), (0, n - m.n_objects)] + [(0, 0)] * (arr.ndim - 2)
                fill = 1.0 if name == "mass" else 0
                parts.append(np.pad(arr, pad, constant_values=fill))
            out[name] = np.concatenate(parts, axis=0)
        return cls(**out)


_FIELDS = ("kind", "active", "mass", "restitution", "friction", "rolling_friction", "position", "velocity", "yaw")
