"""Running batches of scenes through the Taichi step: rollouts, and losses with gradients.

Simulators are cached per float type and grown (re-allocated, which recompiles the kernels, a
few seconds) only when a batch does not fit; every later batch that fits reuses them. Use
``precision="float32"`` for speed and ``"float64"`` for gradient checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import taichi as ti

from physreason.errors import ConfigError
from physreason.physics.model import PARAMETERS, SUBSTEPS, Model
from physreason.physics.runtime import ensure_taichi
from physreason.physics.state import State, collision_events
from physreason.physics.step import Simulator

PRECISIONS = ("float32", "float64")
_simulators: dict[str, Simulator] = {}


def _round_up(n: int, minimum: int) -> int:
    size = minimum
    while size < n:
        size *= 2
    return size


def simulator(precision: str, n_scenes: int, n_objects: int, n_steps: int, n_frames: int) -> Simulator:
    """A cached simulator whose fields hold a batch of this size."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    ensure_taichi()
    sim = _simulators.get(precision)
    if sim is None or not sim.fits(n_scenes, n_objects, n_steps, n_frames):
        old = (sim.max_scenes, sim.max_objects, sim.max_steps, sim.max_frames) if sim else (8, 6, 1280, 128)
        sim = Simulator(ti.f32 if precision == "float32" else ti.f64, _round_up(n_scenes, old[0]),
                        _round_up(n_objects, old[1]), _round_up(n_steps, old[2]), _round_up(n_frames, old[3]))
        _simulators[precision] = sim
    return sim


def _padded(arr: np.ndarray, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    out = np.zeros(shape, dtype)
    out[tuple(slice(0, s) for s in arr.shape)] = arr
    return out


def _load(sim: Simulator, model: Model) -> None:
    """Copy the model's arrays into the simulator's fields (padding is inactive, mass 1)."""
    dt = np.float64 if sim.real == ti.f64 else np.float32
    bn = (sim.max_scenes, sim.max_objects)
    sim.kind.from_numpy(_padded(model.kind.astype(np.int32), bn, np.int32))
    sim.active.from_numpy(_padded(model.active.astype(np.int32), bn, np.int32))
    mass = np.ones(bn, dt)
    mass[:model.n_scenes, :model.n_objects] = np.where(model.active, model.mass, 1.0)
    sim.mass.from_numpy(mass)
    sim.restitution.from_numpy(_padded(model.restitution, bn, dt))
    sim.friction.from_numpy(_padded(model.friction, bn, dt))
    sim.rolling.from_numpy(_padded(model.rolling_friction, bn, dt))
    sim.x0.from_numpy(_padded(model.position, bn + (2,), dt))
    sim.v0.from_numpy(_padded(model.velocity, bn + (2,), dt))
    sim.yaw0.from_numpy(_padded(model.yaw, bn, dt))


def _check(model: Model, n_frames: int) -> None:
    if n_frames < 1:
        raise ConfigError(f"n_frames must be >= 1, got {n_frames}")
    for name in PARAMETERS:
        if not np.isfinite(getattr(model, name)[model.active]).all():
            raise ConfigError(f"model parameter '{name}' holds NaN or infinite values")


def rollout(model: Model, n_frames: int, collide: bool = True, precision: str = "float32") -> State:
    """Simulate every scene of ``model`` for ``n_frames`` frames (frame 0 = initial state)."""
    _check(model, n_frames)
    n_steps = (n_frames - 1) * SUBSTEPS
    b, n = model.n_scenes, model.n_objects
    sim = simulator(precision, b, n, max(n_steps, 1), n_frames)
    _load(sim, model)
    sim.initialize(b, n)
    sim.simulate(b, n, n_steps, int(collide))
    frames = slice(0, n_steps + 1, SUBSTEPS)
    position = sim.x.to_numpy()[:b, frames, :n].astype(float)
    velocity = sim.v.to_numpy()[:b, frames, :n].astype(float)
    yaw = sim.yaw.to_numpy()[:b, frames, :n].astype(float)
    hits = sim.hit.to_numpy()[:b, :n_steps, :n, :n] != 0
    inactive = ~model.active
    position[np.broadcast_to(inactive[:, None, :], position.shape[:3])] = np.nan
    velocity[np.broadcast_to(inactive[:, None, :], velocity.shape[:3])] = np.nan
    yaw[np.broadcast_to(inactive[:, None, :], yaw.shape)] = np.nan
    collisions = tuple(collision_events(hits[k], position[k], SUBSTEPS) for k in range(b))
    pair_hits = hits | np.swapaxes(hits, 2, 3)
    contact = np.zeros((b, n_frames, n, n), bool)
    if n_steps:
        contact[:, 1:] = pair_hits.reshape(b, n_frames - 1, SUBSTEPS, n, n).any(axis=2)
    return State(position, velocity, yaw, model.active.copy(), collisions, contact)


@dataclass(frozen=True)
class LossGrad:
    """Per-scene loss (B,) and its gradient w.r.t. every parameter of :data:`PARAMETERS`
    (``grads[name]`` shaped like ``Model.<name>``)."""

    loss: np.ndarray
    grads: dict[str, np.ndarray]


def loss_and_grad(model: Model, target: np.ndarray, weight: np.ndarray, collide: bool = True,
                  precision: str = "float32", with_grad: bool = True) -> LossGrad:
    """``loss[b] = sum_{f,i} weight[b,f,i] * |position(b,f,i) - target[b,f,i]|²`` and its gradients.

    ``target`` (B, F, N, 2) units, ``weight`` (B, F, N) >= 0 (0 where nothing was observed; the
    entries there may be NaN). Frame f is simulated time f / 25 s.
    """
    b, n = model.n_scenes, model.n_objects
    if target.shape[:1] + target.shape[2:] != (b, n, 2) or weight.shape != target.shape[:3]:
        raise ConfigError(f"target must be (B, F, N, 2) and weight (B, F, N) for B={b}, N={n}; "
                          f"got {target.shape} and {weight.shape}")
    n_frames = target.shape[1]
    _check(model, n_frames)
    n_steps = (n_frames - 1) * SUBSTEPS
    sim = simulator(precision, b, n, max(n_steps, 1), n_frames)
    dt = np.float64 if sim.real == ti.f64 else np.float32
    _load(sim, model)
    shape = (sim.max_scenes, sim.max_frames, sim.max_objects)
    observed = weight > 0
    sim.target.from_numpy(_padded(np.where(observed[..., None], target, 0.0), shape + (2,), dt))
    sim.weight.from_numpy(_padded(np.where(observed, weight, 0.0), shape, dt))
    sim.loss.fill(0.0)
    sim.initialize(b, n)
    sim.simulate(b, n, n_steps, int(collide))
    sim.squared_error(b, n, n_frames)
    loss = sim.loss.to_numpy()[:b].astype(float)
    if not with_grad:
        return LossGrad(loss, {})
    sim.clear_grads(b, n, n_steps)
    sim.loss.grad.fill(1.0)
    sim.squared_error.grad(b, n, n_frames)
    sim.simulate.grad(b, n, n_steps, int(collide))
    sim.initialize.grad(b, n)
    fields = {"mass": sim.mass, "restitution": sim.restitution, "friction": sim.friction,
              "rolling_friction": sim.rolling, "position": sim.x0, "velocity": sim.v0, "yaw": sim.yaw0}
    grads = {}
    for name, f in fields.items():
        g = f.grad.to_numpy()[:b, :n].astype(float)
        grads[name] = g * model.active[(...,) + (None,) * (g.ndim - 2)]
    return LossGrad(loss, grads)
