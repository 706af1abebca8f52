"""Per-frame detections (proposals) -> an :class:`Observation` in table coordinates.

Steps: decode and lift every detection's mask (:mod:`.lifting`), track (:mod:`.tracking`),
smooth each track's detections whose attributes agree with its voted ones (the others, often
false positives, are bridged like missed frames) and fill every frame, clean visibility with
hysteresis and find collision candidates (:mod:`.events`). Perception does not estimate
orientation: orientations and angular velocities are zero. Objects are numbered in order of their first detection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physreason.datasets.camera import Camera
from physreason.datasets.proposals import Proposals
from physreason.datasets.records import ObjectInfo, Observation, Track
from physreason.errors import ConfigError, FormatError
from physreason.perception.events import clean_visibility, collision_candidates
from physreason.perception.lifting import CENTRE_HEIGHT, mask_position, smooth_track
from physreason.perception.tracking import Detection, TrackerConfig, track


@dataclass(frozen=True)
class PerceptionConfig:
    """Settings of :func:`observe`: the tracker's, ``min_score`` below which detections are
    ignored, the smoother's ``window`` (odd, frames) and ``polyorder``, ``max_gap`` frames of
    missed detections still counted as visible, and the in/out hysteresis ``min_run`` (frames)."""

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    min_score: float = 0.05
    window: int = 5
    polyorder: int = 2
    max_gap: int = 10
    min_run: int = 3

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0 or not 0 <= self.polyorder < self.window:
            raise ConfigError(f"PerceptionConfig needs an odd window > polyorder >= 0, got {self.window}, "
                              f"{self.polyorder}")


def detections(proposals: Proposals, camera: Camera, n_frames: int, min_score: float = 0.0) -> list[list[Detection]]:
    """Lifted detections per frame, ``result[t]`` for t in 0..n_frames-1.

    Every mask is lifted by :func:`.lifting.mask_position`, which is told the lowest image row
    reached by the frame's masks at each pixel (to find the ones that may hide it). Raises
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
            xy, truncated = mask_position(mask, obj.shape, camera, lowest)
            out[fr.frame_index].append(Detection(fr.frame_index, xy, obj.color, obj.material, obj.shape,
                                                 obj.score, truncated, index=j))
    return out


def observe(proposals: Proposals, camera: Camera, n_frames: int, scene_index: int,
            config: PerceptionConfig = PerceptionConfig()) -> Observation:
    """The Observation (CLEVRER annotation layout) of one video's proposals seen by ``camera``.

    ``n_frames`` is the video's length in frames; an empty scene gives an Observation with no
    objects. Bad input raises :class:`FormatError` (proposals) or :class:`ConfigError` (arguments).
    """
    if n_frames < 1 or scene_index < 0:
        raise ConfigError(f"observe needs n_frames >= 1 and scene_index >= 0, got {n_frames} and {scene_index}")
    tracklets = track(detections(proposals, camera, n_frames, config.min_score), config.tracker)
    objects, tracks, positions, velocities, visible = [], [], [], [], []
    for tr in tracklets:
        agree = np.array([(d.color, d.material, d.shape) == tr.key for d in tr.detections])
        if not agree.any():  # attributes are voted one by one: no detection need have the triple
            agree[:] = True
        est = smooth_track(np.asarray(tr.frames)[agree], np.array([d.xy for d in tr.detections])[agree],
                           n_frames, camera, config.window, config.polyorder, config.max_gap)
        vis = clean_visibility(est.visible, config.min_run)
        if not vis.any():
            continue
        k = len(objects)
        objects.append(ObjectInfo(k, *tr.key))
        zeros = np.zeros((n_frames, 3))
        tracks.append(Track(k, np.column_stack([est.position, np.full(n_frames, CENTRE_HEIGHT)]),
                            np.column_stack([est.velocity, np.zeros(n_frames)]), zeros, zeros, vis))
        positions.append(est.position)
        velocities.append(est.velocity)
        visible.append(vis)
    collisions = tuple(collision_candidates(positions, velocities, visible))
    return Observation(scene_index, tuple(objects), tuple(tracks), collisions, n_frames, camera)
