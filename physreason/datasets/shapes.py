"""The catalogue of CLEVRER's three shapes, built on trimesh.

One :class:`ShapeSpec` per shape gives its mesh (centred on the object's centre, z up), its
mass properties and its footprint on the table. The generator's reference physics, the renderer
and the differentiable engine all read their sizes from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import trimesh

from physreason.datasets.vocab import OBJECT_RADIUS, SHAPES
from physreason.errors import ConfigError

Footprint = Literal["disc", "square"]


@dataclass(frozen=True)
class ShapeSpec:
    """Geometry and unit-density mass properties of one shape.

    ``half_size``: disc radius or half side of the square footprint (world units).
    ``height``: extent along z. ``volume`` in cubic units; ``inertia_unit_mass``: the 3×3
    inertia tensor about the centre of mass for mass 1 (units²).
    """

    name: str
    footprint: Footprint
    half_size: float
    height: float
    mesh: trimesh.Trimesh
    volume: float
    inertia_unit_mass: np.ndarray

    @property
    def centre_height(self) -> float:
        """Height of the centre above the table when resting (world units)."""
        return 0.5 * self.height

    def inertia(self, mass: float) -> np.ndarray:
        """3×3 inertia tensor (mass·units²) for a body of ``mass``."""
        return mass * self.inertia_unit_mass

    def yaw_inertia(self, mass: float) -> float:
        """Moment of inertia about the vertical axis (mass·units²), used by planar physics."""
        return float(mass * self.inertia_unit_mass[2, 2])

    def footprint_polygon(self, yaw: float = 0.0, n_disc: int = 32) -> np.ndarray:
        """Outline of the footprint on the table, centred at the origin, shape (K, 2)."""
        if self.footprint == "disc":
            a = np.linspace(0.0, 2.0 * np.pi, n_disc, endpoint=False)
            return self.half_size * np.stack([np.cos(a), np.sin(a)], axis=1)
        h = self.half_size
        corners = np.array([[h, h], [-h, h], [-h, -h], [h, -h]])
        c, s = np.cos(yaw), np.sin(yaw)
        return corners @ np.array([[c, s], [-s, c]])

    def bounding_radius(self) -> float:
        """Radius of the smallest vertical cylinder around the footprint (world units)."""
        return self.half_size * (np.sqrt(2.0) if self.footprint == "square" else 1.0)


def _build(name: str) -> ShapeSpec:
    r = OBJECT_RADIUS
    if name == "sphere":
        mesh, footprint, height = trimesh.creation.icosphere(subdivisions=3, radius=r), "disc", 2 * r
    elif name == "cylinder":
        mesh, footprint, height = trimesh.creation.cylinder(radius=r, height=2 * r, sections=48), "disc", 2 * r
    else:
        mesh, footprint, height = trimesh.creation.box(extents=(2 * r, 2 * r, 2 * r)), "square", 2 * r
    volume = float(mesh.volume)
    inertia = np.asarray(mesh.moment_inertia, float) / volume  # trimesh assumes density 1
    return ShapeSpec(name, footprint, r, height, mesh, volume, inertia)


@cache
def get_shape(name: str) -> ShapeSpec:
    """The catalogue entry for ``name`` (one of :data:`SHAPES`)."""
    if name not in SHAPES:
        raise ConfigError(f"unknown shape '{name}' (expected one of {', '.join(SHAPES)})")
    return _build(name)


def all_shapes() -> dict[str, ShapeSpec]:
    """Every shape of the catalogue by name."""
    return {name: get_shape(name) for name in SHAPES}
