"""Per-frame detections (proposals) -> an :class:`Observation` in table coordinates.

Steps: decode and lift every detection's mask (:mod:`.lifting`), track (:mod:`.tracking`),
smooth each track's detections whose attributes agree with its voted ones (the others, often
false positives, are bridged like missed frames) and fill every frame, clean visibility with
hysteresis and find collision candidates (:mod:`.events`), then re-estimate positions and
velocities between each object's collisions. Perception does not estimate
orientation: orientations and angular velocities are zero. Objects are numbered in order of their first detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physreason.datasets.camera import Camera
from physreason.datasets.proposals import Proposals
from physreason.datasets.records import ObjectInfo, Observation, Track
from physreason.datasets.shapes import get_shape
from physreason.errors import ConfigError, FormatError
from physreason.perception.events import clean_visibility, collision_candidates
from physreason.perception.lifting import (CENTRE_HEIGHT, CONTACT, centre_in_view, mask_position, piecewise_motion,
                                          smooth_track, smooth_yaw, still_frames)
from physreason.perception.tracking import ATTRIBUTES, VOCABULARY, Detection, TrackerConfig, track


@dataclass(frozen=True)
class PerceptionConfig:
    """Settings of :func:`observe`: the tracker's, ``min_score`` below which detections are
    ignored, the smoother's ``window`` (odd, frames) and ``polyorder``, ``max_gap`` frames of
    missed detections still counted as visible; the in/out hysteresis
    (:func:`.events.clean_visibility`): visible runs shorter than ``min_run`` frames are dropped,
    hidden runs shorter than ``min_gap`` frames between visible ones are filled (an object does
    not leave the view and come back within half a second: its centre hovered at the border);
    the in-view test's ``view_window`` and ``view_margin`` (:func:`.lifting.centre_in_view`),
    which collision candidates read on the smoother's positions; the observation's visibility
    then reads it on lines fitted within ``view_half_window`` frames piece by piece between the
    object's collisions (:func:`.lifting.piecewise_motion`);
    ``still_window`` and ``still_radius``: frames where the object rests get zero velocity
    (:func:`.lifting.still_frames`; collision candidates still read the differentiated
    velocities); ``min_agreement``: with classifier probabilities, a detection joins its track's
    smoothing if it scores at least ``trusted_score`` or gives each of the track's voted
    attribute values at least ``min_agreement`` probability;
    ``interior_margin`` (px): a detection whose mask is not truncated and whose centre projects
    this far inside the image is *interior*, and a gap of any length between two interior
    detections is bridged as visible (the object was hidden, not gone); ``contact``: a mask
    within this share of the object's apparent radius of one that may hide it is lifted by a
    silhouette fit leaving out its sides that close (:func:`.lifting.mask_position`);
    ``half_window``, ``velocity_half_window`` and ``contact_guard``: once collisions are found,
    the observation's positions and velocities are line fits piece by piece between each
    object's collisions (:func:`.lifting.piecewise_motion`); collision candidates read the
    smoother's; ``yaw_half_window``: a cube's yaw is the mean of those read from its masks
    within this many frames (:func:`.lifting.smooth_yaw`)."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    min_score: float = 0.05
    window: int = 5
    polyorder: int = 2
    max_gap: int = 10
    min_run: int = 3
    min_agreement: float = 0.1
    trusted_score: float = 0.5
    interior_margin: float = 20.0
    view_window: int = 11
    view_margin: float = 1.0
    view_half_window: int = 10
    still_window: int = 11
    still_radius: float = 0.035
    min_gap: int = 12
    contact: float = CONTACT
    half_window: int = 4
    velocity_half_window: int = 10
    contact_guard: int = 4
    yaw_half_window: int = 2

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0 or not 0 <= self.polyorder < self.window:
            raise ConfigError(f"PerceptionConfig needs an odd window > polyorder >= 0, got {self.window}, "
                              f"{self.polyorder}")


def detections(proposals: Proposals, camera: Camera, n_frames: int, min_score: float = 0.0,
               contact: float = CONTACT) -> list[list[Detection]]:
    """Lifted detections per frame, ``result[t]`` for t in 0..n_frames-1.

    Every mask is lifted by :func:`.lifting.mask_position`, which is told the lowest image row
    reached by the frame's masks at each pixel (to find the ones that may hide it) and
    ``contact``. Raises
    :class:`FormatError` for a frame index outside the video, a repeated frame, or a mask whose
    size is not the camera's image size; empty masks and detections scoring below
    ``min_score`` are skipped.
    """
    out: list[list[Detection]] = [[] for _ in range(n_frames)]
    seen: set[int] = set()
    for i, fr in enumerate(proposals.frames):
        if fr.frame_index >= n_frames:
            raise FormatError("<proposals>", f"frames[{i}].frame_index",
                              f"frame {fr.frame_index} is outside a video of {n_frames} frames")
        if fr.frame_index in seen:
            raise FormatError("<proposals>", f"frames[{i}].frame_index", f"frame {fr.frame_index} appears twice")
        seen.add(fr.frame_index)
        masks: list[tuple[int, np.ndarray]] = []
        for j, obj in enumerate(fr.objects):
            size = list(obj.mask_rle["size"])
            if size != [camera.height, camera.width]:
                raise FormatError("<proposals>", f"frames[{i}].objects[{j}].mask.size",
                                  f"mask is {size[0]}x{size[1]} (HxW) but the camera image is "
                                  f"{camera.height}x{camera.width}")
            mask = obj.mask()
            if mask.any():
                masks.append((j, mask))
        lowest = np.full((camera.height, camera.width), -1)
        for _, mask in masks:
            lowest[mask] = np.maximum(lowest[mask], np.flatnonzero(mask.any(axis=1))[-1])
        for j, mask in masks:
            obj = fr.objects[j]
            if obj.score < min_score:
                continue
            xy, truncated, yaw = mask_position(mask, obj.shape, camera, lowest, contact)
            out[fr.frame_index].append(Detection(fr.frame_index, xy, obj.color, obj.material, obj.shape,
                                                 obj.score, truncated, index=j,
                                                 probs=_attribute_probs(obj.extra.get("attribute_probs"), i, j),
                                                 yaw=yaw))
    return out


def _attribute_probs(data: object, i: int, j: int) -> dict[str, np.ndarray] | None:
    """The optional ``attribute_probs`` of a proposal object (our detector writes them):
    ``{"color": [8 probabilities], "material": [2], "shape": [3]}`` in vocabulary order."""
    if data is None:
        return None
    where = f"frames[{i}].objects[{j}].attribute_probs"
    if not isinstance(data, dict):
        raise FormatError("<proposals>", where, f"expected an object, got {type(data).__name__}")
    out = {}
    for a, vocab in VOCABULARY.items():
        values = data.get(a)
        arr = np.asarray(values, float) if isinstance(values, list) else None
        if arr is None or arr.shape != (len(vocab),) or not np.isfinite(arr).all() or (arr < 0).any():
            raise FormatError("<proposals>", f"{where}.{a}", f"expected {len(vocab)} non-negative probabilities")
        out[a] = arr
    return out


def _agrees(det: Detection, key: tuple[str, str, str], min_probability: float, trusted_score: float) -> bool:
    """Whether a detection is consistent with its track's voted triple: the same labels, or,
    with classifier probabilities, a detector score of at least ``trusted_score`` (the
    attributes of one crop may be wrong, the object is still there) or at least
    ``min_probability`` for each voted value."""
    if det.probs is None:
        return (det.color, det.material, det.shape) == key
    if det.score >= trusted_score:
        return True
    return all(det.probability(a, v) >= min_probability for a, v in zip(ATTRIBUTES, key))


def _visibility(seen: np.ndarray, position: np.ndarray, camera: Camera, config: PerceptionConfig) -> np.ndarray:
    """Visible frames (T,) bool as the annotations define them: ``seen`` (T,) bool, and the centre
    at ``position`` (T, 2) units projecting inside the image (:func:`.lifting.centre_in_view`),
    cleaned by the in/out hysteresis (:func:`.events.clean_visibility`)."""
    in_view = centre_in_view(position, camera, config.view_window, config.view_margin)
    return clean_visibility(seen & in_view, config.min_run, config.min_gap)


def observe(proposals: Proposals, camera: Camera, n_frames: int, scene_index: int,
            config: PerceptionConfig = PerceptionConfig()) -> Observation:
    """The Observation (CLEVRER annotation layout) of one video's proposals seen by ``camera``.

    ``n_frames`` is the video's length in frames; an empty scene gives an Observation with no
    objects. Bad input raises :class:`FormatError` (proposals) or :class:`ConfigError` (arguments).
    """
    return observe_with_ids(proposals, camera, n_frames, scene_index, config)[0]


def observe_with_ids(proposals: Proposals, camera: Camera, n_frames: int, scene_index: int,
                     config: PerceptionConfig = PerceptionConfig()) -> tuple[Observation, dict[tuple[int, int], int]]:
    """:func:`observe`, and the object id each proposal went to: ``{(frame_index, index in the
    frame): object id}`` (proposals of no object are absent)."""
    if n_frames < 1 or scene_index < 0:
        raise ConfigError(f"observe needs n_frames >= 1 and scene_index >= 0, got {n_frames} and {scene_index}")
    tracklets = track(detections(proposals, camera, n_frames, config.min_score, config.contact),
                       config.tracker)
    objects, tracks, positions, velocities, visible, measured, yaws, seen = [], [], [], [], [], [], [], []
    ids: dict[tuple[int, int], int] = {}
    for tr in tracklets:
        agree = np.array([_agrees(d, tr.voted, config.min_agreement, config.trusted_score) for d in tr.detections])
        if not agree.any():  # attributes are voted one by one: no detection need have the triple
            agree[:] = True
        kept = [d for d, ok in zip(tr.detections, agree) if ok]
        centres = np.column_stack([[d.xy for d in kept], np.full(len(kept), CENTRE_HEIGHT)])
        interior = ~np.array([d.truncated for d in kept]) & camera.in_view(centres, margin=-config.interior_margin)
        est = smooth_track(np.asarray(tr.frames)[agree], centres[:, :2], n_frames, config.window, config.polyorder,
                           config.max_gap, interior, ~camera.in_view(centres))
        vis = _visibility(est.seen, est.position, camera, config)
        if not vis.any():
            continue
        ids.update({(d.frame, d.index): len(objects) for d in tr.detections})
        objects.append(ObjectInfo(len(objects), *tr.key))
        measured.append(np.isin(np.arange(n_frames), np.asarray(tr.frames)[agree]))
        positions.append(est.position)
        velocities.append(est.velocity)
        visible.append(vis)
        seen.append(est.seen)
        read = [d for d in kept if d.yaw is not None] if tr.key[2] == "cube" else []
        yaws.append(smooth_yaw(np.array([d.frame for d in read]), np.array([d.yaw for d in read]), n_frames,
                               config.yaw_half_window))
    radii = [get_shape(obj.shape).bounding_radius() for obj in objects]
    collisions = tuple(collision_candidates(positions, velocities, visible, radii=radii))
    zeros = np.zeros((n_frames, 3))
    for k in range(len(objects)):
        contacts = [e.frame for e in collisions if k in e.objects]
        position, velocity = piecewise_motion(positions[k], velocities[k], measured[k], contacts,
                                              config.half_window, config.velocity_half_window, config.contact_guard)
        velocity[still_frames(position, config.still_window, config.still_radius)] = 0.0
        # the in-view test again, on lines fitted over longer stretches of each piece: cut masks
        # at the border are lifted a few px off either way, and a slow object crosses it for long
        path, _ = piecewise_motion(positions[k], velocities[k], measured[k], contacts, config.view_half_window)
        vis = _visibility(seen[k], path, camera, config)
        if not vis.any():  # seen only in the first pass: keep that
            vis = visible[k]
        orientation = np.column_stack([np.zeros((n_frames, 2)), yaws[k]])
        tracks.append(Track(k, np.column_stack([position, np.full(n_frames, CENTRE_HEIGHT)]),
                            np.column_stack([velocity, np.zeros(n_frames)]), orientation, zeros, vis))
    return Observation(scene_index, tuple(objects), tuple(tracks), collisions, n_frames, camera), ids
