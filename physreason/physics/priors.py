"""Prior means of the physical parameters per material, estimated from fits of training videos.

An object that barely moves in the observed video says nothing about its friction, and one that
never collides nothing about its mass or restitution; yet a predicted or counterfactual world
may set it in motion. The fit then falls back on these priors: the fitted values of well-observed
objects of the same material in training videos (their medians), so the engine learns, from data
of the kind it sees, that metal objects are heavier and slide farther than rubber ones.

- ``log_mass`` is relative (masses are only known up to a common factor): over videos with
  objects of two materials or more in observed collisions, the median of each material's mean
  log mass less the mean of the materials' means;
- ``restitution``: median over objects in an observed collision;
- ``friction`` (sliding coefficient) over cubes and cylinders, ``rolling_friction`` (units) over
  spheres, each among objects that slide or roll freely for at least :data:`FREE_FRAMES` frames
  of the observation at more than :data:`MOVING_SPEED` units/s; a sphere's is the rolling
  friction of its deceleration (it rolls at the lesser of rolling_friction x g / (1.4 r) and
  friction x g).

:meth:`MaterialPriors.flat` gives every material the same values (the engine's nominal ones:
log mass 0, restitution 0.8, deceleration 0.3 units/s²), which is what the fit used before
priors were learned, kept for ablations. The shipped priors (``priors.json``) are made by
``physreason train priors --data data/train`` (see the README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from physreason.datasets.fileio import read_json, write_json
from physreason.datasets.records import ObjectInfo, Observation, PhysicsParams
from physreason.datasets.vocab import FPS, MATERIALS
from physreason.errors import ConfigError, FormatError
from physreason.physics.model import GRAVITY, HALF_SIZE

PRIORS_FILE = Path(__file__).with_name("priors.json")
"""The shipped priors."""
NOMINAL_DECELERATION = 0.3
"""Units/s²: deceleration of every object under :meth:`MaterialPriors.flat` (friction = this / g)."""
NOMINAL_RESTITUTION = 0.8
"""Restitution of every object under :meth:`MaterialPriors.flat`."""
ROLL_FACTOR = 1.4 * HALF_SIZE
"""Units: rolling friction giving a sphere the deceleration of sliding friction 1 (1 + 2/5 times r)."""
FREE_FRAMES = 20
"""Frames an object must move freely (no collision, faster than :data:`MOVING_SPEED`) for its
fitted friction to count towards the priors."""
MOVING_SPEED = 0.3
"""Units/s."""
FIELDS = ("log_mass", "restitution", "friction", "rolling_friction")


@dataclass(frozen=True)
class MaterialPriors:
    """Prior means per material (keys of :data:`~physreason.datasets.vocab.MATERIALS`):
    ``log_mass`` (relative), ``restitution``, ``friction``, ``rolling_friction`` (units);
    ``videos``: how many videos they were estimated from (0 for :meth:`flat`)."""

    log_mass: Mapping[str, float]
    restitution: Mapping[str, float]
    friction: Mapping[str, float]
    rolling_friction: Mapping[str, float]
    videos: int = 0

    def __post_init__(self) -> None:
        for name in FIELDS:
            table = getattr(self, name)
            missing = [m for m in MATERIALS if m not in table]
            if missing:
                raise ConfigError(f"priors: '{name}' lacks material(s) {', '.join(missing)}")
            bad = [m for m, v in table.items() if not np.isfinite(v) or (name != "log_mass" and v < 0)]
            if bad:
                raise ConfigError(f"priors: '{name}' of {', '.join(bad)} must be finite"
                                  + ("" if name == "log_mass" else " and >= 0"))

    @classmethod
    def flat(cls) -> MaterialPriors:
        """The same nominal values for every material (no learned prior)."""
        mu = NOMINAL_DECELERATION / GRAVITY
        return cls(*({m: v for m in MATERIALS} for v in (0.0, NOMINAL_RESTITUTION, mu, mu * ROLL_FACTOR)))

    def per_object(self, name: str, objects: Sequence[ObjectInfo]) -> np.ndarray:
        """Prior ``name`` (one of ``log_mass``, ``restitution``, ``friction``, ``rolling_friction``)
        of each object (N,), by its material."""
        table = getattr(self, name)
        unknown = sorted({o.material for o in objects} - set(table))
        if unknown:
            raise ConfigError(f"priors: no prior for material(s) {', '.join(unknown)}")
        return np.array([table[o.material] for o in objects], float)

    def to_json(self) -> dict:
        return {name: dict(getattr(self, name)) for name in FIELDS} | {"videos": self.videos}

    def write(self, path: str | Path) -> None:
        write_json(path, self.to_json(), indent=1)


def read_priors(path: str | Path) -> MaterialPriors:
    """Priors from a JSON file written by :meth:`MaterialPriors.write`; a file that is not one
    raises :class:`FormatError` naming the field."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise FormatError(path, "", "not a priors file (a JSON object is needed)")
    tables = []
    for name in FIELDS:
        table = data.get(name)
        if not isinstance(table, dict) or not all(isinstance(v, (int, float)) for v in table.values()):
            raise FormatError(path, name, "needs an object from material to number")
        tables.append({str(k): float(v) for k, v in table.items()})
    videos = data.get("videos", 0)
    if not isinstance(videos, int) or videos < 0:
        raise FormatError(path, "videos", f"needs a count of videos, got {videos!r}")
    try:
        return MaterialPriors(*tables, videos=videos)
    except ConfigError as exc:
        raise FormatError(path, "", str(exc)) from None


def priors_from_option(spec: str | None) -> MaterialPriors | None:
    """The priors a command-line ``--priors`` names: None or 'shipped' for the shipped ones (None,
    what :class:`~.fit.FitConfig` takes for them), 'flat' for none, else a priors file."""
    if spec is None or spec == "shipped":
        return None
    if spec == "flat":
        return MaterialPriors.flat()
    return read_priors(spec)


@lru_cache(maxsize=1)
def shipped_priors() -> MaterialPriors:
    """The priors shipped with the package (:data:`PRIORS_FILE`)."""
    return read_priors(PRIORS_FILE)


def _moving_freely(observation: Observation, i: int) -> bool:
    """Whether object ``i`` is observed moving faster than :data:`MOVING_SPEED` for
    :data:`FREE_FRAMES` consecutive frames with no collision of its own among them."""
    track = observation.tracks[i]
    hits = np.zeros(observation.n_frames, bool)
    for e in observation.collisions:
        if i in e.objects:
            hits[max(e.frame - 3, 0):e.frame + 4] = True
    xy = track.xy
    ok = track.visible & np.isfinite(xy).all(axis=1)
    speed = np.zeros(len(xy))
    step = ok[1:] & ok[:-1]
    speed[1:][step] = np.linalg.norm(np.diff(xy, axis=0)[step], axis=1) * FPS
    run = best = 0
    for good in ok & ~hits & (speed > MOVING_SPEED):
        run = run + 1 if good else 0
        best = max(best, run)
    return best >= FREE_FRAMES


def estimate_priors(fits: Sequence[tuple[Observation, PhysicsParams]]) -> MaterialPriors:
    """Priors from fitted training videos: pairs of an observation and the parameters fitted
    to it (see the module notes for which objects count). A material without any usable object
    keeps the :meth:`flat` value of that field."""
    flat = MaterialPriors.flat()
    samples: dict[str, dict[str, list[float]]] = {name: {m: [] for m in MATERIALS} for name in FIELDS}
    for obs, params in fits:
        objects, by_id = obs.objects, {p.object_id: p for p in params.objects}
        hit = sorted({i for e in obs.collisions for i in e.objects if i in by_id})
        if len(hit) >= 2:
            lm = np.log([by_id[i].mass for i in hit])
            materials = [objects[i].material for i in hit]
            means = {m: float(lm[[k for k, mk in enumerate(materials) if mk == m]].mean()) for m in set(materials)}
            if len(means) >= 2:  # a video of one material says nothing about their ratio
                centre = float(np.mean(list(means.values())))
                for m, v in means.items():
                    samples["log_mass"][m].append(v - centre)
            for i in hit:
                samples["restitution"][objects[i].material].append(by_id[i].restitution)
        for i, obj in enumerate(objects):
            if i in by_id and _moving_freely(obs, i):
                p = by_id[i]
                if obj.shape == "sphere":  # it rolls at the lesser of the two decelerations
                    samples["rolling_friction"][obj.material].append(min(p.rolling_friction, p.friction * ROLL_FACTOR))
                else:
                    samples["friction"][obj.material].append(p.friction)
    tables = []
    for name in FIELDS:
        default = getattr(flat, name)
        tables.append({m: float(np.median(v)) if v else default[m] for m, v in samples[name].items()})
    log_mass = tables[0]
    centre = float(np.mean(list(log_mass.values())))
    tables[0] = {m: v - centre for m, v in log_mass.items()}
    return MaterialPriors(*tables, videos=len(fits))
