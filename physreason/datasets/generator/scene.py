"""Sampling CLEVRER-style scenes: objects, physical parameters and initial states.

CLEVRER's recipe (reference notes §1.2): start from one moving object inside the view, then
repeatedly add an object whose initial state is chosen so that it collides with an existing one,
and discard simulations where a pair collides twice. Each added object here is either *moving*
(it moves so as to reach a target object's position at a chosen frame) or *resting* (it starts
still in the path of a moving object, which then hits it). Where a moving object must start is
found by simulating it alone (so friction is accounted for) and placing it so that it reaches the
target at the chosen frame; when that start lies outside the camera view the object enters
during the video.

Units: positions in world units (object radius 0.2), speeds in units/s, masses in mass units,
frames at 25 fps. All randomness comes from ``numpy.random.default_rng([seed, scene_index])``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.generator.simulate import ENGINE, ENGINE_CONSTANTS, Rollout, simulate
from physreason.datasets.records import ObjectInfo, ObjectParams, PhysicsParams
from physreason.datasets.shapes import get_shape
from physreason.datasets.vocab import COLORS, FPS, MATERIALS, N_FUTURE_FRAMES, N_OBSERVED_FRAMES, SHAPES
from physreason.errors import ConfigError

Range = tuple[float, float]


@dataclass(frozen=True)
class MaterialPhysics:
    """Uniform ranges, per object, of one material's physical parameters.

    ``mass`` in mass units; ``restitution`` in [0, 1] (a pair bounces with the product of
    theirs); ``friction``: sliding coefficient (a sliding object decelerates at about
    friction x 9.81 units/s²); ``rolling_friction`` in world units (a rolling sphere decelerates
    at rolling_friction x 9.81 / 0.28 units/s²).
    """

    mass: Range
    restitution: Range
    friction: Range
    rolling_friction: Range


METAL = MaterialPhysics(mass=(2.0, 3.0), restitution=(0.6, 0.8), friction=(0.015, 0.03),
                        rolling_friction=(0.0042, 0.0083))
"""Metal: heavy; sliding and rolling deceleration 0.15-0.29 units/s²."""
RUBBER = MaterialPhysics(mass=(0.7, 1.3), restitution=(0.75, 0.95), friction=(0.025, 0.04),
                         rolling_friction=(0.007, 0.011))
"""Rubber: light; sliding and rolling deceleration 0.25-0.39 units/s²."""


@dataclass(frozen=True)
class SceneConfig:
    """The rules of a scene.

    Counts: ``min_objects``..``max_objects`` objects; ``n_observed`` rendered frames plus
    ``n_future`` held-out frames. Motion: moving objects start at ``speed`` units/s and must
    still move at ``min_impact_speed`` units/s when they reach their target. Added objects: a
    share ``rest_fraction`` start at rest; of the moving ones, a share ``enter_fraction`` prefer
    a start outside the view (they enter during the video), the others one inside it. A share
    ``future_fraction`` of scenes must have a collision in the held-out future (the ground truth
    of predictive questions; scenes are drawn again until one does, for at most ``max_attempts``
    tries, after which the first valid scene is kept). Regions
    (world units, ``((x_min, x_max), (y_min, y_max))``): initial positions lie in
    ``start_region``; every centre stays in ``keep_region`` for the whole rollout.
    ``view_margin``: px inside the image border for starts and collision points meant to be
    visible. ``min_visible_frames``: observed frames each object must be in view.
    ``min_start_gap``: units between the bounding circles of any two objects at frame 0.
    ``colors``: the palette objects are drawn from (default all of CLEVRER's; a smaller one
    holds colors out, e.g. to learn them later from a few examples).
    ``max_tilt``: radians a cube or cylinder may tip from upright. ``min_collision_frame``:
    earliest planned collision frame. ``candidates``: initial states drawn per round of placing
    an object; ``add_rounds``: rounds before the scene stops growing. ``max_attempts``: whole
    scenes tried before giving up. ``constants``: the engine constants.
    """

    min_objects: int = 3
    max_objects: int = 6
    n_observed: int = N_OBSERVED_FRAMES
    n_future: int = N_FUTURE_FRAMES
    camera: Camera = CLEVRER_CAMERA
    metal: MaterialPhysics = METAL
    rubber: MaterialPhysics = RUBBER
    speed: Range = (0.8, 2.5)
    min_impact_speed: float = 0.3
    enter_fraction: float = 0.3
    rest_fraction: float = 0.2
    future_fraction: float = 0.6
    start_region: tuple[Range, Range] = ((-11.0, 5.0), (-9.0, 9.0))
    keep_region: tuple[Range, Range] = ((-14.0, 8.0), (-12.0, 12.0))
    view_margin: float = 20.0
    min_visible_frames: int = 5
    min_start_gap: float = 0.1
    max_tilt: float = 0.3
    min_collision_frame: int = 10
    candidates: int = 8
    add_rounds: int = 3
    max_attempts: int = 30
    constants: tuple[tuple[str, float], ...] = ENGINE_CONSTANTS
    colors: tuple[str, ...] = COLORS

    def __post_init__(self) -> None:
        if not self.colors or len(set(self.colors)) != len(self.colors) or set(self.colors) - set(COLORS):
            unknown = sorted(set(self.colors) - set(COLORS))
            raise ConfigError(f"colors must be distinct words of {', '.join(COLORS)}, got {', '.join(self.colors)}"
                              + (f" ('{unknown[0]}' is not one)" if unknown else ""))
        n_triples = len(self.colors) * len(MATERIALS) * len(SHAPES)
        if not 1 <= self.min_objects <= self.max_objects <= n_triples:
            raise ConfigError(f"need 1 <= min_objects <= max_objects <= {n_triples}, "
                              f"got {self.min_objects} and {self.max_objects}")
        if self.n_observed < 4 * self.min_visible_frames or self.n_future < 0:
            raise ConfigError(f"need n_observed >= {4 * self.min_visible_frames} and n_future >= 0, "
                              f"got {self.n_observed} and {self.n_future}")
        if not (0 < self.speed[0] <= self.speed[1] and 0 < self.min_impact_speed < self.speed[1]):
            raise ConfigError(f"bad speed range {self.speed} / min_impact_speed {self.min_impact_speed}")
        if not all(0 <= f <= 1 for f in (self.enter_fraction, self.rest_fraction, self.future_fraction)):
            raise ConfigError("enter_fraction, rest_fraction and future_fraction must lie in [0, 1]")
        if min(self.candidates, self.add_rounds, self.max_attempts) < 1:
            raise ConfigError("candidates, add_rounds and max_attempts must be >= 1")

    @property
    def n_frames(self) -> int:
        """Frames of the whole rollout (observed + future)."""
        return self.n_observed + self.n_future


@dataclass(frozen=True, eq=False)
class Scene:
    """A sampled scene: its objects, physics (``params``) and ``rollout`` over observed + future frames."""

    objects: tuple[ObjectInfo, ...]
    params: PhysicsParams
    rollout: Rollout

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scene):
            return NotImplemented
        return self.objects == other.objects and self.params == other.params and self.rollout == other.rollout


def sample_scene(scene_index: int, seed: int, config: SceneConfig = SceneConfig()) -> Scene:
    """Sample scene ``scene_index`` of the dataset with ``seed``; the same pair gives the same scene.

    Raises :class:`ConfigError` when no scene satisfying ``config`` is found in
    ``config.max_attempts`` attempts.
    """
    if scene_index < 0 or seed < 0:
        raise ConfigError(f"scene_index and seed must be >= 0, got {scene_index} and {seed}")
    rng = np.random.default_rng([seed, scene_index])
    needs_future = config.n_future > 0 and rng.random() < config.future_fraction
    fallback = None
    for _ in range(config.max_attempts):
        scene = _attempt(rng, scene_index, config)
        if scene is not None and (not needs_future or _has_future_collision(scene.rollout, config)):
            return scene
        fallback = fallback or scene
    if fallback is not None:  # a valid scene, only without the wished-for future collision
        return fallback
    raise ConfigError(f"scene {scene_index} (seed {seed}): no scene satisfying the SceneConfig rules "
                      f"in {config.max_attempts} attempts; relax the config or raise max_attempts")


def _attempt(rng: np.random.Generator, scene_index: int, config: SceneConfig) -> Scene | None:
    """Build one scene object by object; None when the rules cannot be met."""
    n = int(rng.integers(config.min_objects, config.max_objects + 1))
    objects = _draw_objects(rng, n, config.colors)
    physics = [_draw_physics(rng, obj, config) for obj in objects]
    first = _first_object(rng, physics[0], config)
    params = PhysicsParams(scene_index, (first,), config.constants, ENGINE)
    rollout = simulate(objects[:1], params, config.n_frames)
    for k in range(1, n):
        added = _add_object(rng, objects[:k + 1], params, rollout, physics[k], config)
        if added is None:
            if k < config.min_objects:
                return None
            objects = objects[:k]
            break
        params, rollout = added
    if not _final_rules_hold(rollout, config):
        return None
    return Scene(tuple(objects), params, rollout)


def _draw_objects(rng: np.random.Generator, n: int, colors: tuple[str, ...] = COLORS) -> list[ObjectInfo]:
    """``n`` objects with distinct (color, material, shape) triples, colors from ``colors``."""
    n_shapes, n_materials = len(SHAPES), len(MATERIALS)
    picks = rng.choice(len(colors) * n_materials * n_shapes, size=n, replace=False)
    return [ObjectInfo(k, colors[int(i) // (n_materials * n_shapes)], MATERIALS[(int(i) // n_shapes) % n_materials],
                       SHAPES[int(i) % n_shapes]) for k, i in enumerate(picks)]


def _draw_physics(rng: np.random.Generator, obj: ObjectInfo, config: SceneConfig) -> ObjectParams:
    """Material parameters of ``obj``, at rest at the origin (the state is set when it is placed)."""
    mat = config.metal if obj.material == "metal" else config.rubber
    return ObjectParams(obj.id, float(rng.uniform(*mat.mass)), float(rng.uniform(*mat.restitution)),
                        float(rng.uniform(*mat.friction)), float(rng.uniform(*mat.rolling_friction)),
                        (0.0, 0.0), (0.0, 0.0), float(rng.uniform(0.0, 2.0 * np.pi)))


def _in_view(config: SceneConfig, xy: np.ndarray, margin: float) -> np.ndarray:
    """Whether object centres at table points (..., 2) are inside the image grown by ``margin`` px."""
    xy = np.asarray(xy, float)
    centre_z = get_shape("sphere").centre_height  # every shape rests with its centre at 0.2
    points = np.concatenate([xy, np.full(xy.shape[:-1] + (1,), centre_z)], axis=-1)
    return config.camera.in_view(points, margin)


def _in_region(xy: np.ndarray, region: tuple[Range, Range]) -> np.ndarray:
    """Whether points (..., 2) lie in the box ``region``, (...) bool."""
    (x0, x1), (y0, y1) = region
    return (xy[..., 0] >= x0) & (xy[..., 0] <= x1) & (xy[..., 1] >= y0) & (xy[..., 1] <= y1)


def _unit(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle)])


def _first_object(rng: np.random.Generator, base: ObjectParams, config: SceneConfig) -> ObjectParams:
    """The first object: starting well inside the view, heading for another point inside it."""
    xy = _point_in_view(rng, config)
    heading = _point_in_view(rng, config) - xy
    if np.linalg.norm(heading) < 1.0:  # too close to give a direction: any direction will do
        heading = _unit(rng.uniform(0.0, 2.0 * np.pi))
    velocity = rng.uniform(*config.speed) * heading / np.linalg.norm(heading)
    return replace(base, position=(float(xy[0]), float(xy[1])), velocity=(float(velocity[0]), float(velocity[1])))


def _point_in_view(rng: np.random.Generator, config: SceneConfig, tries: int = 1000) -> np.ndarray:
    """A uniform point of ``start_region`` at least ``view_margin`` px inside the view, shape (2,)."""
    (x0, x1), (y0, y1) = config.start_region
    for _ in range(tries):
        xy = rng.uniform((x0, y0), (x1, y1))
        if _in_view(config, xy, -config.view_margin):
            return xy
    raise ConfigError(f"start_region {config.start_region} hardly overlaps the camera view")


def _add_object(rng: np.random.Generator, objects: list[ObjectInfo], params: PhysicsParams, rollout: Rollout,
                base: ObjectParams, config: SceneConfig) -> tuple[PhysicsParams, Rollout] | None:
    """Place the new object ``objects[-1]``: up to ``add_rounds`` rounds, each drawing a kind
    (resting or moving) and its candidate initial states, keeping the first candidate whose full
    simulation obeys the rules. Returns the grown params and rollout, or None."""
    first = min(config.min_collision_frame, config.n_observed // 4)
    # The first added object makes the scene's first collision, so it happens while observed;
    # later ones favour later frames, which are harder to reach, to spread collisions in time.
    frames = _Window(first, config.n_observed - 1, False) if len(objects) == 2 else \
        _Window(first, config.n_frames - 1, True)
    for _ in range(config.add_rounds):
        if rng.random() < config.rest_fraction:
            candidates = _resting_candidates(rng, base, rollout, frames, config)
        else:
            candidates = _moving_candidates(rng, objects[-1], base, rollout, frames, config)
        for cand in candidates:
            if not _clear_at_start(objects, params.objects, cand, config):
                continue
            trial_params = replace(params, objects=params.objects + (cand,))
            trial = simulate(objects, trial_params, config.n_frames)
            if _addition_holds(trial, base.object_id, objects, config):
                return trial_params, trial
    return None


@dataclass(frozen=True)
class _Window:
    """Frames ``first..last`` where a planned collision may happen; ``late``: density rising
    linearly towards ``last`` instead of uniform."""

    first: int
    last: int
    late: bool

    def draw(self, rng: np.random.Generator) -> int:
        u = rng.random()
        return self.first + min(int((self.last - self.first + 1) * (np.sqrt(u) if self.late else u)),
                                self.last - self.first)


def _target(rng: np.random.Generator, rollout: Rollout, frames: _Window, config: SceneConfig,
            moving: bool) -> tuple[int, int] | None:
    """A frame drawn from ``frames`` and a random object in view then (and, if ``moving``, at
    least ``min_impact_speed`` fast), as (object, frame); None when no object qualifies."""
    frame = frames.draw(rng)
    ok = _in_view(config, rollout.position[frame, :, :2], -config.view_margin)
    if moving:
        ok &= np.linalg.norm(rollout.velocity[frame, :, :2], axis=1) >= config.min_impact_speed
    choices = np.flatnonzero(ok)
    if len(choices) == 0:
        return None
    return int(rng.choice(choices)), frame


def _moving_candidates(rng: np.random.Generator, obj: ObjectInfo, base: ObjectParams, rollout: Rollout,
                       frames: _Window, config: SceneConfig) -> list[ObjectParams]:
    """Initial states that bring the new object onto a target object's position at a target frame.

    Each candidate is simulated alone (all of them in one world, far apart) to find how far it
    travels before the target frame; its start is the aim point minus that displacement. The
    initial speed is drawn high enough to still move at ``min_impact_speed`` then (judged from
    the nominal deceleration). Candidates come back with the preferred start (outside the view
    with probability ``enter_fraction``, else inside) first.
    """
    decel = _nominal_deceleration(obj, base, config)
    plans = []
    for _ in range(config.candidates):
        target = _target(rng, rollout, frames, config, moving=False)
        direction, offset = _unit(rng.uniform(0.0, 2.0 * np.pi)), rng.uniform(-0.3, 0.3)
        if target is None:
            continue
        j, frame = target
        slowest = max(config.speed[0], config.min_impact_speed + decel * frame / FPS)
        if slowest <= config.speed[1]:
            aim = rollout.position[frame, j, :2] + offset * np.array([-direction[1], direction[0]])
            plans.append((frame, aim, rng.uniform(slowest, config.speed[1]) * direction))
    prefer_outside = rng.random() < config.enter_fraction
    if not plans:
        return []
    displacement, impact_speed = _travel_alone(obj, base, [(f, v) for f, _, v in plans], config)
    candidates = []
    for (frame, aim, velocity), d, s in zip(plans, displacement, impact_speed):
        start = aim - d
        if s >= config.min_impact_speed and _in_region(start, config.start_region):
            outside = not _in_view(config, start, 0.0)
            candidates.append((outside != prefer_outside, replace(
                base, position=(float(start[0]), float(start[1])), velocity=(float(velocity[0]), float(velocity[1])))))
    return [cand for _, cand in sorted(candidates, key=lambda c: c[0])]


def _nominal_deceleration(obj: ObjectInfo, p: ObjectParams, config: SceneConfig) -> float:
    """Deceleration (units/s²) of the object alone: friction x g sliding, rolling_friction x g /
    (1.4 r) for a sphere of radius r rolling without slipping."""
    g = dict(config.constants)["gravity"]
    if obj.shape == "sphere":
        return p.rolling_friction * g / (1.4 * get_shape("sphere").half_size)
    return p.friction * g


def _travel_alone(obj: ObjectInfo, base: ObjectParams, plans: list[tuple[int, np.ndarray]],
                  config: SceneConfig) -> tuple[np.ndarray, np.ndarray]:
    """For each (frame, velocity) plan: displacement (2,) by that frame and speed then, object alone.

    The plans share one world, spaced farther apart than twice the distance any can travel.
    """
    spacing = 2.0 * config.speed[1] * config.n_frames / FPS + 1.0
    solo_objects = [replace(obj, id=m) for m in range(len(plans))]
    solo_params = PhysicsParams(0, tuple(replace(base, object_id=m, position=(m * spacing, 0.0),
                                                 velocity=(float(v[0]), float(v[1])))
                                         for m, (_, v) in enumerate(plans)), config.constants, ENGINE)
    solo = simulate(solo_objects, solo_params, max(f for f, _ in plans) + 1)
    idx = np.arange(len(plans))
    frames = np.array([f for f, _ in plans])
    displacement = solo.position[frames, idx, :2] - solo.position[0, idx, :2]
    return displacement, np.linalg.norm(solo.velocity[frames, idx, :2], axis=1)


def _resting_candidates(rng: np.random.Generator, base: ObjectParams, rollout: Rollout, frames: _Window,
                        config: SceneConfig) -> list[ObjectParams]:
    """Still initial states just ahead of a moving object, where it will pass at a target frame."""
    candidates = []
    for _ in range(config.candidates):
        target = _target(rng, rollout, frames, config, moving=True)
        ahead, offset = rng.uniform(0.0, 0.3), rng.uniform(-0.3, 0.3)
        if target is None:
            continue
        j, frame = target
        v = rollout.velocity[frame, j, :2]
        heading = v / np.linalg.norm(v)
        xy = rollout.position[frame, j, :2] + ahead * heading + offset * np.array([-heading[1], heading[0]])
        if _in_view(config, xy, -config.view_margin):
            candidates.append(replace(base, position=(float(xy[0]), float(xy[1]))))
    return candidates


def _clear_at_start(objects: list[ObjectInfo], placed: tuple[ObjectParams, ...], cand: ObjectParams,
                    config: SceneConfig) -> bool:
    """Whether the candidate's bounding circle keeps ``min_start_gap`` from every placed object's."""
    r_new = get_shape(objects[cand.object_id].shape).bounding_radius()
    for p in placed:
        r = get_shape(objects[p.object_id].shape).bounding_radius()
        gap = np.hypot(cand.position[0] - p.position[0], cand.position[1] - p.position[1]) - r - r_new
        if gap < config.min_start_gap:
            return False
    return True


def _addition_holds(rollout: Rollout, k: int, objects: list[ObjectInfo], config: SceneConfig) -> bool:
    """Object ``k`` collides and is seen, no pair collides twice, everything stays upright on the
    table inside ``keep_region``."""
    pairs = [e.objects for e in rollout.collisions]
    if len(set(pairs)) != len(pairs) or not any(k in pair for pair in pairs):
        return False
    if not _in_region(rollout.position[..., :2], config.keep_region).all():
        return False
    if _in_view(config, rollout.position[:config.n_observed, k, :2], 0.0).sum() < config.min_visible_frames:
        return False
    rest_z = np.array([get_shape(o.shape).centre_height for o in objects])
    if np.abs(rollout.position[..., 2] - rest_z).max() > 0.1:
        return False
    q = rollout.quaternion
    up_z = 1.0 - 2.0 * (q[..., 0] ** 2 + q[..., 1] ** 2)  # world z of each body's z axis
    upright = np.array([o.shape != "sphere" for o in objects])
    return bool((up_z[:, upright] >= np.cos(config.max_tilt)).all())


def _final_rules_hold(rollout: Rollout, config: SceneConfig) -> bool:
    """At least one observed collision, and every object in view for ``min_visible_frames`` observed frames."""
    if not any(e.frame < config.n_observed for e in rollout.collisions):
        return False
    visible = _in_view(config, rollout.position[:config.n_observed, :, :2], 0.0)
    return bool((visible.sum(axis=0) >= config.min_visible_frames).all())


def _has_future_collision(rollout: Rollout, config: SceneConfig) -> bool:
    """Whether a collision happens in the held-out future, frames ``n_observed..n_frames-1``."""
    return any(e.frame >= config.n_observed for e in rollout.collisions)
