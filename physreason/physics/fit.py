"""Fitting an engine model to observed tracks: initial state, mass, restitution and friction.

From an :class:`Observation` (tracks with gaps: objects entering late, leaving, hidden) the
fit runs a curriculum, as VRDP does, but on the Taichi engine:

1. First guess per object from its first observed frames (velocity by a line fit, carried
   back to frame 0 under a nominal deceleration for objects that enter late); mass ratios,
   restitution and friction start at the priors of its material (:mod:`.priors`, learned from
   fits of training videos), which is where they stay when the tracks say nothing about them
   (an object that never moves keeps its material's friction, one that never collides its
   material's mass ratio to the others).
2. Collision-free stage: initial position, velocity and friction with collisions switched off,
   each object fitted on its observed frames before its first listed collision (at most
   ``free_frames`` frames past its first sighting).
3. Collision windows: one short rollout per observed collision (``window_before`` frames ahead
   of it to ``window_after`` past it), each starting from the tracks' state at the window start,
   all windows and several starts (restitution guesses) simulated in one batched engine launch
   per loss evaluation. Mass ratios and restitutions are shared by the windows, the windows'
   start states are free; the best start wins. Short windows keep the loss smooth, where a
   whole-video rollout through several collisions is too chaotic for gradients.
4. Growing horizons (``horizons``, fractions of the video) from frame 0 with collisions: initial
   state and friction again, mass and restitution fixed, so that the whole-video rollout used
   for counterfactuals follows the tracks.

Each stage is L-BFGS-B (scipy) on the masked mean squared position error (units²), with bounds
(log masses and restitutions scaled by :data:`PHYSICAL_SCALE` so that they move at all);
the window stage adds weak priors (log mass and restitution towards their material's) that
only matter where the data say little. Masses are only known up to one common factor:
the fit works on log masses whose mean is held at 0 by a penalty, and the result is scaled so
that the geometric mean of the fitted masses is 1 (only mass ratios mean anything).

Options (:class:`FitConfig`): ``share`` ties mass, restitution and friction of objects of one
concept (per material, per material and shape, or any slot map) through a differentiable index
map (:class:`Sharing`: slot values are expanded to the objects, gradients summed back);
``fixed_friction`` fixes friction instead of fitting it (VRDP's model, for ablations).

Bad input: an observation with no object seen in two frames raises :class:`ConfigError`;
objects seen in fewer than two frames are parked far outside the table (they take part in
nothing), NaN coordinates on visible frames count as unobserved, and both, like a video
without collisions (masses and restitutions then are priors) or a poor fit, flag the result
as ``quality == "poor"`` with the reasons in ``flags``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from physreason.datasets.records import ObjectParams, Observation, PhysicsParams
from physreason.datasets.vocab import FPS, SHAPES
from physreason.errors import ConfigError
from physreason.physics.engine import loss_and_grad, rollout
from physreason.physics.model import GRAVITY, Model
from physreason.physics.priors import (FIELDS, NOMINAL_DECELERATION, NOMINAL_RESTITUTION, ROLL_FACTOR, MaterialPriors,
                                      shipped_priors)

ENGINE_NAME = "physreason.physics (taichi)"
"""Value of ``PhysicsParams.engine`` for fitted parameters."""
RESTITUTION_STARTS = (0.6, 0.9)
"""Per-object restitution guesses, one start each, fitted side by side in one batch."""
GOOD_RESIDUAL = 0.1
"""Units: a fit whose every object's RMS position error is below this is not flagged."""
PRIOR_WEIGHT = 1e-4
"""Weight of the priors relative to the mean squared position error (units²)."""
PHYSICAL_SCALE = 30.0
"""Log masses and restitutions enter L-BFGS divided by this: their loss curvature is far below
that of positions and velocities, and unscaled they hardly moved from their start (measured on
held-out scenes: median mass-ratio error 0.30 unscaled, 0.06-0.12 with 10-100)."""
PARKED_POSITION = (100.0, 100.0)
"""Units: where objects never observed are put (x offset by 2 units per object id)."""
BOUNDS = {"mass": (np.log(0.05), np.log(20.0)), "restitution": (0.0, 1.0), "friction": (0.0, 0.3),
          "rolling_friction": (0.0, 0.05)}
"""L-BFGS-B bounds per parameter (mass as log mass)."""


@dataclass(frozen=True)
class FitConfig:
    """Knobs of the fit: ``free_frames`` frames per object in the collision-free stage,
    ``iterations`` L-BFGS iterations per stage, ``window_before``/``window_after`` frames
    around each collision in the collision-window stage, ``horizons`` the collision stages' horizons as
    fractions of the observed frames, ``precision`` of the engine ('float32' or 'float64');
    ``fixed_friction``: when set, friction is not fitted but this sliding coefficient for every
    object, with the rolling friction giving spheres the same deceleration (VRDP's model);
    ``share``: objects sharing mass, restitution and friction (:class:`Sharing`): None (each its
    own), 'material', 'material_shape', or a tuple with a slot number per object;
    ``priors``: per-material prior means (:class:`~.priors.MaterialPriors`; None: the shipped ones,
    :meth:`~.priors.MaterialPriors.flat` for none)."""

    free_frames: int = 40
    iterations: int = 25
    window_before: int = 6
    window_after: int = 19
    horizons: tuple[float, ...] = (0.5, 1.0)
    precision: str = "float32"
    fixed_friction: float | None = None
    share: str | tuple[int, ...] | None = None
    priors: MaterialPriors | None = None


@dataclass(frozen=True, eq=False)
class FitResult:
    """Fitted parameters; ``residuals`` (N,) per-object RMS position error over observed frames
    (units, NaN for objects never observed); ``fitted`` (N,) bool, False for parked objects;
    ``quality`` 'good' or 'poor' and the reasons for a poor one in ``flags``."""

    params: PhysicsParams
    residuals: np.ndarray
    fitted: np.ndarray
    quality: str
    flags: tuple[str, ...]


def observed_targets(observation: Observation) -> tuple[np.ndarray, np.ndarray]:
    """Observed planar positions (F, N, 2) units (0 where unobserved) and a mask (F, N) of frames
    where an object is visible with finite coordinates."""
    pos = np.stack([tr.xy for tr in observation.tracks], axis=1)
    vis = np.stack([tr.visible for tr in observation.tracks], axis=1) & np.isfinite(pos).all(axis=2)
    return np.where(vis[..., None], pos, 0.0), vis


def first_guess(pos: np.ndarray, mask: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial positions (N, 2) units, velocities (N, 2) units/s and yaws (N,) rad at frame 0
    from each object's first observed frames: positions ``pos`` (F, N, 2), ``mask`` (F, N),
    observed yaws ``yaw`` (F, N). Objects seen in fewer than two frames are parked."""
    n = pos.shape[1]
    x0, v0, yaw0 = np.zeros((n, 2)), np.zeros((n, 2)), np.zeros(n)
    for i in range(n):
        frames = np.flatnonzero(mask[:, i])
        if len(frames) < 2:
            x0[i] = (PARKED_POSITION[0] + 2.0 * i, PARKED_POSITION[1])
            continue
        head = frames[:8]
        t = head / FPS
        yaw0[i] = float(np.nan_to_num(yaw[head[0], i]))
        coef = np.polyfit(t, pos[head, i], 1)
        v, x_first = coef[0], coef[0] * t[0] + coef[1]
        speed, t0 = float(np.linalg.norm(v)), float(t[0])
        if speed > 0.05:
            direction = v / speed
            x0[i] = x_first - direction * (speed * t0 + 0.5 * NOMINAL_DECELERATION * t0 ** 2)
            v0[i] = direction * (speed + NOMINAL_DECELERATION * t0)
        else:
            x0[i] = x_first
    return x0, v0, yaw0


SHARE_BY = ("material", "material_shape")
"""Concepts whose objects can share physical parameters (``FitConfig.share``)."""
SHARED = ("mass", "restitution", "friction", "rolling_friction")
"""The parameters a sharing map ties together (initial states stay per object)."""


@dataclass(frozen=True, eq=False)
class Sharing:
    """An index map from objects to shared parameter slots: object i takes slot ``index[i]``.

    :meth:`expand` turns per-slot values (..., S) into per-object values (..., N) and
    :meth:`reduce` carries per-object gradients back to the slots (the transpose of the map:
    the sum over each slot's objects), so a loss stays differentiable in the slot values.
    """

    index: np.ndarray

    @property
    def n_slots(self) -> int:
        return int(self.index.max()) + 1 if self.index.size else 0

    @classmethod
    def identity(cls, n: int) -> Sharing:
        return cls(np.arange(n))

    @classmethod
    def of(cls, objects, share: str | tuple[int, ...] | None) -> Sharing:
        """The map for ``objects`` (ObjectInfo) given ``FitConfig.share``: None (one slot per
        object), 'material', 'material_shape', or an explicit slot per object."""
        n = len(objects)
        if share is None:
            return cls.identity(n)
        if isinstance(share, str):
            if share not in SHARE_BY:
                raise ConfigError(f"share must be one of {', '.join(SHARE_BY)}, a slot per object or None; "
                                  f"got '{share}'")
            keys = [o.material if share == "material" else (o.material, o.shape) for o in objects]
            slots = {k: i for i, k in enumerate(dict.fromkeys(keys))}
            return cls(np.array([slots[k] for k in keys], int))
        index = np.asarray(share, int)
        if index.shape != (n,) or (index < 0).any() or (n and set(index.tolist()) != set(range(index.max() + 1))):
            raise ConfigError(f"share: need one slot per object ({n}), numbered 0..S-1 without gaps; got {share}")
        return cls(index)

    def expand(self, slots: np.ndarray) -> np.ndarray:
        return np.asarray(slots)[..., self.index]

    def reduce(self, grad: np.ndarray) -> np.ndarray:
        out = np.zeros(grad.shape[:-1] + (self.n_slots,))
        np.add.at(out, (..., self.index), grad)
        return out

    def live(self, active: np.ndarray) -> np.ndarray:
        """(S,) whether a slot has an active object."""
        return self.reduce(active.astype(float)) > 0


class Problem:
    """One L-BFGS stage of initial state and friction (no mass or restitution: those come from
    :class:`WindowProblem`): which parameters vary, their packing, bounds and the loss."""

    def __init__(self, base: Model, names: tuple[str, ...], target: np.ndarray, weight: np.ndarray,
                 collide: bool, precision: str, sharing: Sharing | None = None) -> None:
        if {"mass", "restitution"} & set(names):
            raise ConfigError("Problem fits initial state and friction only; mass and restitution go "
                              "through WindowProblem")
        self.base, self.names, self.target, self.weight = base, names, target, weight
        self.collide, self.precision = collide, precision
        self.sharing = Sharing.identity(base.n_objects) if sharing is None else sharing

    def _shared(self, name: str) -> bool:
        return name in SHARED

    def _size(self, name: str) -> tuple[int, ...]:
        shape = getattr(self.base, name).shape
        return shape[:1] + (self.sharing.n_slots,) if self._shared(name) else shape

    def pack(self, model: Model) -> np.ndarray:
        """Parameters as one vector; a shared parameter takes the mean of its slot's objects."""
        parts = []
        for k in self.names:
            value = getattr(model, k)
            if self._shared(k):
                value = self.sharing.reduce(value) / np.maximum(self.sharing.reduce(np.ones_like(value)), 1)
            parts.append(value.ravel())
        return np.concatenate(parts)

    def unpack(self, theta: np.ndarray) -> Model:
        values, k = {}, 0
        for name in self.names:
            shape = self._size(name)
            size = int(np.prod(shape))
            value = theta[k:k + size].reshape(shape)
            values[name] = self.sharing.expand(value) if self._shared(name) else value
            k += size
        return self.base.with_values(**values)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        out: list[tuple[float | None, float | None]] = []
        for name in self.names:
            out.extend([BOUNDS.get(name, (None, None))] * int(np.prod(self._size(name))))
        return out

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        lg = loss_and_grad(self.unpack(theta), self.target, self.weight, self.collide, self.precision)
        grads = [self.sharing.reduce(lg.grads[name]) if self._shared(name) else lg.grads[name] for name in self.names]
        return float(lg.loss.sum()), np.concatenate([g.ravel() for g in grads]).astype(float)

    def solve(self, start: Model, iterations: int) -> Model:
        res = minimize(self.value_and_grad, self.pack(start), jac=True, method="L-BFGS-B", bounds=self.bounds(),
                       options={"maxiter": iterations, "maxfun": 2 * iterations})
        return self.unpack(res.x)


class WindowProblem:
    """Mass and restitution from short windows around the observed collisions, all windows and
    starts in one batch: scene ``s * W + w`` is window w under start s. Each start has its own
    log masses and restitutions per slot of ``sharing`` (per object by default; shared by its
    windows); each scene its own initial positions and velocities. Friction and yaw stay fixed."""

    def __init__(self, windows: Model, n_starts: int, target: np.ndarray, weight: np.ndarray,
                 precision: str, sharing: Sharing | None = None, prior_log_mass: np.ndarray | None = None,
                 prior_restitution: np.ndarray | None = None) -> None:
        self.base, self.n_starts = windows, n_starts
        self.n_windows = windows.n_scenes // n_starts
        self.target, self.weight, self.precision = target, weight, precision
        self.sharing = Sharing.identity(windows.n_objects) if sharing is None else sharing
        self.n = self.sharing.n_slots
        self.live = self.sharing.live(windows.active.any(axis=0))
        n = windows.n_objects
        self.prior_log_mass = self.slot_means(np.zeros(n) if prior_log_mass is None else prior_log_mass)
        self.prior_restitution = self.slot_means(np.full(n, NOMINAL_RESTITUTION) if prior_restitution is None
                                                 else prior_restitution)
        self.split = np.cumsum([n_starts * self.n, n_starts * self.n, windows.position.size])

    def slot_means(self, values: np.ndarray) -> np.ndarray:
        """Per-object values (N,) averaged over each slot's objects (slots,)."""
        return self.sharing.reduce(np.asarray(values, float)) / np.maximum(self.sharing.reduce(np.ones(len(values))), 1)

    def centred_log_mass(self) -> np.ndarray:
        """The prior log masses (slots,) less their mean over live slots (the fit holds that mean at 0)."""
        live = self.prior_log_mass[self.live]
        return self.prior_log_mass - (live.mean() if live.size else 0.0)

    def pack(self, log_mass: np.ndarray, restitution: np.ndarray, model: Model) -> np.ndarray:
        """``log_mass`` and ``restitution`` (S, slots), the windows' initial states from ``model``;
        mass and restitution enter the vector divided by :data:`PHYSICAL_SCALE`."""
        return np.concatenate([log_mass.ravel() / PHYSICAL_SCALE, restitution.ravel() / PHYSICAL_SCALE,
                               model.position.ravel(), model.velocity.ravel()])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, Model]:
        lm, e, x, v = np.split(theta, self.split)
        lm = lm.reshape(self.n_starts, self.n) * PHYSICAL_SCALE
        e = e.reshape(self.n_starts, self.n) * PHYSICAL_SCALE
        model = self.base.with_values(mass=np.repeat(np.exp(self.sharing.expand(lm)), self.n_windows, axis=0),
                                      restitution=np.repeat(self.sharing.expand(e), self.n_windows, axis=0),
                                      position=x.reshape(self.base.position.shape),
                                      velocity=v.reshape(self.base.velocity.shape))
        return lm, e, model

    def losses(self, theta: np.ndarray) -> np.ndarray:
        """Loss per start (S,), priors included."""
        lm, e, model = self.unpack(theta)
        loss = loss_and_grad(model, self.target, self.weight, True, self.precision, with_grad=False).loss
        return loss.reshape(self.n_starts, self.n_windows).sum(axis=1) + self._prior(lm, e)[0]

    def _prior(self, lm: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prior loss per start (S,) and its gradients w.r.t. log masses and restitutions (S, slots)."""
        live = self.live[None]
        count = max(int(self.live.sum()), 1)
        lm0 = np.where(live, lm, 0.0)
        mean = lm0.sum(axis=1, keepdims=True) / count
        dev_lm = np.where(live, lm - self.centred_log_mass(), 0.0)
        dev = np.where(live, e - self.prior_restitution, 0.0)
        loss = PRIOR_WEIGHT * ((dev_lm ** 2).sum(axis=1) + (dev ** 2).sum(axis=1)) + mean[:, 0] ** 2
        g_lm = np.where(live, 2 * PRIOR_WEIGHT * dev_lm + 2 * mean / count, 0.0)
        return loss, g_lm, 2 * PRIOR_WEIGHT * dev

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        lm, e, model = self.unpack(theta)
        lg = loss_and_grad(model, self.target, self.weight, True, self.precision)
        prior, g_lm, g_e = self._prior(lm, e)
        shape = (self.n_starts, self.n_windows, self.base.n_objects)
        g_mass = self.sharing.reduce((lg.grads["mass"] * model.mass).reshape(shape).sum(axis=1)) + g_lm
        g_rest = self.sharing.reduce(lg.grads["restitution"].reshape(shape).sum(axis=1)) + g_e
        grad = np.concatenate([PHYSICAL_SCALE * g_mass.ravel(), PHYSICAL_SCALE * g_rest.ravel(),
                               lg.grads["position"].ravel(),
                               lg.grads["velocity"].ravel()])
        return float(lg.loss.sum() + prior.sum()), grad.astype(float)

    def solve(self, theta: np.ndarray, iterations: int) -> np.ndarray:
        scaled = [tuple(b / PHYSICAL_SCALE for b in BOUNDS[name]) for name in ("mass", "restitution")]
        bounds = ([scaled[0]] * (self.n_starts * self.n) + [scaled[1]] * (self.n_starts * self.n)
                  + [(None, None)] * (2 * self.base.position.size))
        return minimize(self.value_and_grad, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                        options={"maxiter": iterations, "maxfun": 2 * iterations}).x


def _collision_windows(model: Model, collisions: tuple, pos: np.ndarray, mask: np.ndarray, yaw: np.ndarray,
                       config: FitConfig) -> tuple[Model, np.ndarray, np.ndarray] | None:
    """One scene per observed collision: the window from ``config.window_before`` frames ahead of
    it to ``config.window_after`` frames past it (shifted to fit the video), starting from states
    fitted by line to the window's first frames (objects seen in fewer than 3 of its first 6
    frames are left out). Returns the windows
    (W scenes), their targets (W, T, N, 2) and weights (W, T, N), or None without usable ones."""
    n_frames, n = mask.shape
    length = config.window_before + config.window_after
    scenes, targets, weights = [], [], []
    for event in collisions:
        start = max(0, min(event.frame - config.window_before, n_frames - length))
        end = min(n_frames, start + length)
        if end - start < 8:
            continue
        head = mask[start:start + 6].sum(axis=0) >= 3
        if not all(0 <= i < n and head[i] for i in event.objects):
            continue
        x0, v0, yaw0 = first_guess(pos[start:start + 6], mask[start:start + 6], yaw[start:start + 6])
        active = head & model.active[0]
        scenes.append(model.with_values(position=np.where(active[:, None], x0, 0.0)[None],
                                        velocity=np.where(active[:, None], v0, 0.0)[None], yaw=yaw0[None]))
        scenes[-1] = replace(scenes[-1], active=active[None])
        t = np.zeros((length, n, 2))
        w = np.zeros((length, n))
        t[:end - start] = pos[start:end]
        w[:end - start] = mask[start:end] & active[None]
        targets.append(t)
        weights.append(w)
    if not scenes:
        return None
    weight = np.stack(weights)
    return Model.stack(scenes), np.stack(targets), weight / max(weight.sum(), 1.0)


def _weights(mask: np.ndarray, until: np.ndarray | int) -> np.ndarray:
    """Weights (F, N): 1/count on observed frames before ``until`` (per object, or one frame)."""
    frames = np.arange(mask.shape[0])[:, None]
    w = (mask & (frames < until)).astype(float)
    return w / max(w.sum(), 1.0)


def fit_observation(observation: Observation, config: FitConfig = FitConfig()) -> FitResult:
    """Fit engine parameters to ``observation`` (see the module docstring)."""
    n, n_frames = len(observation.objects), observation.n_frames
    if n == 0 or n_frames < 2:
        raise ConfigError(f"scene {observation.scene_index}: nothing to fit ({n} objects, {n_frames} frames)")
    pos, mask = observed_targets(observation)
    counts = mask.sum(axis=0)
    if not (counts >= 2).any():
        raise ConfigError(f"scene {observation.scene_index}: no object is observed in two frames or more")
    yaws = np.stack([tr.yaw for tr in observation.tracks], axis=1)
    x0, v0, yaw = first_guess(pos, mask, yaws)
    active = counts >= 2
    kinds = np.array([[SHAPES.index(o.shape) for o in observation.objects]], np.int32)
    priors = shipped_priors() if config.priors is None else config.priors
    prior = {name: priors.per_object(name, observation.objects) for name in FIELDS}
    if config.fixed_friction is not None:
        prior["friction"] = np.full(n, config.fixed_friction)
        prior["rolling_friction"] = prior["friction"] * ROLL_FACTOR
    log_mass = prior["log_mass"] - prior["log_mass"][active].mean()
    base = Model(kind=kinds, active=active[None], mass=np.exp(log_mass)[None], restitution=prior["restitution"][None],
                 friction=prior["friction"][None], rolling_friction=prior["rolling_friction"][None],
                 position=x0[None], velocity=v0[None], yaw=yaw[None])
    first_hit = np.full(n, n_frames)
    for e in observation.collisions:
        for i in e.objects:
            if 0 <= i < n:
                first_hit[i] = min(first_hit[i], e.frame)
    first_seen = np.array([np.flatnonzero(mask[:, i])[0] if active[i] else 0 for i in range(n)])
    free_until = np.minimum(np.maximum(first_hit - 2, first_seen + 3), first_seen + config.free_frames)
    target = pos[None]
    span = int(free_until.max())  # frames simulated: none past the last weighted one
    names = ("position", "velocity") + (("friction", "rolling_friction") if config.fixed_friction is None else ())
    sharing = Sharing.of(observation.objects, config.share)
    free = Problem(base, names, target[:, :span],
                   _weights(mask, free_until)[None, :span], False, config.precision, sharing)
    model = free.solve(base, config.iterations)
    windows = _collision_windows(model, observation.collisions, pos, mask, yaws, config)
    if windows is not None:
        k = len(RESTITUTION_STARTS)
        scenes, w_target, w_weight = windows
        problem = WindowProblem(Model.stack([scenes] * k), k, np.concatenate([w_target] * k),
                                np.concatenate([w_weight] * k), config.precision, sharing,
                                prior["log_mass"], prior["restitution"])
        lm0 = np.repeat(problem.centred_log_mass()[None], k, axis=0)
        e0 = np.repeat(np.array(RESTITUTION_STARTS)[:, None], problem.n, axis=1)
        theta = problem.solve(problem.pack(lm0, e0, problem.base), config.iterations)
        best = int(np.argmin(problem.losses(theta)))
        lm, e, _ = problem.unpack(theta)
        model = model.with_values(mass=np.exp(sharing.expand(lm[best:best + 1])),
                                  restitution=sharing.expand(e[best:best + 1]))
    for fraction in config.horizons:
        horizon = max(2, int(round(fraction * n_frames)))
        model = Problem(model, names, target[:, :horizon], _weights(mask, horizon)[None, :horizon], True,
                        config.precision, sharing).solve(model, config.iterations)
    return _result(observation, model, pos, mask, config, windows is not None)


def _result(obs: Observation, model: Model, pos: np.ndarray, mask: np.ndarray, config: FitConfig,
            windowed: bool) -> FitResult:
    """Per-object residuals, the quality flag and the fitted parameters as records."""
    n = len(obs.objects)
    active = model.active[0]
    sim = rollout(model, obs.n_frames, precision=config.precision).position[0]
    err = np.where(mask, np.sum((np.nan_to_num(sim) - pos) ** 2, axis=2), 0.0)
    count = mask.sum(axis=0)
    residuals = np.where(active, np.sqrt(err.sum(axis=0) / np.maximum(count, 1)), np.nan)
    flags = []
    unseen = [i for i in range(n) if not active[i]]
    if unseen:
        flags.append(f"object(s) {unseen} observed in fewer than 2 frames: parked off the table, parameters are priors")
    visible = np.stack([tr.visible for tr in obs.tracks], axis=1)
    bad_rows = int((visible & ~mask).sum())
    if bad_rows:
        flags.append(f"{bad_rows} visible object-frame(s) with NaN or infinite positions treated as unobserved")
    if not obs.collisions:
        flags.append("no collisions observed: masses and restitutions are priors")
    elif not windowed:
        flags.append("no collision seen well enough to fit masses and restitutions: they are priors")
    poor = [i for i in range(n) if active[i] and not residuals[i] < GOOD_RESIDUAL]
    if poor:
        flags.append(f"object(s) {poor} fitted with RMS error above {GOOD_RESIDUAL} units")
    mass = model.mass[0] / np.exp(np.mean(np.log(model.mass[0][active])))
    objects = tuple(ObjectParams(i, float(mass[i]), float(model.restitution[0, i]), float(model.friction[0, i]),
                                 float(model.rolling_friction[0, i]),
                                 (float(model.position[0, i, 0]), float(model.position[0, i, 1])),
                                 (float(model.velocity[0, i, 0]), float(model.velocity[0, i, 1])),
                                 float(model.yaw[0, i]))
                    for i in range(n))
    params = PhysicsParams(obs.scene_index, objects, (("gravity", GRAVITY),), ENGINE_NAME)
    return FitResult(params, residuals, active.copy(), "poor" if flags else "good", tuple(flags))
