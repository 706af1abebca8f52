"""Reference rigid-body physics of the synthetic CLEVRER generator, in pybullet.

Every call of :func:`simulate` opens its own DIRECT pybullet client (no global state: safe to
call repeatedly and from worker processes) and builds the scene from records alone: the objects'
shapes come from :mod:`physreason.datasets.shapes`, their mass, restitution, friction and
initial state from :class:`ObjectParams`, and every engine-wide setting from
``PhysicsParams.constants`` (see :data:`ENGINE_CONSTANTS`), so a physics file fully describes
its simulation.

Contact model. Bullet combines the coefficients of two touching bodies multiplicatively
(friction ``mu_a * mu_b``, restitution ``e_a * e_b``; rolling friction
``rf_a * mu_b + rf_b * mu_a``). The ground plane has lateral friction ``plane_friction`` = 1,
rolling and spinning friction 0 and restitution ``plane_restitution`` = 0, so an object's
``friction`` is its own sliding coefficient against the table, its ``rolling_friction`` its own
rolling resistance (a length: the resisting torque is ``rolling_friction`` x normal force), it
never bounces on the table, and two objects collide with restitution ``e_i * e_j``. Bodies are
pybullet multibodies with cone friction, so sliding friction is isotropic: a sliding cube or
cylinder decelerates at about ``friction * g`` (measured 2-3 % less), a sphere rolling without
slipping at ``rolling_friction * g / (1.4 * r)`` (r = 0.2; 1.4 = 1 + 2/5 from its inertia). Spheres
also get spinning friction equal to their rolling friction so that spin about the vertical axis
dies out. Bodies never sleep, and Bullet's default velocity damping is switched off.

Impacts (measured: every shape pair, moving onto moving or resting, head-on or off-centre, gives
``e_i * e_j`` within 0.011 at the contact point; ``tests/test_simulate_restitution.py``). Three
Bullet defaults break this and are changed:

- Speculative contacts. Bullet reports pairs up to a margin apart and its multibody solver
  treats a contact at distance d > 0 as "may close at d / dt this step", subtracting that from
  the restitution target: a cube or cylinder running into a resting sphere (found a few mm
  away) left it with ~0 relative speed. ``contact_processing_threshold`` = 0: a contact gets an
  impulse only once the surfaces overlap (at most one step's travel, 12 mm at 3 units/s).
- Penetration recovery by velocity. Multibody contacts have no split impulse, so the overlap
  was pushed out by adding ``contact_erp x overlap / dt`` to the separating speed (sphere pairs
  bounced ~0.06 too high). ``contact_erp`` = 0 between objects: an overlap left after a bounce is
  never corrected, which is harmless as bouncing objects separate. The table keeps its
  penetration recovery through a contact stiffness and damping set on the plane only
  (``ground_contact_stiffness``, ``ground_contact_damping``; Bullet then uses ERP = dt k / (dt k + c)
  and drops restitution for those contacts, 0 on the table anyway); without it sliding cubes sink.
- Cylinder side contacts. Two upright cylinders, or a cylinder and a cube's face, touch along a
  vertical line; Bullet's cylinder reports one point of it, anywhere from rim to rim, and the
  impulse there tipped the cylinder (up to toppling) and lost the bounce. A cylinder is a band
  of the full radius, ``cylinder_band_height`` tall, round its middle, and a core of the full
  height ``cylinder_core_inset`` narrower that carries the table contact: side contacts lie at
  the centre's height, where a line contact's resultant acts. Its inertia is the solid cylinder's.

Time. Frame f is the state at time f / 25 s; each frame is ``substeps_per_frame`` fixed steps of
``time_step`` seconds.

Collisions. After every fixed step the contact points between two objects (not the ground) that
touch or carry a normal force are read. A pair's collision event starts at the first such step
after the pair has been apart for more than ``collision_gap_frames`` frames (so contact flicker
during one push is one event); its frame is that step's time rounded to the nearest frame, its
location the mean contact point (midpoint of the two bodies' points) at that step.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib.metadata import version

import os
import sys
from types import ModuleType

import numpy as np

from physreason.datasets.records import Event, ObjectInfo, ObjectParams, PhysicsParams
from physreason.datasets.shapes import get_shape
from physreason.datasets.vocab import FPS
from physreason.errors import ConfigError


def _import_pybullet_quietly() -> ModuleType:
    """Import pybullet with its C-level 'build time' banner on stderr silenced."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import pybullet
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return pybullet


pybullet = _import_pybullet_quietly()

ENGINE = f"pybullet {version('pybullet')}"
"""Value of ``PhysicsParams.engine`` for scenes simulated here."""

ENGINE_CONSTANTS: tuple[tuple[str, float], ...] = (
    ("gravity", 9.81),  # units/s², pointing down (-z)
    ("time_step", 1.0 / 250.0),  # s per fixed step
    ("substeps_per_frame", 10.0),  # fixed steps per video frame (time_step * this = 1 / FPS)
    ("solver_iterations", 20.0),  # sequential-impulse iterations per step
    ("plane_friction", 1.0),  # ground lateral friction (multiplies each object's friction)
    ("plane_restitution", 0.0),  # ground restitution (multiplies each object's restitution)
    ("linear_damping", 0.0),  # Bullet's per-body velocity damping, 1/s
    ("angular_damping", 0.0),  # Bullet's per-body angular velocity damping, 1/s
    ("restitution_velocity_threshold", 0.01),  # units/s; slower impacts do not bounce
    ("contact_processing_threshold", 0.0),  # units; contacts farther apart get no impulse (> 0 spoils bounces)
    ("contact_erp", 0.0),  # share of an object-object overlap removed per step, as velocity (> 0 adds bounce)
    ("ground_contact_stiffness", 1.0e5),  # table contact only: ERP = dt k / (dt k + c), CFM = 1 / (dt k + c)
    ("ground_contact_damping", 1.0e3),  # table contact only (with the above: ERP 0.29, CFM 7e-4)
    ("cylinder_band_height", 0.02),  # units; full-radius band round a cylinder's middle takes its side contacts
    ("cylinder_core_inset", 0.005),  # units; the rest of a cylinder is this much narrower (touches the table)
    ("collision_gap_frames", 2.0),  # a pair must be apart this many frames before a new collision
)
"""Engine-wide constants written to ``PhysicsParams.constants`` and read back by :func:`simulate`."""


@dataclass(frozen=True, eq=False)
class Rollout:
    """Simulated states of N objects over T frames (frame f at time f / 25 s).

    ``position`` (T, N, 3) object centres in world units; ``quaternion`` (T, N, 4) as x, y, z, w;
    ``orientation`` (T, N, 3) roll, pitch, yaw in radians (pybullet's Euler convention);
    ``velocity`` (T, N, 3) units/s; ``angular_velocity`` (T, N, 3) rad/s. Rows of removed
    objects are NaN. ``collisions``: one ``Event("collision", frame, (i, j), location)`` per
    contact episode between two objects, i < j, sorted by frame then pair.
    """

    position: np.ndarray
    quaternion: np.ndarray
    orientation: np.ndarray
    velocity: np.ndarray
    angular_velocity: np.ndarray
    collisions: tuple[Event, ...]

    @property
    def n_frames(self) -> int:
        return int(self.position.shape[0])

    @property
    def n_objects(self) -> int:
        return int(self.position.shape[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rollout):
            return NotImplemented
        names = ("position", "quaternion", "orientation", "velocity", "angular_velocity")
        return self.collisions == other.collisions and all(
            np.array_equal(getattr(self, n), getattr(other, n), equal_nan=True) for n in names)


def engine_constants(**overrides: float) -> tuple[tuple[str, float], ...]:
    """:data:`ENGINE_CONSTANTS` with some values replaced, e.g. ``engine_constants(gravity=9.8)``."""
    unknown = set(overrides) - {name for name, _ in ENGINE_CONSTANTS}
    if unknown:
        raise ConfigError(f"unknown engine constant(s): {', '.join(sorted(unknown))}")
    return tuple((name, float(overrides.get(name, value))) for name, value in ENGINE_CONSTANTS)


def _read_constants(params: PhysicsParams) -> dict[str, float]:
    """The engine constants of ``params`` by name, checked to be complete and consistent."""
    consts = dict(params.constants)
    missing = [name for name, _ in ENGINE_CONSTANTS if name not in consts]
    if missing:
        raise ConfigError(f"scene {params.scene_index}: PhysicsParams.constants lacks {', '.join(missing)}")
    if abs(consts["time_step"] * consts["substeps_per_frame"] - 1.0 / FPS) > 1e-9:
        raise ConfigError(f"scene {params.scene_index}: time_step x substeps_per_frame must be 1/{FPS} s")
    return consts


def _params_by_object(objects: Sequence[ObjectInfo], params: PhysicsParams) -> list[ObjectParams]:
    """``params.objects`` ordered by object id, one per object."""
    by_id = {p.object_id: p for p in params.objects}
    for k, obj in enumerate(objects):
        if obj.id != k:
            raise ConfigError(f"scene {params.scene_index}: object ids must be 0..N-1 in order, got {obj.id} at {k}")
        if k not in by_id:
            raise ConfigError(f"scene {params.scene_index}: no physics parameters for object {k}")
    return [by_id[k] for k in range(len(objects))]


def _configure_engine(client: int, c: dict[str, float]) -> int:
    """Set gravity and solver settings and add the ground plane; returns the plane's body id."""
    pybullet.setGravity(0.0, 0.0, -c["gravity"], physicsClientId=client)
    pybullet.setPhysicsEngineParameter(
        fixedTimeStep=c["time_step"], numSubSteps=1, numSolverIterations=int(c["solver_iterations"]),
        deterministicOverlappingPairs=1, enableConeFriction=1,
        restitutionVelocityThreshold=c["restitution_velocity_threshold"], contactERP=c["contact_erp"],
        physicsClientId=client)
    plane = pybullet.createMultiBody(0.0, pybullet.createCollisionShape(pybullet.GEOM_PLANE, physicsClientId=client),
                                     physicsClientId=client)
    # A contact stiffness and damping on the plane alone give only table contacts their own
    # penetration recovery (Bullet combines the two bodies' values, an object's default stiffness
    # being infinite); they also drop restitution there, which is 0 on the table anyway.
    pybullet.changeDynamics(plane, -1, lateralFriction=c["plane_friction"], restitution=c["plane_restitution"],
                            rollingFriction=0.0, spinningFriction=0.0, contactStiffness=c["ground_contact_stiffness"],
                            contactDamping=c["ground_contact_damping"], physicsClientId=client)
    return plane


def _collision_shape(client: int, shape: str, c: dict[str, float]) -> int:
    """A pybullet collision shape with the catalogue's sizes, centred on the object's centre; a
    cylinder is a full-radius band round its middle plus a slightly narrower core (module notes)."""
    spec = get_shape(shape)
    if shape == "sphere":
        return pybullet.createCollisionShape(pybullet.GEOM_SPHERE, radius=spec.half_size, physicsClientId=client)
    if shape == "cylinder":
        r = spec.half_size
        return pybullet.createCollisionShapeArray(
            [pybullet.GEOM_CYLINDER, pybullet.GEOM_CYLINDER], radii=[r, r - c["cylinder_core_inset"]],
            lengths=[c["cylinder_band_height"], spec.height], physicsClientId=client)
    h = spec.half_size
    return pybullet.createCollisionShape(pybullet.GEOM_BOX, halfExtents=(h, h, 0.5 * spec.height),
                                         physicsClientId=client)


def _add_object(client: int, obj: ObjectInfo, p: ObjectParams, c: dict[str, float]) -> int:
    """Create one object resting on the table with its initial velocity; returns its body id."""
    spec = get_shape(obj.shape)
    position = (p.position[0], p.position[1], spec.centre_height)
    orientation = pybullet.getQuaternionFromEuler((0.0, 0.0, p.yaw))
    body = pybullet.createMultiBody(p.mass, _collision_shape(client, obj.shape, c), basePosition=position,
                                    baseOrientation=orientation, physicsClientId=client)
    spinning = p.rolling_friction if obj.shape == "sphere" else 0.0
    if obj.shape == "cylinder":  # Bullet gives a compound shape its bounding box's inertia: set the solid cylinder's
        r, h = spec.half_size, spec.height
        side = p.mass * (3.0 * r * r + h * h) / 12.0
        pybullet.changeDynamics(body, -1, localInertiaDiagonal=(side, side, 0.5 * p.mass * r * r),
                                physicsClientId=client)
    pybullet.changeDynamics(body, -1, lateralFriction=p.friction, restitution=p.restitution,
                            rollingFriction=p.rolling_friction, spinningFriction=spinning,
                            linearDamping=c["linear_damping"], angularDamping=c["angular_damping"],
                            contactProcessingThreshold=c["contact_processing_threshold"],
                            activationState=pybullet.ACTIVATION_STATE_DISABLE_SLEEPING, physicsClientId=client)
    vx, vy = p.velocity
    # A sphere starts rolling without slipping: omega = z x v / r.
    omega = (-vy / spec.half_size, vx / spec.half_size, 0.0) if obj.shape == "sphere" else (0.0, 0.0, 0.0)
    pybullet.resetBaseVelocity(body, (vx, vy, 0.0), omega, physicsClientId=client)
    return body


class _CollisionRecorder:
    """Turns per-step contacts between object pairs into collision events with hysteresis."""

    def __init__(self, ground: int, object_of_body: dict[int, int], substeps: int, gap_steps: int) -> None:
        self.ground = ground
        self.object_of_body = object_of_body
        self.substeps = substeps
        self.gap_steps = gap_steps
        self.last_contact: dict[tuple[int, int], int] = {}
        self.events: list[Event] = []

    def record(self, client: int, step: int) -> None:
        """Look at the contacts after fixed step ``step`` (state at time ``step * time_step``)."""
        points: dict[tuple[int, int], list[np.ndarray]] = {}
        for cp in pybullet.getContactPoints(physicsClientId=client):
            if cp[1] == self.ground or cp[2] == self.ground or (cp[8] > 0.0 and cp[9] <= 0.0):
                continue  # ground contact, or a point not touching and carrying no force
            a, b = self.object_of_body[cp[1]], self.object_of_body[cp[2]]
            pair = (a, b) if a < b else (b, a)
            points.setdefault(pair, []).append(0.5 * (np.asarray(cp[5]) + np.asarray(cp[6])))
        for pair in sorted(points):
            last = self.last_contact.get(pair)
            if last is None or step - last > self.gap_steps:
                frame = (step + self.substeps // 2) // self.substeps
                loc = np.mean(points[pair], axis=0)
                self.events.append(Event("collision", frame, pair, (float(loc[0]), float(loc[1]), float(loc[2]))))
            self.last_contact[pair] = step


def simulate(objects: Sequence[ObjectInfo], params: PhysicsParams, n_frames: int,
             removed: Collection[int] = ()) -> Rollout:
    """Simulate ``objects`` (ids 0..N-1) with ``params`` for ``n_frames`` frames (frame 0 = initial state).

    Objects whose id is in ``removed`` are left out of the world: their rows are NaN and they
    take part in no collision. Same inputs give bitwise identical outputs.
    """
    if n_frames < 1:
        raise ConfigError(f"scene {params.scene_index}: n_frames must be >= 1, got {n_frames}")
    consts = _read_constants(params)
    unknown = sorted(set(removed) - set(range(len(objects))))
    if unknown:
        raise ConfigError(f"scene {params.scene_index}: cannot remove unknown object(s) {unknown}")
    per_object = _params_by_object(objects, params)
    substeps = int(consts["substeps_per_frame"])
    n = len(objects)
    state = {name: np.full((n_frames, n, dim), np.nan) for name, dim in
             (("position", 3), ("quaternion", 4), ("orientation", 3), ("velocity", 3), ("angular_velocity", 3))}
    client = pybullet.connect(pybullet.DIRECT)
    try:
        ground = _configure_engine(client, consts)
        bodies = {k: _add_object(client, obj, per_object[k], consts) for k, obj in enumerate(objects)
                  if k not in removed}
        recorder = _CollisionRecorder(ground, {b: k for k, b in bodies.items()}, substeps,
                                      int(round(consts["collision_gap_frames"] * substeps)))
        for f in range(n_frames):
            if f > 0:
                for s in range(substeps):
                    pybullet.stepSimulation(physicsClientId=client)
                    recorder.record(client, (f - 1) * substeps + s + 1)
            _store_frame(client, bodies, state, f)
    finally:
        pybullet.disconnect(client)
    for values in state.values():
        _flush_subnormals(values)
    return Rollout(state["position"], state["quaternion"], state["orientation"], state["velocity"],
                   state["angular_velocity"], tuple(recorder.events))


def _flush_subnormals(values: np.ndarray) -> None:
    """Set subnormal floats to zero, in place.

    Whether Bullet's tiny residues come out as subnormals or as zeros depends on the process's
    floating-point mode (some native libraries loaded in the same process, Ray's among them, turn
    on flush-to-zero); flushing them here makes the files identical either way.
    """
    values[np.abs(values) < np.finfo(values.dtype).tiny] = 0.0


def _store_frame(client: int, bodies: dict[int, int], state: dict[str, np.ndarray], f: int) -> None:
    """Write the current state of every body (object id -> body id) into frame ``f`` of ``state``."""
    for k, body in bodies.items():
        pos, quat = pybullet.getBasePositionAndOrientation(body, physicsClientId=client)
        vel, ang = pybullet.getBaseVelocity(body, physicsClientId=client)
        state["position"][f, k] = pos
        state["quaternion"][f, k] = quat
        state["orientation"][f, k] = pybullet.getEulerFromQuaternion(quat, physicsClientId=client)
        state["velocity"][f, k] = vel
        state["angular_velocity"][f, k] = ang
