"""Image -> table lifting: mask centres, back-projection, per-track smoothing and velocities.

A detection's mask gives the image point of the object's centre as the mask's pixel centroid
(pixel ``(r, c)`` covers ``u`` in [c, c + 1), ``v`` in [r, r + 1), so its centre is
``(c + 0.5, r + 0.5)``), back-projected onto the plane z = 0.2 on which every object's centre
lies. Measured against ground truth on generated 480×320 videos (unoccluded, untruncated masks),
the centroid's table error is 0.013 (sphere), 0.004 (cylinder), 0.023 (cube) units on average,
the bounding-box centre's 0.011, 0.011, 0.021: the centroid is kept (it is less biased and uses
every pixel). Masks touching the image border are *truncated*: their centroid is pulled into
the image, so across the cut side the centre is placed one apparent radius in from the mask's
opposite edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

from physreason.datasets.camera import Camera
from physreason.datasets.vocab import FPS, OBJECT_RADIUS

CENTRE_HEIGHT = OBJECT_RADIUS
"""Height (world units) of every object's centre above the table."""


@dataclass(frozen=True)
class MaskCentre:
    """A mask's centre point ``uv`` (2,) in px, its ``area`` in px, and whether it touches the border."""

    uv: np.ndarray
    area: int
    truncated: bool


def mask_centre(mask: np.ndarray, camera: Camera, border: int = 2) -> MaskCentre:
    """The image point (u, v) in px of the centre of the object seen in a non-empty mask (H, W).

    The centroid; if the mask comes within ``border`` px of an image side (``truncated``), the
    coordinate across that side is instead the opposite edge of the mask moved inwards by the
    object's apparent radius (0.2 units at the depth of the current estimate), refined twice.
    """
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("mask_centre needs a non-empty mask")
    h, w = mask.shape
    uv = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
    cut = (cols.min() < border, cols.max() >= w - border, rows.min() < border, rows.max() >= h - border)
    if any(cut):
        for _ in range(2):
            centre = camera.backproject(uv, CENTRE_HEIGHT)
            radius = camera.focal * OBJECT_RADIUS / max(float(camera.depth(centre)), 1e-6)
            if cut[0] != cut[1]:
                uv[0] = cols.max() + 1 - radius if cut[0] else cols.min() + radius
            if cut[2] != cut[3]:
                uv[1] = rows.max() + 1 - radius if cut[2] else rows.min() + radius
    return MaskCentre(uv, int(rows.size), any(cut))


def lift_points(uv: np.ndarray, camera: Camera) -> np.ndarray:
    """Image points (..., 2) in px -> table positions (..., 2) of object centres (z = 0.2), world units."""
    return camera.backproject(np.asarray(uv, float), CENTRE_HEIGHT)[..., :2]


@dataclass(frozen=True)
class TrackEstimate:
    """One object's lifted trajectory over ``n_frames`` frames.

    ``position`` (T, 2) table units; ``velocity`` (T, 2) units/s; ``visible`` (T,) bool: the
    object was detected (or is in a short gap between detections) and its centre projects
    inside the image.
    """

    position: np.ndarray
    velocity: np.ndarray
    visible: np.ndarray


def _smooth_segment(xy: np.ndarray, window: int, polyorder: int) -> tuple[np.ndarray, np.ndarray]:
    """Savitzky–Golay positions (K, 2) and velocities (K, 2) in units/s of a run of consecutive frames."""
    k = len(xy)
    if k >= window:
        pos = savgol_filter(xy, window, polyorder, axis=0, mode="interp")
        vel = savgol_filter(xy, window, polyorder, deriv=1, delta=1.0 / FPS, axis=0, mode="interp")
        return pos, vel
    if k == 1:
        return xy.copy(), np.zeros_like(xy)
    return xy.copy(), np.gradient(xy, 1.0 / FPS, axis=0)


def smooth_track(frames: np.ndarray, xy: np.ndarray, n_frames: int, camera: Camera,
                 window: int = 5, polyorder: int = 2, max_gap: int = 10) -> TrackEstimate:
    """Smooth one track's measurements and fill every frame of the video.

    ``frames`` (K,) increasing frame indices, ``xy`` (K, 2) lifted measurements in table units.
    Measurements are smoothed per run of consecutive frames with a Savitzky–Golay filter
    (``window`` frames, degree ``polyorder``), which also gives the velocity; gaps up to
    ``max_gap`` frames between measurements are interpolated linearly, and frames before the
    first or after the last measurement are extrapolated at the boundary velocity (velocities
    are interpolated likewise). A frame is
    visible if it lies between the track's first and last detection with no gap longer than
    ``max_gap``, and the centre projects inside the image.
    """
    frames = np.asarray(frames, dtype=int)
    f_use, xy_use = frames, np.asarray(xy, float)
    pos_m = np.empty_like(xy_use)
    vel_m = np.empty_like(xy_use)
    breaks = np.flatnonzero(np.diff(f_use) != 1) + 1
    for run in np.split(np.arange(len(f_use)), breaks):
        pos_m[run], vel_m[run] = _smooth_segment(xy_use[run], window, polyorder)
    t = np.arange(n_frames)
    position = np.stack([np.interp(t, f_use, pos_m[:, d]) for d in range(2)], axis=1)
    velocity = np.stack([np.interp(t, f_use, vel_m[:, d]) for d in range(2)], axis=1)
    before, after = t < f_use[0], t > f_use[-1]
    position[before] = pos_m[0] + np.outer(t[before] - f_use[0], vel_m[0]) / FPS
    position[after] = pos_m[-1] + np.outer(t[after] - f_use[-1], vel_m[-1]) / FPS
    detected = np.zeros(n_frames, bool)
    for a, b in zip(frames[:-1], frames[1:]):
        if b - a <= max_gap + 1:
            detected[a:b + 1] = True
    detected[frames] = True
    centres = np.column_stack([position, np.full(n_frames, CENTRE_HEIGHT)])
    return TrackEstimate(position, velocity, detected & camera.in_view(centres))
