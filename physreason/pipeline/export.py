"""The scene the engine believes in, at one frame, as a 3D file a person can open.

Each object is its shape's mesh from the catalogue (:mod:`physreason.datasets.shapes`), placed at
the world's centre and orientation at that frame and coloured with CLEVR's palette (metal objects
get a metallic PBR material), on a grey table. A world's removed object is left out. glTF binary
(``.glb``) is the default; ``.gltf``, ``.obj``, ``.ply`` and ``.stl`` follow trimesh's exporters.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from physreason.datasets.fileio import atomic_write_bytes, read_json
from physreason.datasets.records import Observation, World
from physreason.errors import ConfigError

FORMATS: tuple[str, ...] = ("glb", "gltf", "obj", "ply", "stl")
TABLE_SIZE = 12.0
"""Side of the exported table, world units."""


def read_scene_source(path: str | os.PathLike[str]) -> tuple[Observation, int | None]:
    """A world file (its observation and removed object) or an annotation file."""
    data = read_json(path)
    if isinstance(data, dict) and "world" in data:
        world = World.from_json(data, path)
        return world.observation, world.removed
    return Observation.from_json(data, path), None


def scene_at(observation: Observation, frame: int, removed: int | None = None):  # -> trimesh.Scene
    """A trimesh scene of the objects at ``frame`` of ``observation`` on the table."""
    import trimesh
    from trimesh.transformations import euler_matrix

    from physreason.datasets.shapes import get_shape
    from physreason.datasets.vocab import COLOR_RGB

    if not 0 <= frame < observation.n_frames:
        raise ConfigError(f"scene {observation.scene_index}: frame {frame} is outside 0..{observation.n_frames - 1}")
    scene = trimesh.Scene()
    table = trimesh.creation.box(extents=(TABLE_SIZE, TABLE_SIZE, 0.02))
    table.apply_translation((0.0, 0.0, -0.01))
    table.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(
        baseColorFactor=[160, 160, 160, 255], metallicFactor=0.0, roughnessFactor=0.9))
    scene.add_geometry(table, node_name="table", geom_name="table")
    for obj, track in zip(observation.objects, observation.tracks):
        if obj.id == removed:
            continue
        row = frame - track.first_frame
        if not 0 <= row < track.n_frames or not np.isfinite(track.position[row]).all():
            continue
        mesh = get_shape(obj.shape).mesh.copy()
        roll, pitch, yaw = np.nan_to_num(track.orientation[row])
        transform = euler_matrix(roll, pitch, yaw, "sxyz")
        transform[:3, 3] = track.position[row]
        rgb = list(COLOR_RGB[obj.color]) + [255]
        metal = obj.material == "metal"
        mesh.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(
            baseColorFactor=rgb, metallicFactor=0.9 if metal else 0.0, roughnessFactor=0.3 if metal else 0.8))
        name = f"{obj.id}_{obj.color}_{obj.material}_{obj.shape}"
        scene.add_geometry(mesh, node_name=name, geom_name=name, transform=transform)
    return scene


def export_scene(source: str | os.PathLike[str], frame: int, out: str | os.PathLike[str]) -> str:
    """Write the scene of a world or annotation file at ``frame`` to ``out`` (format from its
    extension); returns a one-line summary."""
    dest = Path(out)
    fmt = dest.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"{dest}: unknown 3D format '{dest.suffix}' (use one of {', '.join('.' + f for f in FORMATS)})")
    observation, removed = read_scene_source(source)
    scene = scene_at(observation, frame, removed)
    data = scene.export(file_type=fmt)
    if isinstance(data, dict):  # .gltf: a JSON file plus buffers; embed them
        data = scene.export(file_type="gltf", embed_buffers=True) if fmt == "gltf" else data
        data = data["model.gltf"] if isinstance(data, dict) else data
    if isinstance(data, str):
        data = data.encode("utf-8")
    atomic_write_bytes(dest, lambda fh: fh.write(data))
    n = len(scene.geometry) - 1
    return f"{n} object(s) of scene {observation.scene_index} at frame {frame} written to {dest}"
