"""Tracking and lifting metrics of a perceived Observation against the ground-truth one.

CLEAR-MOT (MOTA) and IDF1 come from ``motmetrics``: per frame, ground-truth objects and
perceived tracks that are visible are matched on table distance, with pairs farther than
``max_distance`` units not matchable. Perceived objects are mapped to ground-truth ones as
IDF1 maps identities (:func:`match_objects`); through this mapping the position error (table
units, on frames where both are visible), in/out event matches (same kind, same object, frames
at most ``tolerance`` apart) and collision matches (same pair, frames at most
``collision_tolerance`` apart) are counted. Counts add over videos, so :func:`summarize` gives
dataset-level scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import motmetrics as mm
import numpy as np
from scipy.optimize import linear_sum_assignment

from physreason.datasets.records import Event, Observation

_MOT_COUNTS = ("num_objects", "num_misses", "num_false_positives", "num_switches", "idtp", "idfp", "idfn")


@dataclass(frozen=True)
class VideoScores:
    """Counts of one video: CLEAR-MOT and identity counts (motmetrics' names), per-frame
    position errors (E,) in table units, and the true positives, false positives and false
    negatives of in/out events and of collisions."""

    num_objects: int
    num_misses: int
    num_false_positives: int
    num_switches: int
    idtp: int
    idfp: int
    idfn: int
    position_errors: np.ndarray
    event_tp: int
    event_fp: int
    event_fn: int
    collision_tp: int
    collision_fp: int
    collision_fn: int

    @property
    def mota(self) -> float:
        return mota(self.num_objects, self.num_misses, self.num_false_positives, self.num_switches)

    @property
    def idf1(self) -> float:
        return idf1(self.idtp, self.idfp, self.idfn)

    @property
    def event_f1(self) -> float:
        return f1(self.event_tp, self.event_fp, self.event_fn)

    @property
    def collision_precision(self) -> float:
        """Found collisions that are true (1 when none was found)."""
        found = self.collision_tp + self.collision_fp
        return self.collision_tp / found if found else 1.0

    @property
    def collision_recall(self) -> float:
        """True collisions that were found (1 when there are none)."""
        true = self.collision_tp + self.collision_fn
        return self.collision_tp / true if true else 1.0


def mota(num_objects: int, misses: int, false_positives: int, switches: int) -> float:
    """1 - (misses + false positives + identity switches) / ground-truth objects (1 when there are none)."""
    return 1.0 - (misses + false_positives + switches) / num_objects if num_objects else 1.0


def idf1(idtp: int, idfp: int, idfn: int) -> float:
    """2 IDTP / (2 IDTP + IDFP + IDFN) (1 when all are zero)."""
    denom = 2 * idtp + idfp + idfn
    return 2 * idtp / denom if denom else 1.0


def f1(tp: int, fp: int, fn: int) -> float:
    """F1 of detection counts (1 when all are zero)."""
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 1.0


def match_objects(truth: Observation, seen: Observation, max_distance: float = 0.5) -> dict[int, int]:
    """Perceived object id -> ground-truth object id, as IDF1 maps identities: the one-to-one
    assignment that maximises the frames where both are visible with centres within
    ``max_distance`` units (ties: the smaller mean distance over those frames); pairs that are
    never that close stay unmatched. A track that follows an object for the whole video and
    another for a few frames is the first's, whatever its distance to the second there."""
    if not truth.tracks or not seen.tracks:
        return {}
    close = np.zeros((len(seen.tracks), len(truth.tracks)))
    mean = np.zeros_like(close)
    for i, s in enumerate(seen.tracks):
        for j, t in enumerate(truth.tracks):
            dist = np.linalg.norm(s.xy - t.xy, axis=1)[s.visible & t.visible]
            near = dist[dist <= max_distance]
            close[i, j], mean[i, j] = len(near), (near.mean() if len(near) else 0.0)
    cost = -close + mean / (max_distance + 1.0)
    rows, cols = linear_sum_assignment(cost)
    return {int(i): int(j) for i, j in zip(rows, cols) if close[i, j] > 0}


def _mot_counts(truth: Observation, seen: Observation, max_distance: float) -> dict[str, int]:
    acc = mm.MOTAccumulator(auto_id=True)
    for f in range(truth.n_frames):
        gt = [t for t in truth.tracks if t.visible[f]]
        hyp = [s for s in seen.tracks if s.visible[f]]
        dist = np.array([[float(np.linalg.norm(t.xy[f] - s.xy[f])) for s in hyp] for t in gt]).reshape(len(gt), len(hyp))
        dist[dist > max_distance] = np.nan
        acc.update([t.object_id for t in gt], [s.object_id for s in hyp], dist)
    summary = mm.metrics.create().compute(acc, metrics=list(_MOT_COUNTS), name="video")
    return {name: int(summary[name].iloc[0]) for name in _MOT_COUNTS}


def _event_counts(true: list[Event], found: list[Event], mapping: dict[int, int],
                  tolerance: int) -> tuple[int, int, int]:
    """True positives, false positives and false negatives of ``found`` events (perceived object
    ids, mapped to ground truth by ``mapping``) against ``true`` ones: a found event matches the
    nearest unmatched true event of its kind and objects (a collision's pair in any order) at
    most ``tolerance`` frames away."""
    def key(e: Event, ids: dict[int, int] | None) -> tuple:
        objects = e.objects if ids is None else tuple(ids.get(o, -1 - o) for o in e.objects)
        return e.kind, tuple(sorted(objects))

    used: set[int] = set()
    tp = 0
    for e in found:
        target = key(e, mapping)
        candidates = [k for k, g in enumerate(true)
                      if k not in used and key(g, None) == target and abs(g.frame - e.frame) <= tolerance]
        if candidates:
            used.add(min(candidates, key=lambda k: abs(true[k].frame - e.frame)))
            tp += 1
    return tp, len(found) - tp, len(true) - tp


def score_video(truth: Observation, seen: Observation, max_distance: float = 0.5, tolerance: int = 3,
                collision_tolerance: int = 5) -> VideoScores:
    """The counts of one video (``truth`` and ``seen`` must have the same number of frames):
    in/out events match within ``tolerance`` frames, collisions within ``collision_tolerance``
    (a collision is dated at the closest approach of two centres, which a push can follow by a
    few frames)."""
    if truth.n_frames != seen.n_frames:
        raise ValueError(f"truth has {truth.n_frames} frames but the observation {seen.n_frames}")
    counts = _mot_counts(truth, seen, max_distance)
    mapping = match_objects(truth, seen, max_distance)
    errors = []
    for i, j in mapping.items():
        both = seen.tracks[i].visible & truth.tracks[j].visible
        errors.append(np.linalg.norm(seen.tracks[i].xy[both] - truth.tracks[j].xy[both], axis=1))
    position_errors = np.concatenate(errors) if errors else np.zeros(0)
    return VideoScores(**counts, position_errors=position_errors,
                       **dict(zip(("event_tp", "event_fp", "event_fn"),
                                  _event_counts(_in_out(truth), _in_out(seen), mapping, tolerance))),
                       **dict(zip(("collision_tp", "collision_fp", "collision_fn"),
                                  _event_counts(list(truth.collisions), list(seen.collisions), mapping,
                                                collision_tolerance))))


def _in_out(observation: Observation) -> list[Event]:
    """The in/out events of an observation."""
    return [e for e in observation.events if e.kind in ("in", "out")]


def summarize(videos: list[VideoScores]) -> VideoScores:
    """Dataset-level counts: the sums of every video's counts, position errors concatenated."""
    names = _MOT_COUNTS + ("event_tp", "event_fp", "event_fn", "collision_tp", "collision_fp", "collision_fn")
    sums = {n: sum(getattr(v, n) for v in videos) for n in names}
    errors = np.concatenate([v.position_errors for v in videos]) if videos else np.zeros(0)
    return VideoScores(**sums, position_errors=errors)
