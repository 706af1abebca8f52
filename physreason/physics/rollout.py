"""Predictive and counterfactual worlds from fitted physics parameters.

- :func:`simulate_world`: roll a scene out from frame 0 with given parameters, optionally with
  one object removed or some parameters changed (a counterfactual world);
- :func:`predict`: the factual world of the observed window plus ``n_future`` frames. As VRDP
  does, the future starts from a re-fit of every object's state on the last observed second
  (positions and velocities; mass, restitution and friction stay those of the whole-video fit),
  so that drift of the whole-video fit does not carry into the prediction. A predicted contact
  of a pair that has touched before (e.g. resting or pressed against each other at the end of
  the observed video) is a new collision only once the pair has moved :data:`SEPARATION` apart
  since its previous contact: the engine's contact chatter of two touching objects, which its
  2-frame gap rule would count again and again, is one collision;
- :func:`counterfactual_worlds`: counterfactual worlds anchored on the observation. A world
  without object k (or with k's parameters changed) is the factual one until k first touches
  another object, so it is simulated from a re-fit of every object's state on the observed
  frames just before that contact (``anchor_frames`` of them, ending ``anchor_margin`` frames
  ahead of it) rather than from frame 0: the engine's drift from the real dynamics then only
  accumulates from the divergence on. Interventions on objects that never collide are anchored
  on the last observed frames, like the prediction. All re-fits of a video run in one batch.

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
from physreason.datasets.vocab import FPS, N_FUTURE_FRAMES, OBJECT_RADIUS
from physreason.errors import ConfigError
from physreason.physics.engine import rollout
from physreason.physics.fit import FitConfig, FitResult, Problem, first_guess, observed_targets
from physreason.physics.model import Model
from physreason.physics.state import COLLISION_GAP_FRAMES, State

ANCHOR_FRAMES = 20
"""Observed frames the state of a counterfactual world is re-fitted on before its divergence."""
ANCHOR_MARGIN = 3
"""Frames between the end of that re-fit and the changed object's first contact."""

SEPARATION = 0.5 * OBJECT_RADIUS
"""Units by which a pair's centre distance must grow beyond its value at the pair's previous
contact before a contact of the pair in the prediction is a new collision."""

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


def _new_collisions(contact: np.ndarray, position: np.ndarray, events: Sequence, first: int) -> tuple:
    """``events`` without those at frames >= ``first`` that come before their pair has moved
    :data:`SEPARATION` apart since its previous contact (``contact`` (F, N, N) and ``position``
    (F, N, 2) of one scene; see the module notes)."""
    kept = []
    for e in events:
        i, j = e.objects
        if e.frame >= first:
            prior = np.flatnonzero(contact[:e.frame, i, j])  # the event's own contact is at e.frame or later
            if len(prior):
                c = int(prior[-1])
                dist = np.linalg.norm(position[c:e.frame + 1, i] - position[c:e.frame + 1, j], axis=1)
                if np.isfinite(dist).all() and dist.max() <= dist[0] + SEPARATION:
                    continue
        kept.append(e)
    return tuple(kept)


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
    position = np.concatenate([early.position[:, :start], late.position], axis=1)
    contact = np.concatenate([early.contact[:, :start], late.contact], axis=1)
    after = _new_collisions(contact[0], position[0], after, n_obs)
    state = State(position, np.concatenate([early.velocity[:, :start], late.velocity], axis=1),
                  np.concatenate([early.yaw[:, :start], late.yaw], axis=1), late.active,
                  (before + after,), contact)
    return World(_observation(observation.scene_index, objects, state, observation.camera), "factual")


def _first_contacts(objects: int, events: Sequence, limit: int) -> np.ndarray:
    """First collision frame of each object (``limit`` for none) among ``events``."""
    first = np.full(objects, limit)
    for e in events:
        for i in e.objects:
            if 0 <= i < objects:
                first[i] = min(first[i], e.frame)
    return first


def counterfactual_worlds(observation: Observation, fit: FitResult,
                          interventions: Sequence[tuple[int | None, Sequence[Change]]],
                          n_frames: int | None = None, config: FitConfig = FitConfig(),
                          anchor_frames: int = ANCHOR_FRAMES, anchor_margin: int = ANCHOR_MARGIN) -> list[World]:
    """One counterfactual world per ``(removed, changes)`` of ``interventions`` (removed: an
    object id or None), over ``n_frames`` frames (default: observed + 2 s), anchored on the
    observation (see the module notes). Frames before the anchor window are the whole-video
    fit's rollout and its collisions before it are the observed ones."""
    objects = observation.objects
    n, n_obs = len(objects), observation.n_frames
    total = n_obs + N_FUTURE_FRAMES if n_frames is None else n_frames
    if total < 1:
        raise ConfigError(f"n_frames must be >= 1, got {total}")
    for removed, changes in interventions:
        if removed is not None and not 0 <= removed < n:
            raise ConfigError(f"scene {observation.scene_index}: cannot remove object {removed}, ids are 0..{n - 1}")
        apply_changes(fit.params, changes)  # validates
    base = replace(Model.from_params(objects, fit.params), active=fit.fitted[None].copy())
    factual = rollout(base, total, precision=config.precision)
    first = np.minimum(_first_contacts(n, factual.collisions[0], total),
                       _first_contacts(n, observation.collisions, total))
    pos, mask = observed_targets(observation)
    starts, ends = [], []
    for removed, changes in interventions:
        touched = ({removed} if removed is not None else set()) | {c.object_id for c in changes}
        end = min([int(first[i]) - anchor_margin for i in touched] + [n_obs - 1])
        start = max(0, end - anchor_frames)
        if end - start < 3 or not mask[start:end + 1].any():
            start = end = 0  # diverges at once, or nothing observed to anchor on: from frame 0
        starts.append(start)
        ends.append(end)
    keys = sorted({(s, e) for s, e in zip(starts, ends) if e > 0})
    anchored: dict[tuple[int, int], Model] = {}
    if keys:
        length = max(e - s for s, e in keys) + 1
        scenes, target, weight = [], np.zeros((len(keys), length, n, 2)), np.zeros((len(keys), length, n))
        for b, (s, e) in enumerate(keys):
            live = fit.fitted & np.isfinite(factual.position[0, s]).all(axis=1)
            x0 = np.where(live[:, None], np.nan_to_num(factual.position[0, s]), 0.0)
            v0 = np.where(live[:, None], np.nan_to_num(factual.velocity[0, s]), 0.0)
            y0 = np.where(live, np.nan_to_num(factual.yaw[0, s]), 0.0)
            scenes.append(base.with_values(position=x0[None], velocity=v0[None], yaw=y0[None]))
            target[b, :e - s + 1] = pos[s:e + 1]
            weight[b, :e - s + 1] = mask[s:e + 1] & live[None]
        weight /= max(weight.sum(), 1.0)
        batch = Model.stack(scenes)
        batch = Problem(batch, ("position", "velocity"), target, weight, True, config.precision).solve(
            batch, config.iterations)
        for b, key in enumerate(keys):
            anchored[key] = Model(**{name: getattr(batch, name)[b:b + 1] for name in _MODEL_FIELDS})
    models = []
    for (removed, changes), s, e in zip(interventions, starts, ends):
        start_model = anchored.get((s, e), base)
        changed = apply_changes(fit.params, changes)
        values = {name: np.array([[getattr(p, name) for p in changed.objects]]) for name in CHANGEABLE}
        active = start_model.active.copy()
        if removed is not None:
            active[0, removed] = False
        models.append(replace(start_model.with_values(**values), active=active))
    steps = total - min(starts)
    batch_state = rollout(Model.stack(models), steps, precision=config.precision)
    worlds = []
    for k, ((removed, changes), s) in enumerate(zip(interventions, starts)):
        cut = total - s
        late = (batch_state.position[k:k + 1, :cut], batch_state.velocity[k:k + 1, :cut],
                batch_state.yaw[k:k + 1, :cut])
        early = (factual.position[:, :s], factual.velocity[:, :s], factual.yaw[:, :s])
        gone = np.zeros(n, bool) if removed is None else np.arange(n) == removed
        early = tuple(np.where(gone[None, None, :, None] if a.ndim == 4 else gone[None, None, :], np.nan, a)
                      for a in early)
        before = tuple(e for e in observation.collisions if e.frame < s and not set(e.objects) & {removed})
        after = tuple(replace(ev, frame=ev.frame + s) for ev in batch_state.collisions[k] if ev.frame + s < total)
        state = State(*(np.concatenate([a, b], axis=1) for a, b in zip(early, late)),
                      models[k].active, (before + after,))
        kind = "factual" if removed is None and not changes else "counterfactual"
        worlds.append(World(_observation(observation.scene_index, objects, state, observation.camera), kind,
                            removed, tuple(changes)))
    return worlds


_MODEL_FIELDS = ("kind", "active", "mass", "restitution", "friction", "rolling_friction", "position", "velocity", "yaw")
