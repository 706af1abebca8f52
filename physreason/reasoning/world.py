"""The read-only world a program runs on, built from the record types (reference notes §2.2).

A :class:`ReasoningWorld` holds what the operators need and nothing else:

- the objects seen in the video (visible in at least one observed frame) and their attributes;
  objects never seen are kept apart (``never_seen``): no filter finds them, but an event may name
  one (a collision with an object hidden throughout, a future one with an object yet to enter)
  and :meth:`ReasoningWorld.object` knows them;
- per observed frame, each object's visibility and planar speed;
- the observed events: in/out/collision events of frames ``< n_observed``, plus the ``start``
  pseudo-event at frame 0 and ``end`` at frame :data:`END_FRAME` (125) clipped to the video's
  last frame;
- the unseen events: predicted in/out/collision events with frame ``>= n_observed``, taken from
  the factual future world (``None`` when no future was given), and, from the same world, how
  close each pair of objects comes in those frames (``unseen_approach``);
- how close each pair of objects comes while both are in view in the observed frames
  (``observed_approach``), where a question may presuppose a collision perception missed;
- per removed object, the object pairs that collide in the counterfactual rollout without it,
  counting only collisions with frame ``< counterfactual_window``. The default window is the
  observed one (``n_observed`` frames), so a counterfactual question asks about the same 5 s
  the video shows (VRDP's mass-variant generator also stops at frame 125; its main executor
  counts all 186 simulated frames, which ``counterfactual_window`` can reproduce).

"Moving" means planar speed above ``moving_speed`` units/s. The default,
:data:`MOVING_SPEED` = 0.02 units/s, is DCL's label on CLEVRER annotations (reference §1.3):
objects at rest in our simulations jitter at ~2e-4 units/s and moving ones go 0.3-3 units/s,
so the threshold only decides the last instants of an object sliding to a stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import combinations
from types import MappingProxyType

import networkx as nx
import numpy as np

from physreason.datasets.records import Counterfactuals, Event, ObjectInfo, Observation, Track, World
from physreason.datasets.vocab import END_FRAME
from physreason.errors import ConfigError
from physreason.reasoning import causal

MOVING_SPEED = 0.02
"""Default moving threshold on planar speed, units/s (DCL's, on CLEVRER annotations)."""

REAL_KINDS: tuple[str, ...] = ("in", "out", "collision")
"""Event kinds that happen to objects (as opposed to the start/end pseudo-events)."""

_KIND_ORDER = {"start": 0, "in": 1, "out": 1, "collision": 1, "end": 2}


@dataclass(frozen=True)
class WorldEvent:
    """An event as the executor sees it; ``frame`` is None for a hypothetical event (``all_events``)
    and ``objects`` are sorted ids."""

    kind: str
    frame: int | None
    objects: tuple[int, ...] = ()

    @property
    def is_real(self) -> bool:
        """True for in/out/collision, False for the start/end pseudo-events."""
        return self.kind in REAL_KINDS


def _world_events(events: tuple[Event, ...], first: int = 0, stop: int | None = None) -> list[WorldEvent]:
    """The in/out/collision events with ``first <= frame < stop`` (no upper bound when ``stop`` is None)."""
    return [WorldEvent(e.kind, e.frame, tuple(sorted(e.objects))) for e in events
            if e.kind in REAL_KINDS and e.frame >= first and (stop is None or e.frame < stop)]


def _sorted(events: list[WorldEvent]) -> tuple[WorldEvent, ...]:
    return tuple(sorted(events, key=lambda e: (e.frame, _KIND_ORDER[e.kind], e.kind, e.objects)))


@dataclass(frozen=True, eq=False)
class ReasoningWorld:
    """Objects, per-frame visibility (N, F) and planar speed (N, F) over the observed frames,
    and the event lists; see the module docstring. Build it with :meth:`from_records`.

    ``unseen_approach``: per pair of object ids (sorted), the smallest distance (units) between
    their centres in the predicted future (frames ``>= n_observed``) and the frame where it is
    reached; None when no future was given. ``observed_approach``: the same over the observed
    frames where both objects are visible."""

    scene_index: int
    objects: tuple[ObjectInfo, ...]
    visible: np.ndarray
    speed: np.ndarray
    events: tuple[WorldEvent, ...]
    unseen: tuple[WorldEvent, ...] | None
    counterfactual: Mapping[int, frozenset[frozenset[int]]] | None
    moving_speed: float = MOVING_SPEED
    never_seen: tuple[ObjectInfo, ...] = ()
    unseen_approach: Mapping[tuple[int, int], tuple[float, int]] | None = None
    observed_approach: Mapping[tuple[int, int], tuple[float, int]] = field(default_factory=dict)
    _by_id: dict[int, ObjectInfo] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.visible.flags.writeable = False
        self.speed.flags.writeable = False
        object.__setattr__(self, "_by_id", {o.id: o for o in (*self.objects, *self.never_seen)})

    @classmethod
    def from_records(cls, observation: Observation, future: World | None = None,
                     counterfactuals: Counterfactuals | None = None, moving_speed: float = MOVING_SPEED,
                     counterfactual_window: int | None = None) -> ReasoningWorld:
        """Build the world of one video from what was observed, the factual future and the
        counterfactual outcomes; ``counterfactual_window`` defaults to the observed frame count."""
        if moving_speed < 0:
            raise ConfigError(f"moving speed must be >= 0 units/s, got {moving_speed}")
        n_observed = max((t.first_frame + t.n_frames for t in observation.tracks), default=observation.n_frames)
        visible = np.zeros((len(observation.tracks), n_observed), dtype=bool)
        speed = np.zeros((len(observation.tracks), n_observed))
        for k, track in enumerate(observation.tracks):
            visible[k, track.first_frame:] = track.visible
            speed[k, track.first_frame:] = track.speed
        seen = tuple(o for o, vis in zip(observation.objects, visible) if vis.any())
        never_seen = tuple(o for o, vis in zip(observation.objects, visible) if not vis.any())
        last = n_observed - 1
        events = _world_events(observation.events, stop=n_observed)
        events += [WorldEvent("start", 0), WorldEvent("end", min(END_FRAME, last))]
        unseen = approach = None
        if future is not None:
            _check_same_scene(observation, future.observation, "future world")
            unseen = _sorted(_world_events(future.observation.events, first=n_observed))
            approach = MappingProxyType(closest_approaches(future.observation.tracks, n_observed))
        outcomes = None
        if counterfactuals is not None:
            if counterfactuals.scene_index != observation.scene_index:
                raise ConfigError(f"counterfactuals are of scene {counterfactuals.scene_index}, "
                                  f"the observation of scene {observation.scene_index}")
            outcomes = _collision_pairs(counterfactuals, n_observed if counterfactual_window is None
                                        else counterfactual_window)
        observed = MappingProxyType(closest_approaches(observation.tracks, 0, n_observed, visible_only=True))
        return cls(observation.scene_index, seen, visible, speed, _sorted(events), unseen, outcomes, moving_speed,
                   never_seen, approach, observed)

    @property
    def n_observed(self) -> int:
        """Number of observed frames."""
        return self.visible.shape[1]

    def object(self, object_id: int) -> ObjectInfo:
        """The object with this id (seen or not)."""
        return self._by_id[object_id]

    def is_visible(self, obj: ObjectInfo, frame: int) -> bool:
        """Whether the object is in view at an observed frame (False outside the video)."""
        return 0 <= frame < self.n_observed and bool(self.visible[obj.id, frame])

    def is_moving(self, obj: ObjectInfo, frame: int) -> bool:
        """Visible and faster than the moving threshold at a frame."""
        return self.is_visible(obj, frame) and bool(self.speed[obj.id, frame] > self.moving_speed)

    def is_stationary(self, obj: ObjectInfo, frame: int) -> bool:
        """Visible and not moving at a frame."""
        return self.is_visible(obj, frame) and not self.is_moving(obj, frame)

    def ever_moving(self, obj: ObjectInfo) -> bool:
        """Moving at some frame where it is visible."""
        return bool(np.any(self.visible[obj.id] & (self.speed[obj.id] > self.moving_speed)))

    def never_moving(self, obj: ObjectInfo) -> bool:
        """Visible at some frame and moving at none where it is visible."""
        return bool(self.visible[obj.id].any()) and not self.ever_moving(obj)

    def with_event(self, event: WorldEvent) -> ReasoningWorld:
        """This world with one more observed event (its causal graph rebuilt)."""
        return replace(self, events=_sorted([*self.events, event]))

    def without_events(self, events: Sequence[WorldEvent]) -> ReasoningWorld:
        """This world without some of its observed events (its causal graph rebuilt)."""
        return replace(self, events=tuple(e for e in self.events if e not in events))

    def all_events(self) -> tuple[WorldEvent, ...]:
        """Every unordered pair of seen objects as a hypothetical, frameless collision."""
        ids = sorted(o.id for o in self.objects)
        return tuple(WorldEvent("collision", None, pair) for pair in combinations(ids, 2))

    @cached_property
    def causal_graph(self) -> nx.DiGraph:
        """The causal graph of the factual events (observed and, if given, unseen)."""
        return causal.causal_graph([*self.events, *(self.unseen or ())])


def closest_approaches(tracks: Sequence[Track], first: int = 0, stop: int | None = None,
                       visible_only: bool = False) -> dict[tuple[int, int], tuple[float, int]]:
    """Per pair of objects (ids sorted) whose tracks both have finite positions (and, with
    ``visible_only``, are both visible) at some frame in ``[first, stop)``: the smallest distance
    (units) between their centres over those frames, and the first frame where it is reached."""
    n_frames = max((tr.first_frame + tr.n_frames for tr in tracks), default=0)
    n_frames = n_frames if stop is None else min(n_frames, stop)
    if n_frames <= first:
        return {}
    pos = np.full((n_frames - first, len(tracks), 2), np.nan)
    for k, tr in enumerate(tracks):
        lo, hi = max(first, tr.first_frame), min(tr.first_frame + tr.n_frames, n_frames)
        if hi > lo:
            rows = slice(lo - tr.first_frame, hi - tr.first_frame)
            xy = tr.xy[rows]
            pos[lo - first:hi - first, k] = np.where(tr.visible[rows, None], xy, np.nan) if visible_only else xy
    out = {}
    for a, b in combinations(range(len(tracks)), 2):
        dist = np.linalg.norm(pos[:, a] - pos[:, b], axis=1)
        if np.isfinite(dist).any():
            k = int(np.nanargmin(dist))
            ids = tuple(sorted((tracks[a].object_id, tracks[b].object_id)))
            out[ids] = (float(dist[k]), first + k)
    return out


def _collision_pairs(counterfactuals: Counterfactuals, stop: int) -> Mapping[int, frozenset[frozenset[int]]]:
    """Per removed object (outcomes removing one object, nothing changed), the pairs colliding before ``stop``."""
    pairs = {}
    for outcome in counterfactuals.outcomes:
        if outcome.removed is not None and not outcome.changes:
            events = _world_events(outcome.events, stop=stop)
            pairs[outcome.removed] = frozenset(frozenset(e.objects) for e in events if e.kind == "collision")
    return MappingProxyType(pairs)


def _check_same_scene(observation: Observation, other: Observation, what: str) -> None:
    if other.scene_index != observation.scene_index:
        raise ConfigError(f"{what} is of scene {other.scene_index}, the observation of scene {observation.scene_index}")
    if [o.key for o in other.objects] != [o.key for o in observation.objects]:
        raise ConfigError(f"{what} of scene {other.scene_index} has other objects than its observation")
