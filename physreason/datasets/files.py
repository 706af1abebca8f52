"""Reading and writing the per-video JSON files of a dataset.

``annotation_XXXXX.json`` (:class:`Observation`), ``physics_XXXXX.json`` (:class:`PhysicsParams`),
``future_XXXXX.json`` (:class:`World`, observed window plus held-out future) and
``counterfactual_XXXXX.json`` (:class:`Counterfactuals`). Writes are atomic; a malformed file
raises :class:`FormatError` naming the file and the field.
"""

from __future__ import annotations

import os

from physreason.datasets.fileio import read_json, write_json
from physreason.datasets.records import Counterfactuals, Observation, PhysicsParams, World

PathLike = str | os.PathLike[str]


def read_annotation(path: PathLike) -> Observation:
    return Observation.from_json(read_json(path), path)


def write_annotation(path: PathLike, observation: Observation) -> None:
    write_json(path, observation.to_json())


def read_physics(path: PathLike) -> PhysicsParams:
    return PhysicsParams.from_json(read_json(path), path)


def write_physics(path: PathLike, params: PhysicsParams) -> None:
    write_json(path, params.to_json(), indent=1)


def read_world(path: PathLike) -> World:
    return World.from_json(read_json(path), path)


def write_world(path: PathLike, world: World) -> None:
    write_json(path, world.to_json())


def read_counterfactuals(path: PathLike) -> Counterfactuals:
    return Counterfactuals.from_json(read_json(path), path)


def write_counterfactuals(path: PathLike, counterfactuals: Counterfactuals) -> None:
    write_json(path, counterfactuals.to_json())
