"""From what was observed to the worlds a program runs on.

An :class:`Observation` (perceived or ground truth) is fitted by :func:`physics.fit.fit_observation`;
the fit gives

- the factual **future**: :func:`physics.rollout.predict`, the observed window plus
  ``n_future`` frames (a :class:`World` tagged ``factual``), ground for predictive questions;
- the **counterfactuals**: per object, the observed window re-played without that object
  (:func:`replayed_counterfactual`): the video is trusted wherever the removal has not changed
  anything yet, the fitted physics simulates the rest. Kept as the events (collisions, in/out)
  of each such world, a :class:`Counterfactuals` record of the same shape as the generator's
  ground truth, and as the worlds themselves (for pictures).

:class:`Worlds` holds the three with the observation and turns them into the
:class:`~physreason.reasoning.world.ReasoningWorld` the executor needs. Descriptive and
explanatory questions read the observation itself; only predictive and counterfactual ones
read the simulated worlds. Nothing here reads a ground-truth future or counterfactual file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from physreason.datasets.records import (Counterfactuals, CounterfactualOutcome, Observation, World,
                                         sort_events)
from physreason.datasets.vocab import N_FUTURE_FRAMES
from physreason.physics.fit import FitConfig, FitResult, fit_observation
from physreason.physics.rollout import predict, simulate_world
from physreason.reasoning.world import ReasoningWorld

CONTACT_MARGIN = 3
"""Frames before the removed object's first contact where a counterfactual simulation starts."""
DIVERGENCE_TOLERANCE = 1e-3
"""Units: an object's counterfactual and factual simulated positions further apart than this differ."""
DIVERGENCE_SLACK = 2
"""Frames: an event this close before an object's divergence is taken from the simulation."""
REPLAY_CHUNK = 5
"""Frames simulated between two returns of the objects not reached by a removal to their observed states."""


@dataclass(frozen=True, eq=False)
class Worlds:
    """An observation, its physics fit (None when nothing was fitted) and the simulated worlds:
    ``future`` (observed window + future, factual) and ``counterfactuals`` (one outcome per removed
    object), both None when not simulated; ``removed_worlds`` the full counterfactual worlds
    (tracks included), by removed object id, for pictures."""

    observation: Observation
    fit: FitResult | None = None
    future: World | None = None
    counterfactuals: Counterfactuals | None = None
    removed_worlds: tuple[World, ...] = ()

    def reasoning_world(self) -> ReasoningWorld:
        """The world the executor runs programs on."""
        return ReasoningWorld.from_records(self.observation, self.future, self.counterfactuals)


def _observed_states(observation: Observation, fit: FitResult,
                     n_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Observed positions (F, N, 2), velocities (F, N, 2), yaws (F, N) over ``n_frames`` frames
    and where they can be trusted (F, N): visible, finite, and the object fitted."""
    n = len(observation.tracks)
    pos, vel = np.zeros((n_frames, n, 2)), np.zeros((n_frames, n, 2))
    yaw, ok = np.zeros((n_frames, n)), np.zeros((n_frames, n), bool)
    for k, tr in enumerate(observation.tracks):
        lo, hi = tr.first_frame, min(n_frames, observation.n_frames, tr.first_frame + tr.n_frames)
        if hi <= lo:
            continue
        rows = slice(0, hi - lo)
        good = tr.visible[rows] & np.isfinite(tr.position[rows, :2]).all(axis=1) \
            & np.isfinite(tr.velocity[rows, :2]).all(axis=1) & bool(fit.fitted[k])
        ok[lo:hi, k] = good
        pos[lo:hi, k] = np.nan_to_num(tr.position[rows, :2])
        vel[lo:hi, k] = np.nan_to_num(tr.velocity[rows, :2])
        yaw[lo:hi, k] = np.nan_to_num(tr.orientation[rows, 2])
    return pos, vel, yaw, ok


def replayed_counterfactual(observation: Observation, fit: FitResult, removed: int, horizon: int | None = None,
                            chunk: int = REPLAY_CHUNK, margin: int = CONTACT_MARGIN,
                            fitted: Observation | None = None) -> tuple[CounterfactualOutcome, World]:
    """What happens without object ``removed``, over ``horizon`` frames (default: the observed
    ones plus :data:`N_FUTURE_FRAMES`), trusting the video wherever the removal has not (yet)
    changed anything.

    Until the removed object first touches another (less ``margin`` frames) the scene without it
    is the scene that was seen. From there it is simulated in chunks of ``chunk`` frames; at the
    start of each chunk every object the removal has not reached yet is put back on its observed
    state (position, velocity, yaw; the simulated one while it is out of view), and the chunk is
    simulated twice from there: without the removed object and, as a reference, with everything
    as seen. An object whose position differs between the two is reached by the removal from
    that frame on and is simulated freely afterwards; so is an object seen colliding with one
    already reached, from that collision on (:func:`_spread_by_contacts`: the simulation from
    the seen states may miss a seen contact). Events of an object before the removal
    reaches it are the observed ones; after, and past the video, the simulated counterfactual
    ones. An object that touches nothing changes nothing in the video. ``fitted``: the
    whole-video rollout of ``fit`` over ``horizon`` frames, if already made. Returns the outcome
    and the counterfactual World."""
    from physreason.physics.engine import rollout
    from physreason.physics.model import Model

    n_obs, n = observation.n_frames, len(observation.objects)
    total = n_obs + N_FUTURE_FRAMES if horizon is None else max(horizon, 2)
    contacts = [e.frame for e in observation.collisions if removed in e.objects]
    kept = [e for e in observation.events if removed not in e.objects]
    start = min(max(0, min(contacts, default=n_obs) - margin), n_obs - 1, total - 1)
    if fitted is None or fitted.n_frames < total:
        fitted = simulate_world(observation.objects, fit.params, total, observation.camera).observation
    obs_pos, obs_vel, obs_yaw, obs_ok = _observed_states(observation, fit, total)
    sim_pos = np.stack([tr.xy[:total] for tr in fitted.tracks], axis=1)
    sim_vel = np.stack([tr.velocity[:total, :2] for tr in fitted.tracks], axis=1)
    sim_yaw = np.stack([tr.yaw[:total] for tr in fitted.tracks], axis=1)
    # the world without the object, frame by frame: what was seen (the fit out of view) until `start`
    cf_pos = np.where(obs_ok[..., None], obs_pos, sim_pos)
    cf_vel = np.where(obs_ok[..., None], obs_vel, sim_vel)
    cf_yaw = np.where(obs_ok, obs_yaw, sim_yaw)
    diverged = np.full(n, n_obs)  # past the video, everything comes from the simulation
    if contacts:
        diverged[removed] = start
    base = Model.from_params(observation.objects, fit.params)
    cf_active = base.active.copy()
    cf_active[0, removed] = False
    new_events = []
    contacts_seen = sorted(observation.collisions, key=lambda e: e.frame)
    t = start
    while t < total - 1:
        length = min(chunk, total - 1 - t) + 1
        anchor = obs_ok[t] & (diverged > t)
        x_cf = np.where(anchor[:, None], obs_pos[t], cf_pos[t])
        v_cf = np.where(anchor[:, None], obs_vel[t], cf_vel[t])
        y_cf = np.where(anchor, obs_yaw[t], cf_yaw[t])
        models = [replace(base.with_values(position=x_cf[None], velocity=v_cf[None], yaw=y_cf[None]), active=cf_active)]
        watch = anchor.any() and t < n_obs - 1
        if watch:  # the reference: everything as seen
            models.append(base.with_values(position=np.where(obs_ok[t][:, None], obs_pos[t], cf_pos[t])[None],
                                           velocity=np.where(obs_ok[t][:, None], obs_vel[t], cf_vel[t])[None],
                                           yaw=np.where(obs_ok[t], obs_yaw[t], cf_yaw[t])[None]))
        state = rollout(Model.stack(models), length)
        cf = np.nan_to_num(state.position[0])
        if watch:
            apart = np.linalg.norm(cf - np.nan_to_num(state.position[1]), axis=2) > DIVERGENCE_TOLERANCE
            for j in np.flatnonzero(apart.any(axis=0) & (diverged > t)):
                diverged[j] = min(diverged[j], t + int(np.flatnonzero(apart[:, j])[0]))
        _spread_by_contacts(diverged, contacts_seen, t + length - 1)
        cf_pos[t:t + length] = cf
        cf_vel[t:t + length] = np.nan_to_num(state.velocity[0])
        cf_yaw[t:t + length] = np.nan_to_num(state.yaw[0])
        new_events += [replace(e, frame=e.frame + t) for e in state.collisions[0]]
        t += length - 1
    # reached objects follow the simulation, the others what was seen
    reached_at = diverged[None, :] <= np.arange(total)[:, None]
    final_pos = np.where(reached_at[..., None] | ~obs_ok[..., None], cf_pos, obs_pos)
    world = _world_from_arrays(observation, final_pos, cf_vel, cf_yaw, removed, new_events)

    def changed_by(event) -> int:  # frame from which the event's objects may differ from what was seen
        return int(min(diverged[i] for i in event.objects)) - DIVERGENCE_SLACK

    seen = [e for e in kept if e.frame < changed_by(e)]
    simulated = [e for e in world.observation.events if e.frame >= changed_by(e)]
    return CounterfactualOutcome(removed, (), sort_events(seen + simulated)), world


def _spread_by_contacts(diverged: np.ndarray, collisions: list, until: int) -> None:
    """Mark, in place, the objects a seen collision before frame ``until`` joins to an object
    already reached by the removal (``diverged`` (N,) frames, lowered): from the collision's
    frame on, what was seen of the other object came from a contact that may not happen without
    the removal. ``collisions`` sorted by frame, chains follow in order."""
    for e in collisions:
        if e.frame >= until:
            break
        a, b = e.objects
        if diverged[a] <= e.frame or diverged[b] <= e.frame:
            diverged[a] = min(diverged[a], e.frame)
            diverged[b] = min(diverged[b], e.frame)


def _world_from_arrays(observation: Observation, pos: np.ndarray, vel: np.ndarray, yaw: np.ndarray, removed: int,
                       collisions: list) -> World:
    """A counterfactual World of planar positions (F, N, 2), velocities and yaws; visibility is
    the centre in the camera's view; the removed object is never visible."""
    from physreason.datasets.records import Track
    from physreason.datasets.shapes import get_shape

    tracks = []
    n_frames = pos.shape[0]
    zeros = np.zeros((n_frames, 1))
    for k, obj in enumerate(observation.objects):
        centre = np.concatenate([pos[:, k], np.full((n_frames, 1), get_shape(obj.shape).centre_height)], axis=1)
        visible = observation.camera.in_view(centre) & (k != removed)
        orientation = np.concatenate([zeros, zeros, yaw[:, k, None]], axis=1)
        tracks.append(Track(k, centre, np.concatenate([vel[:, k], zeros], axis=1), orientation,
                            np.zeros((n_frames, 3)), visible))
    unique = {(e.objects, e.frame): e for e in collisions if removed not in e.objects}
    obs = Observation(observation.scene_index, observation.objects, tuple(tracks),
                      sort_events(list(unique.values())), n_frames, observation.camera)
    return World(obs, "counterfactual", removed)


def counterfactual_outcomes(observation: Observation, fit: FitResult,
                            horizon: int | None = None) -> tuple[Counterfactuals, tuple[World, ...]]:
    """:func:`replayed_counterfactual` of every object: the record reasoning reads, and the worlds."""
    total = observation.n_frames + N_FUTURE_FRAMES if horizon is None else horizon
    fitted = simulate_world(observation.objects, fit.params, total, observation.camera).observation
    pairs = [replayed_counterfactual(observation, fit, k, total, fitted=fitted)
             for k in range(len(observation.objects))]
    record = Counterfactuals(observation.scene_index, total, tuple(p[0] for p in pairs))
    return record, tuple(p[1] for p in pairs)


def build_worlds(observation: Observation, fit: FitResult | None = None, *, simulate: bool = True,
                 n_future: int = N_FUTURE_FRAMES, config: FitConfig = FitConfig()) -> Worlds:
    """Fit ``observation`` (unless ``fit`` is given) and simulate its future and counterfactuals;
    with ``simulate=False`` nothing is fitted and only descriptive/explanatory questions can be
    answered. A predicted near miss is not counted as a collision (on 30 development questions,
    counting centres within 0.05 units of touching changed nothing, within 0.1 cost one); a
    question asking which event will happen next picks the nearest one instead
    (:func:`physreason.reasoning.executor.execute_choices`)."""
    if not simulate:
        return Worlds(observation)
    if fit is None:
        fit = fit_observation(observation, config)
    future = predict(observation, fit, n_future, config=config)
    record, removed = counterfactual_outcomes(observation, fit)
    return Worlds(observation, fit, future, record, removed)
