"""Predictive and counterfactual worlds from fitted physics parameters.

- :func:`simulate_world`: roll a scene out from frame 0 with given parameters, optionally with
  one object removed or some parameters changed (a counterfactual world);
- :func:`predict`: the factual world of the observed window plus ``n_future`` frames. As VRDP
  does, the future starts from a re-fit of every object's state on the last observed second
  (positions and velocities; mass, restitution and friction stay those of the whole-video fit),
  so that drift of the whole-video fit does not carry into the prediction.

Worlds are :class:`~physreason.datasets.records.World` records: tracks with the simulated centres
(z at the shape's centre height), velocities, yaws and yaw rates, visibility = the centre projects
inside the camera's image, collision events from the engine and in/out events from visibility.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from physreason.datasets.camera import Camera
from physreason.datasets.records import Change, ObjectInfo, Observation, PhysicsParams, Track, World
from physreason.datasets.shapes import get_shape
from physreason.datasets.vocab import FPS, N_FUTURE_FRAMES
from physreason.errors import ConfigError
from physreason.physics.engine import rollout
from physreason.physics.fit import FitConfig, FitResult, Problem, first_guess, observed_targets
from physreason.physics.model import Model
from physreason.physics.state import COLLISION_GAP_FRAMES, State

CHANGEABLE = ("mass", "restitution", "friction")
"""Parameters a counterfactual :class:`Change` may set."""


def apply_changes(params: PhysicsParams, changes: Sequence[Change]) -> PhysicsParams:
    """``params`` with each change's object parameter replaced by its value."""
    by_id = {p.object_id: p for p in params.objects}
    for c in changes:
        if c.parameter not in CHANGEABLE:
            raise ConfigError(f"cannot change '{c.parameter}'; choose one of {', '.join(CHANGEABLE)}")
        if c.object_id not in by_id:
            raise ConfigError(f"scene {params.scene_index}: no object {c.object_id} to change")
        if not np.isfinite(c.value) or (c.parameter == "mass" and c.value <= 0) or c.value < 0:
            raise ConfigError(f"object {c.object_id}: {c.parameter} must be a finite value >= 0 "
                              f"(mass > 0), got {c.value}")
        by_id[c.object_id] = replace(by_id[c.object_id], **{c.parameter: float(c.value)})
    return replace(params, objects=tuple(by_id[p.object_id] for p in params.objects))


def _observation(scene_index: int, objects: Sequence[ObjectInfo], state: State, camera: Camera) -> Observation:
    """Scene 0 of ``state`` as an Observation of the simulated centres and collisions; removed
    (inactive) objects have zero rows and are never visible, as in the generator's worlds."""
    active = state.active[0]
    visible_ok = np.broadcast_to(active, state.position.shape[1:3])
    pos, vel, yaw = (np.where(active[None, :, None], np.nan_to_num(state.position[0]), 0.0),
                     np.where(active[None, :, None], np.nan_to_num(state.velocity[0]), 0.0),
                     np.where(active[None, :], np.nan_to_num(state.yaw[0]), 0.0))
    n_frames = pos.shape[0]
    tracks = []
    for k, obj in enumerate(objects):
        z = np.full((n_frames, 1), get_shape(obj.shape).centre_height)
        centre = np.concatenate([pos[:, k], z], axis=1)
        rate = np.gradient(yaw[:, k]) * FPS if n_frames > 1 else np.zeros(n_frames)
        zeros = np.zeros((n_frames, 1))
        visible = camera.in_view(centre) & visible_ok[:, k]
        tracks.append(Track(k, centre, np.concatenate([vel[:, k], zeros], axis=1),
                            np.stack([np.zeros(n_frames), np.zeros(n_frames), yaw[:, k]], axis=1),
                            np.concatenate([zeros, zeros, rate[:, None]], axis=1), visible))
    return Observation(scene_index, tuple(objects), tuple(tracks), state.collisions[0], n_frames, camera)


def simulate_world(objects: Sequence[ObjectInfo], params: PhysicsParams, n_frames: int, camera: Camera,
                   removed: int | None = None, changes: Sequence[Change] = (), precision: str = "float32") -> World:
    """The world of ``objects`` simulated with ``params`` for ``n_frames`` frames from frame 0:
    factual when nothing is removed or changed, else counterfactual."""
    if removed is not None and not 0 <= removed < len(objects):
        raise ConfigError(f"scene {params.scene_index}: cannot remove object {removed}, "
                          f"ids are 0..{len(objects) - 1}")
    changed = apply_changes(params, changes)
    model = Model.from_params(objects, changed, () if removed is None else (removed,))
    state = rollout(model, n_frames, precision=precision)
    kind = "factual" if removed is None and not changes else "counterfactual"
    return World(_observation(params.scene_index, objects, state, camera), kind, removed, tuple(changes))


def predict(observation: Observation, fit: FitResult, n_future: int = N_FUTURE_FRAMES, refit_frames: int = FPS,
            config: FitConfig = FitConfig()) -> World:
    """The factual world over the observed frames plus ``n_future`` more: frames before the last
    ``refit_frames`` observed ones come from the whole-video fit, the rest from a rollout
    started on a re-fit of each object's position and velocity on those frames (objects not
    seen there keep the whole-video fit's state)."""
    if n_future < 0 or refit_frames < 2:
        raise ConfigError(f"need n_future >= 0 and refit_frames >= 2, got {n_future} and {refit_frames}")
    objects = observation.objects
    n_obs = observation.n_frames
    total = n_obs + n_future
    start = max(0, n_obs - refit_frames)
    base = replace(Model.from_params(objects, fit.params), active=fit.fitted[None].copy())
    early = rollout(base, start + 1, precision=config.precision)
    pos, mask = observed_targets(observation)
    yaw = np.stack([tr.yaw for tr in observation.tracks], axis=1)
    window_pos, window_mask = pos[start:], mask[start:]
    x0, v0, yaw0 = first_guess(window_pos, window_mask, yaw[start:])
    seen = window_mask.sum(axis=0) >= 2
    keep = ~seen | ~fit.fitted
    x0[keep] = early.position[0, start][keep]
    v0[keep] = early.velocity[0, start][keep]
    yaw0[keep] = early.yaw[0, start][keep]
    x0, v0, yaw0 = (np.nan_to_num(a) for a in (x0, v0, yaw0))
    model = base.with_values(position=x0[None], velocity=v0[None], yaw=yaw0[None])
    if seen.any() and start > 0:
        weight = window_mask.astype(float)
        weight /= max(weight.sum(), 1.0)
        problem = Problem(model, ("position", "velocity"), window_pos[None], weight[None], True, config.precision)
        model = problem.solve(model, config.iterations)
    late = rollout(model, total - start, precision=config.precision)
    before = tuple(e for e in early.collisions[0] if e.frame < start)
    recent = {e.objects for e in before if e.frame >= start - COLLISION_GAP_FRAMES}
    after = tuple(replace(e, frame=e.frame + start) for e in late.collisions[0]
                  if not (e.objects in recent and e.frame <= COLLISION_GAP_FRAMES))  # one contact, not two
    state = State(np.concatenate([early.position[:, :start], late.position], axis=1),
                  np.concatenate([early.velocity[:, :start], late.velocity], axis=1),
                  np.concatenate([early.yaw[:, :start], late.yaw], axis=1), late.active,
                  (before + after,))
    return World(_observation(observation.scene_index, objects, state, observation.camera), "factual")
