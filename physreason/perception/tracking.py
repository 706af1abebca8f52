"""Multi-object tracking by Hungarian assignment in table coordinates.

Each frame, live tracks (seen this or up to ``max_age`` frames ago) are matched to the frame's
detections with :func:`scipy.optimize.linear_sum_assignment` on a cost that adds the distance
from the track's constant-velocity prediction (table units, divided by ``position_scale``), the
attribute disagreement (per attribute: the detection's score times the share of the track's
score-weighted vote won by a different value) and, when both carry feature vectors, the cosine
distance of the features. Pairs farther than the gate are never matched. Unmatched detections
start tracks. After the video, in this order (thresholds in :class:`TrackerConfig`): tracks with
fewer than ``min_hits`` detections are dropped (false positives); short, never confident tracks
that continue another one in space and time are merged into it whatever their attributes; two
tracks that follow one object in the same frames are folded into one; short low-scoring pieces
are dropped; tracks whose voted (color, material, shape) triple is the same are merged when one
takes over from the other: a triple is unique in a video, so an object that was lost for long
keeps one identity; short tracks lying on a longer one of their colour are folded into it.
Finally the kept tracks get distinct triples jointly (Hungarian assignment on each track's
summed per-detection log-likelihood of every triple), so that two tracks whose votes name the
same triple do not both keep it: the one with less evidence takes its next most likely triple.
Everything is deterministic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from physreason.datasets.vocab import COLORS, FPS, MATERIALS, SHAPES
from physreason.errors import ConfigError

ATTRIBUTES: tuple[str, ...] = ("color", "material", "shape")
VOCABULARY: dict[str, tuple[str, ...]] = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}
_INFEASIBLE = 1e6
MIN_PROBABILITY = 0.02
"""Floor of a classifier probability in the triple log-likelihood: one confidently wrong crop
costs at most log(1 / MIN_PROBABILITY)."""
TRIPLES: tuple[tuple[str, str, str], ...] = tuple((c, m, s) for c in COLORS for m in MATERIALS for s in SHAPES)


@dataclass(frozen=True)
class Detection:
    """One detected object in one frame: lifted centre ``xy`` (2,) in table units, attributes
    with detector ``score`` in [0, 1], whether the mask is ``truncated`` by the image border,
    optional appearance ``feature`` (D,), and its ``index`` among the frame's proposals."""

    frame: int
    xy: np.ndarray
    color: str
    material: str
    shape: str
    score: float
    truncated: bool = False
    feature: np.ndarray | None = None
    index: int = 0
    probs: dict[str, np.ndarray] | None = None
    """Optional classifier probabilities per attribute, aligned with the vocabulary
    (``COLORS``, ``MATERIALS``, ``SHAPES``); when given, votes are soft (score × probability)."""
    yaw: float | None = None
    """A cube's yaw read from its mask (radians in [0, pi/2)), None if not read."""

    def probability(self, attribute: str, value: str) -> float:
        """The classifier's probability of ``value`` (1 or 0 from the hard label when no probs)."""
        if self.probs is None:
            return float(getattr(self, attribute) == value)
        vocab = VOCABULARY[attribute]
        return float(self.probs[attribute][vocab.index(value)]) if value in vocab else 0.0


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker settings.

    ``gate``: largest distance (table units) between prediction and detection for a match, grown
    by ``gate_growth`` units per missed frame; ``position_scale``: units of distance costing as
    much as one fully contradicted attribute (times ``attribute_weight``); ``feature_weight``:
    cost of orthogonal features; ``lost_penalty``: cost added per missed frame, so that a track
    seen just now wins over a lost one; ``max_age``: frames a lost track stays matchable;
    ``min_hits``: detections a track needs to be kept; ``velocity_gain``: weight of the newest
    velocity measurement in the track's velocity (units/frame); ``max_speed``: units/s, bound
    on the predicted velocity; ``fragment_hits``: a track with fewer detections that continues
    another one (it starts after the other ends, where the other's prediction gated by ``gate``
    grown by ``gate_growth`` per frame of the gap puts it, at most ``fragment_gap`` frames later)
    or that the other continues is merged into it whatever its attributes (objects entering
    at the border or coming out of occlusion are often misclassified for a few frames), unless
    one of its detections scores ``fragment_score`` (on 140 held-out and training videos every
    such confident fragment was another object, often one entering where the first had left);
    ``border_score``: a track with fewer than ``fragment_hits`` detections, most of them cut by
    the image border, none scoring ``border_score``, is dropped after that merging (the
    detector's pieces of objects half out of view, lifted to wrong places), and so is a track
    with fewer than ``weak_hits`` detections, none scoring ``weak_score`` (on the 200 held-out
    videos the tracks of fewer than 10 detections scoring 0.5-0.7 at best were all phantoms);
    ``duplicate_distance``: two tracks seen in the same frames whose centres there are closer
    than this (units, median) are one object detected twice (two centres cannot come closer than
    two radii): the one with fewer detections gives the other its detections of frames the
    other lacks and is dropped; ``overlap_frames``: tracks voting the same triple (unique in a
    video) are one object if one takes over from the other sharing at most this many frames
    (around a contact or at the border the detector may see one object twice for a while);
    ``handover_distance``: tracks of the same colour and material whose shape votes differ are
    one object too if one takes over from the other (as above) and, wherever one's detection
    follows the other's, the two lie within this many units (plus ``gate_growth`` per frame
    between them): a mask cut by the border or partly hidden often reads as another shape, and
    its lifted centre jumps;
    ``piece_hits``: a track with fewer detections, within the time span of a longer track of
    its colour and on it (median distance to its interpolated centres below ``piece_distance``
    units), is a sliver of that object seen apart while it was mostly hidden, and joins it.
    """

    gate: float = 0.8
    gate_growth: float = 0.05
    position_scale: float = 0.25
    attribute_weight: float = 1.0
    feature_weight: float = 2.0
    lost_penalty: float = 0.1
    max_age: int = 10
    min_hits: int = 3
    velocity_gain: float = 0.6
    max_speed: float = 6.0
    fragment_hits: int = 30
    fragment_gap: int = 40
    fragment_score: float = 0.7
    border_score: float = 0.7
    duplicate_distance: float = 0.35
    overlap_frames: int = 25
    handover_distance: float = 1.5
    weak_hits: int = 10
    weak_score: float = 0.7
    piece_hits: int = 15
    piece_distance: float = 0.5

    def __post_init__(self) -> None:
        if self.gate <= 0 or self.position_scale <= 0 or self.max_age < 0 or self.min_hits < 1:
            raise ConfigError("TrackerConfig needs gate > 0, position_scale > 0, max_age >= 0, min_hits >= 1")
        if not 0 < self.velocity_gain <= 1:
            raise ConfigError(f"TrackerConfig.velocity_gain must lie in (0, 1], got {self.velocity_gain}")


@dataclass(eq=False)
class Tracklet:
    """One tracked object: its detections in frame order, and score-weighted attribute votes."""

    track_id: int
    detections: list[Detection] = field(default_factory=list)
    votes: dict[str, dict[str, float]] = field(default_factory=lambda: {a: defaultdict(float) for a in ATTRIBUTES})
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    loglik: dict[str, np.ndarray] = field(
        default_factory=lambda: {a: np.zeros(len(VOCABULARY[a])) for a in ATTRIBUTES})
    """Per attribute, the score-weighted sum over detections of log max(p, MIN_PROBABILITY) per value."""
    assigned: tuple[str, str, str] | None = None
    """The triple given by the joint assignment (None before it)."""

    @property
    def frames(self) -> np.ndarray:
        """Frame indices of the detections, shape (K,)."""
        return np.array([d.frame for d in self.detections], dtype=int)

    @property
    def last(self) -> Detection:
        return self.detections[-1]

    def attribute(self, name: str) -> tuple[str, float]:
        """The voted value of attribute ``name`` and its share of the vote in [0, 1] (ties: alphabetical)."""
        votes = self.votes[name]
        total = sum(votes.values())
        value = min(votes, key=lambda v: (-votes[v], v))
        return value, (votes[value] / total if total > 0 else 0.0)

    @property
    def voted(self) -> tuple[str, str, str]:
        """The voted (color, material, shape) triple, attribute by attribute."""
        return tuple(self.attribute(a)[0] for a in ATTRIBUTES)  # type: ignore[return-value]

    @property
    def key(self) -> tuple[str, str, str]:
        """The track's (color, material, shape): the assigned triple, else the voted one."""
        return self.assigned if self.assigned is not None else self.voted

    def triple_loglik(self) -> np.ndarray:
        """Log-likelihood (len(TRIPLES),) of every triple, the attributes taken as independent."""
        ll = [self.loglik[a] for a in ATTRIBUTES]
        return (ll[0][:, None, None] + ll[1][None, :, None] + ll[2][None, None, :]).ravel()

    def predict(self, frame: int) -> np.ndarray:
        """Constant-velocity prediction (2,) of the centre at ``frame``, table units."""
        return self.last.xy + self.velocity * (frame - self.last.frame)

    def add(self, det: Detection, gain: float, max_step: float) -> None:
        """Append a detection, update the velocity (units/frame) and the attribute votes."""
        if self.detections:
            step = (det.xy - self.last.xy) / (det.frame - self.last.frame)
            norm = float(np.linalg.norm(step))
            if norm > max_step:
                step = step * (max_step / norm)
            self.velocity = step if len(self.detections) == 1 else gain * step + (1 - gain) * self.velocity
        self.detections.append(det)
        weight = max(det.score, 1e-3)
        for a in ATTRIBUTES:
            probs = np.array([det.probability(a, value) for value in VOCABULARY[a]])
            for value, p in zip(VOCABULARY[a], probs):
                if p > 0:
                    self.votes[a][value] += weight * float(p)
            self.loglik[a] += weight * np.log(np.maximum(probs, MIN_PROBABILITY))


def _cost(tr: Tracklet, det: Detection, config: TrackerConfig) -> float:
    missed = det.frame - tr.last.frame - 1
    dist = float(np.linalg.norm(tr.predict(det.frame) - det.xy))
    if dist > config.gate + config.gate_growth * missed:
        return _INFEASIBLE
    attr = 0.0
    for a in ATTRIBUTES:
        value, share = tr.attribute(a)
        if getattr(det, a) != value:
            attr += det.score * share
    cost = dist / config.position_scale + config.attribute_weight * attr + config.lost_penalty * missed
    if det.feature is not None and tr.last.feature is not None:
        f, g = det.feature, tr.last.feature
        cos = float(f @ g / max(np.linalg.norm(f) * np.linalg.norm(g), 1e-12))
        cost += config.feature_weight * (1.0 - cos)
    return cost


def track(frames: Sequence[Sequence[Detection]], config: TrackerConfig = TrackerConfig()) -> list[Tracklet]:
    """Track detections over a video; ``frames[t]`` holds frame t's detections.

    Returns the kept tracklets, each with at least ``config.min_hits`` detections, numbered
    0..M-1 in order of their first frame.
    """
    live: list[Tracklet] = []
    done: list[Tracklet] = []
    next_id = 0
    max_step = config.max_speed / FPS
    for t, dets in enumerate(frames):
        for d in dets:
            if d.frame != t:
                raise ConfigError(f"detection {d.index} of frame {t} says frame {d.frame}")
        still = [tr for tr in live if t - tr.last.frame - 1 <= config.max_age]
        done.extend(tr for tr in live if t - tr.last.frame - 1 > config.max_age)
        live = still
        matched: set[int] = set()
        if live and dets:
            cost = np.array([[_cost(tr, d, config) for d in dets] for tr in live])
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols):
                if cost[i, j] < _INFEASIBLE:
                    live[i].add(dets[j], config.velocity_gain, max_step)
                    matched.add(int(j))
        for j, d in enumerate(dets):
            if j not in matched:
                tr = Tracklet(next_id)
                next_id += 1
                tr.add(d, config.velocity_gain, max_step)
                live.append(tr)
    kept = _by_first_frame(tr for tr in done + live if len(tr.detections) >= config.min_hits)
    merged = _merge_duplicates(_merge_fragments(kept, config), config)
    merged = _merge_takeovers(_by_first_frame(tr for tr in merged if not _spurious(tr, config)), config)
    merged = _merge_pieces(merged, config)
    for k, tr in enumerate(merged):
        tr.track_id = k
    return assign_triples(merged)


def _by_first_frame(tracklets: Iterable[Tracklet]) -> list[Tracklet]:
    """Tracklets in order of their first frame (then id)."""
    return sorted(tracklets, key=lambda tr: (int(tr.frames[0]), tr.track_id))


def _shortest_first(tracklets: Iterable[Tracklet]) -> list[Tracklet]:
    """Tracklets in order of their number of detections (then first frame, then id)."""
    return sorted(tracklets, key=lambda tr: (len(tr.detections), int(tr.frames[0]), tr.track_id))


def _fold(tracklets: list[Tracklet], keep: Tracklet, other: Tracklet, config: TrackerConfig) -> None:
    """Replace ``keep`` in ``tracklets`` by its combination with ``other`` (:func:`_combined`) and remove ``other``."""
    tracklets[tracklets.index(keep)] = _combined(keep, other, config)
    tracklets.remove(other)


def _merge_duplicates(tracklets: list[Tracklet], config: TrackerConfig) -> list[Tracklet]:
    """Fold tracklets that follow the same object in the same frames into the longer one (see
    :class:`TrackerConfig`)."""
    out = list(tracklets)
    for short in _shortest_first(tracklets):
        if short not in out:
            continue
        at = {d.frame: d for d in short.detections}
        for other in out:
            if other is short or len(other.detections) < len(short.detections):
                continue
            common = [d for d in other.detections if d.frame in at]
            if not common or np.median([np.linalg.norm(d.xy - at[d.frame].xy) for d in common]) >= config.duplicate_distance:
                continue
            _fold(out, other, short, config)
            break
    return out


def _positions_at(tr: Tracklet, frames: np.ndarray) -> np.ndarray:
    """Centres (F, 2) of ``tr`` at ``frames``, interpolated linearly between its detections."""
    xy = np.array([d.xy for d in tr.detections])
    return np.column_stack([np.interp(frames, tr.frames, xy[:, k]) for k in range(2)])


def _merge_pieces(tracklets: list[Tracklet], config: TrackerConfig) -> list[Tracklet]:
    """Fold short tracklets that lie on a longer one of the same colour, within its time span,
    into it (see :class:`TrackerConfig`), shortest first."""
    out = list(tracklets)
    for piece in _shortest_first(tracklets):
        if len(piece.detections) >= config.piece_hits or piece not in out:
            continue
        frames, xy = piece.frames, np.array([d.xy for d in piece.detections])
        options = []
        for other in out:
            if (other is piece or len(other.detections) <= len(piece.detections)
                    or other.voted[0] != piece.voted[0] or frames[0] < other.frames[0] or frames[-1] > other.frames[-1]):
                continue
            dist = float(np.median(np.linalg.norm(_positions_at(other, frames) - xy, axis=1)))
            if dist < config.piece_distance:
                options.append((dist, other.track_id, other))
        if options:
            _fold(out, min(options, key=lambda o: o[:2])[2], piece, config)
    return out


def _combined(keep: Tracklet, other: Tracklet, config: TrackerConfig) -> Tracklet:
    """One tracklet (``keep``'s id) of ``keep``'s detections and ``other``'s in the frames ``keep`` lacks."""
    seen = {d.frame for d in keep.detections}
    out = Tracklet(keep.track_id)
    for d in sorted(keep.detections + [d for d in other.detections if d.frame not in seen], key=lambda d: d.frame):
        out.add(d, config.velocity_gain, config.max_speed / FPS)
    return out


def _spurious(tr: Tracklet, config: TrackerConfig) -> bool:
    """Whether ``tr`` is a short, low-scoring track mostly cut by the border, or a very short
    weak one (see :class:`TrackerConfig`)."""
    dets = tr.detections
    best = max(d.score for d in dets)
    border = (len(dets) < config.fragment_hits and 2 * sum(d.truncated for d in dets) >= len(dets)
              and best < config.border_score)
    return border or (len(dets) < config.weak_hits and best < config.weak_score)


def _continues(a: Tracklet, b: Tracklet, config: TrackerConfig) -> float | None:
    """Distance (units) from ``a``'s prediction to ``b``'s first detection when ``b`` starts after
    ``a`` ends, within ``fragment_gap`` frames and the grown gate; else None."""
    gap = int(b.frames[0] - a.frames[-1])
    if gap < 1 or gap > config.fragment_gap:
        return None
    dist = float(np.linalg.norm(a.predict(int(b.frames[0])) - b.detections[0].xy))
    return dist if dist <= config.gate + config.gate_growth * (gap - 1) else None


def _merge_fragments(tracklets: list[Tracklet], config: TrackerConfig) -> list[Tracklet]:
    """Merge short tracklets into the tracklet they continue or that continues them (see
    :class:`TrackerConfig`), shortest first."""
    out = list(tracklets)
    for frag in _shortest_first(tracklets):
        if (len(frag.detections) >= config.fragment_hits or frag not in out
                or max(d.score for d in frag.detections) >= config.fragment_score):
            continue
        options = []
        for other in out:
            if other is frag:
                continue
            for before, after in ((other, frag), (frag, other)):
                dist = _continues(before, after, config)
                if dist is not None:
                    options.append((dist, -len(other.detections), other.track_id, other))
        if options:
            _fold(out, min(options, key=lambda o: o[:3])[3], frag, config)
    return out


def _hands_over(a: Tracklet, b: Tracklet, config: TrackerConfig) -> bool:
    """Whether ``b`` (starting no earlier than ``a``) takes over from ``a``: no shared frame, or at
    most ``config.overlap_frames`` with ``b`` starting later and ending no earlier."""
    shared = len(set(a.frames) & set(b.frames))
    return shared == 0 or (shared <= config.overlap_frames and a.frames[0] < b.frames[0] and b.frames[-1] >= a.frames[-1])


def _switches_nearby(a: Tracklet, b: Tracklet, config: TrackerConfig) -> bool:
    """Whether ``a`` and ``b`` read as one object: wherever, in frame order, one's detection
    follows the other's (or both have one in a frame), the two lie within
    ``config.handover_distance`` units plus ``config.gate_growth`` per frame between them."""
    dets = sorted([(d.frame, 0, d) for d in a.detections] + [(d.frame, 1, d) for d in b.detections],
                  key=lambda x: x[:2])
    return all(float(np.linalg.norm(p[2].xy - q[2].xy)) <= config.handover_distance + config.gate_growth * (q[0] - p[0] - 1)
               for p, q in zip(dets[:-1], dets[1:]) if p[1] != q[1])


def _one_object(a: Tracklet, b: Tracklet, config: TrackerConfig) -> bool:
    """Whether ``b`` (starting no earlier than ``a``) continues ``a``: ``b`` takes over
    (:func:`_hands_over`) and either votes the same triple, or the same colour and material with
    another shape (a cut or hidden mask often reads as another shape) and every switch between
    them nearby (:func:`_switches_nearby`)."""
    if not _hands_over(a, b, config):
        return False
    return a.voted == b.voted or (a.voted[:2] == b.voted[:2] and _switches_nearby(a, b, config))


def _merge_takeovers(tracklets: list[Tracklet], config: TrackerConfig) -> list[Tracklet]:
    """Merge tracklets (in first-frame order) where one continues the other (:func:`_one_object`;
    the earlier one's detections win on shared frames)."""
    out: list[Tracklet] = []
    for tr in tracklets:
        k = next((k for k, o in enumerate(out) if _one_object(o, tr, config)), None)
        if k is None:
            out.append(tr)
        else:
            out[k] = _combined(out[k], tr, config)
    return out


def assign_triples(tracklets: list[Tracklet]) -> list[Tracklet]:
    """Give each tracklet a distinct (color, material, shape) triple, maximising the summed
    log-likelihood (Hungarian assignment); with more tracklets than triples they keep their votes."""
    if not tracklets or len(tracklets) > len(TRIPLES):
        return tracklets
    cost = -np.stack([tr.triple_loglik() for tr in tracklets])
    rows, cols = linear_sum_assignment(cost)
    for i, j in zip(rows, cols):
        tracklets[i].assigned = TRIPLES[j]
    return tracklets
