"""Image -> table lifting: mask positions, back-projection, per-track smoothing and velocities.

A whole, unhidden mask gives the image point of the object's centre as the mask's pixel
centroid (pixel ``(r, c)`` covers ``u`` in [c, c + 1), ``v`` in [r, r + 1), so its centre is
``(c + 0.5, r + 0.5)``), back-projected onto the plane z = 0.2 on which every object's centre
lies. Measured against ground truth on generated 480×320 videos (unoccluded, untruncated masks),
the centroid's table error is 0.013 (sphere), 0.004 (cylinder), 0.023 (cube) units on average,
the bounding-box centre's 0.011, 0.011, 0.021: the centroid is kept (it is less biased and uses
every pixel).

A mask cut by the image border (*truncated*) or possibly hidden in part by a nearer object has
a centroid pulled away from the centre, and its extent says little: the silhouette rises above
the centre by more than the radius. Such a mask is lifted by fitting the shape's projected
silhouette (known size, known camera, centre at z = 0.2) to the mask's true edges, those not
on the image border nor next to an occluder (:func:`mask_position`). On the same videos
(ground-truth masks), the fitted centre is 0.001–0.004 units off on average for truncated and
partly hidden masks whose centre is in view, against 0.03–0.18 for the centroid (moved one
apparent radius in from the mask's far edge across a cut side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.signal import savgol_filter

from physreason.datasets.camera import Camera
from physreason.datasets.vocab import FPS, OBJECT_RADIUS

CENTRE_HEIGHT = OBJECT_RADIUS
"""Height (world units) of every object's centre above the table."""

_RING = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
"""Angles of the points of a sphere's outline and of a cylinder's 32-sided footprint."""
_DISC = OBJECT_RADIUS * np.column_stack([np.cos(_RING), np.sin(_RING)])
_SQUARE = OBJECT_RADIUS * np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
_MIN_EDGES = 8
"""Fewest silhouette edge points (px sides) for a silhouette fit; fewer keep the initial estimate."""
_QUARTER = 0.5 * np.pi
"""A square looks the same turned by a quarter turn: cube yaws are given modulo this."""
CONTACT = 0.3
"""A mask within this share of the object's apparent radius (px at the depth of the first
estimate; 12-35 px at 480×320, so 4-10 px) of one that may hide it is lifted from its other
sides. The detector's masks of two objects in contact often leave a band of a few px between
them, or give the band to the nearer object; on its masks of held-out videos (the farther of two
objects within 0.65 units) the lift was 0.039-0.042 units off with a fixed 3 px, 0.026-0.030 with
this share (0.003-0.004 on ground-truth masks either way; a fixed 8 px doubled that)."""


def apparent_radius(centre: np.ndarray, camera: Camera) -> float:
    """Px that an object's radius (0.2 units) spans at the depth of its centre (3,) in world units."""
    return camera.focal * OBJECT_RADIUS / max(float(camera.depth(centre)), 1e-6)


@dataclass(frozen=True)
class MaskCentre:
    """A mask's centre point ``uv`` (2,) in px, its ``area`` in px, and whether it touches the border."""

    uv: np.ndarray
    area: int
    truncated: bool


def silhouette_segments(shape: str, params: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The projected silhouette outlines of ``shape`` for a batch of poses, as line segments.

    ``params`` (P, 2) table positions of the centre (z = 0.2), or (P, 3) with a yaw (radians)
    used by cubes. Returns endpoints (P, S, 2, 2) px and which segments lie on the outline
    (P, S) bool. A sphere's outline is its tangency circle as seen from the camera; a cylinder
    (a 32-sided prism) or a cube is a vertical prism, whose outline is the top edges of the sides
    facing away from the camera, the bottom edges of those facing it, and the vertical edges
    between the two kinds.
    """
    params = np.asarray(params, float)
    r = OBJECT_RADIUS
    centre = np.column_stack([params[:, :2], np.full(len(params), CENTRE_HEIGHT)])
    eye = np.asarray(camera.position, float)
    if shape == "sphere":
        to_cam = eye - centre
        d = np.linalg.norm(to_cam, axis=1, keepdims=True)
        axis = to_cam / d
        e1 = np.cross(axis, [0.0, 0.0, 1.0])
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(axis, e1)
        ring = (r * np.sqrt(1.0 - (r / d) ** 2))[:, :, None]
        points = (centre + r * r / d * axis)[:, None] + ring * (np.cos(_RING)[None, :, None] * e1[:, None]
                                                                 + np.sin(_RING)[None, :, None] * e2[:, None])
        uv = camera.project(points)
        return np.stack([uv, np.roll(uv, -1, axis=1)], axis=2), np.ones(uv.shape[:2], bool)
    if shape == "cube":
        yaw = params[:, 2] if params.shape[1] > 2 else np.zeros(len(params))
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        foot = np.stack([c * _SQUARE[:, 0] - s * _SQUARE[:, 1], s * _SQUARE[:, 0] + c * _SQUARE[:, 1]], axis=-1)
    else:
        foot = np.broadcast_to(_DISC, (len(params), *_DISC.shape))
    n = foot.shape[1]
    following = (np.arange(n) + 1) % n
    nxt = foot[:, following]
    to_eye = eye[:2] - centre[:, None, :2] - 0.5 * (foot + nxt)
    # outward normal (dy, -dx) of each side of the counter-clockwise footprint, dotted with to_eye
    facing = (nxt - foot)[..., 1] * to_eye[..., 0] - (nxt - foot)[..., 0] * to_eye[..., 1] > 0
    corners = np.empty((len(params), 2 * n, 3))
    corners[:, :, :2] = np.tile(centre[:, None, :2] + foot, (1, 2, 1))
    corners[:, :n, 2], corners[:, n:, 2] = CENTRE_HEIGHT + r, CENTRE_HEIGHT - r
    uv = camera.project(corners)
    top, bottom = uv[:, :n], uv[:, n:]
    segments = np.concatenate([np.stack([top, top[:, following]], axis=2),
                               np.stack([bottom, bottom[:, following]], axis=2),
                               np.stack([top, bottom], axis=2)], axis=1)
    on_outline = np.concatenate([~facing, facing, facing != facing[:, (np.arange(n) - 1) % n]], axis=1)
    return segments, on_outline


def _outline_distances(points: np.ndarray, segments: np.ndarray, on_outline: np.ndarray) -> np.ndarray:
    """Distance (P, B) of points (B, 2) to each of P outlines given as :func:`silhouette_segments`
    (every outline has the same number of segments on it)."""
    keep = np.argsort(~on_outline, axis=1, kind="stable")[:, :int(on_outline[0].sum())]
    seg = np.take_along_axis(segments, keep[:, :, None, None], axis=1)
    ax, ay = seg[:, None, :, 0, 0], seg[:, None, :, 0, 1]
    bx, by = seg[:, None, :, 1, 0] - ax, seg[:, None, :, 1, 1] - ay
    px, py = points[None, :, 0, None] - ax, points[None, :, 1, None] - ay
    t = np.clip((px * bx + py * by) / np.maximum(bx * bx + by * by, 1e-12), 0.0, 1.0)
    return np.sqrt(((px - t * bx) ** 2 + (py - t * by) ** 2).min(axis=2))


def silhouette_edges(mask: np.ndarray, hidden: np.ndarray | None = None) -> np.ndarray:
    """Edge points (B, 2) in px of a mask's outline that are true silhouette edges.

    Every side shared by a mask pixel and a non-mask pixel gives its midpoint; sides on the
    array's border are not edges (the image cuts the object there), nor sides next to a pixel of
    ``hidden`` (H, W) bool, the pixels where the object may be hidden or cut.
    """
    free = ~mask if hidden is None else ~(mask | hidden)
    rows, cols = np.nonzero(mask[:, :-1] & free[:, 1:] | free[:, :-1] & mask[:, 1:])
    horizontal = np.column_stack([cols + 1.0, rows + 0.5])
    rows, cols = np.nonzero(mask[:-1] & free[1:] | free[:-1] & mask[1:])
    vertical = np.column_stack([cols + 0.5, rows + 1.0])
    return np.concatenate([horizontal, vertical])


def _spread(points: np.ndarray, max_points: int) -> np.ndarray:
    """At most ``max_points`` of ``points`` (B, 2), evenly spread along them."""
    return points[np.linspace(0, len(points) - 1, min(len(points), max_points)).astype(int)]


def fit_silhouette(edges: np.ndarray, shape: str, xy0: np.ndarray, camera: Camera, max_points: int = 32,
                   iterations: int = 12, step: float = 1e-3) -> np.ndarray:
    """Pose of ``shape`` whose projected silhouette passes closest (least squares) to the edge
    points (B, 2) px, starting from ``xy0``: its table position (2,), and for a cube its yaw
    too (3,; radians in [0, pi/2), a square's yaw being defined modulo a quarter turn).

    Levenberg–Marquardt with forward differences of ``step`` (units, radians) for at most
    ``iterations`` steps on at most ``max_points`` evenly spread edge points. A cube's yaw
    starts from the best of :func:`cube_yaw`'s grid at ``xy0``.
    """
    edges = _spread(edges, max_points)

    def residuals(params: np.ndarray) -> np.ndarray:
        return _outline_distances(edges, *silhouette_segments(shape, params, camera))

    x = np.asarray(xy0, float)
    if shape == "cube":
        x = np.append(x, cube_yaw(edges, x, camera))
    probe = np.vstack([np.zeros(len(x)), step * np.eye(len(x))])
    res = residuals(x + probe)
    damping = 1e-3
    for _ in range(iterations):
        jac = (res[1:] - res[0]) / step
        normal = jac @ jac.T
        delta = np.linalg.solve(normal + damping * (np.diag(np.diag(normal)) + 1e-9 * np.eye(len(x))), -jac @ res[0])
        trial = residuals(x + delta + probe)
        if (trial[0] ** 2).sum() < (res[0] ** 2).sum():
            x, res, damping = x + delta, trial, damping / 3.0
            if np.abs(delta[:2]).max() < 5e-4:
                break
        else:
            damping *= 4.0
    if shape == "cube":
        x[2] = _quarter_turn(x[2])
    return x


def _quarter_turn(yaw: np.ndarray | float) -> np.ndarray:
    """Yaw(s) in radians brought into [0, pi/2) (a value that rounds up to pi/2 becomes 0)."""
    out = np.mod(yaw, _QUARTER)
    return np.where(out >= _QUARTER, 0.0, out)


def cube_yaw(edges: np.ndarray, xy: np.ndarray, camera: Camera, step: float = np.pi / 36,
             max_points: int = 48) -> float:
    """Yaw (radians, in [0, pi/2)) of a cube centred at table position ``xy`` (2,) whose projected
    silhouette passes closest (least squares) to the edge points (B, 2) px: the best of a grid
    of ``step`` over a quarter turn, refined by a parabola through it and its two neighbours.
    At most ``max_points`` evenly spread edge points are used."""
    edges = _spread(edges, max_points)
    yaws = np.arange(0.0, _QUARTER, step)
    poses = np.column_stack([np.tile(np.asarray(xy, float), (len(yaws), 1)), yaws])
    cost = (_outline_distances(edges, *silhouette_segments("cube", poses, camera)) ** 2).sum(axis=1)
    k = int(np.argmin(cost))
    before, best, after = cost[k - 1], cost[k], cost[(k + 1) % len(cost)]
    curvature = before - 2.0 * best + after
    shift = 0.5 * (before - after) / curvature if curvature > 0 else 0.0
    return float(_quarter_turn(yaws[k] + shift * step))


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
            radius = apparent_radius(camera.backproject(uv, CENTRE_HEIGHT), camera)
            if cut[0] != cut[1]:
                uv[0] = cols.max() + 1 - radius if cut[0] else cols.min() + radius
            if cut[2] != cut[3]:
                uv[1] = rows.max() + 1 - radius if cut[2] else rows.min() + radius
    return MaskCentre(uv, int(rows.size), any(cut))


def mask_position(mask: np.ndarray, shape: str, camera: Camera, lowest: np.ndarray | None = None,
                  contact: float = CONTACT, border: int = 2) -> tuple[np.ndarray, bool, float | None]:
    """Table position (2,) of the centre of a ``shape`` seen in a non-empty mask (H, W), whether
    the mask is truncated by the image border, and for a cube its yaw (radians in [0, pi/2);
    None for other shapes, or when too little of the outline is seen).

    ``lowest`` (H, W) int gives, for each pixel, the lowest image row reached by a mask covering
    it among the frame's detections (-1 where none). Objects stand on the table, so the masks
    that may hide this one are the others reaching as low in the image, less one pixel
    (nearer the camera, or as near): their pixels are occluders. A whole mask gives its
    centroid, lifted; a mask that is truncated, or comes within ``contact`` apparent radii of an occluder
    (it may be partly hidden), gives the position whose projected silhouette fits the mask's
    edges (:func:`silhouette_edges`, :func:`fit_silhouette`) started from that of
    :func:`mask_centre`, leaving out the sides that close to an occluder and within
    ``border`` px of the image border (detector masks may be shifted). A cube's yaw is fitted
    with its position in the second case, read from the whole outline at the centroid's
    position in the first (:func:`cube_yaw`).
    """
    centre = mask_centre(mask, camera, border)
    xy = lift_points(centre.uv, camera)
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    near_px = max(1, int(round(contact * apparent_radius(np.append(xy, CENTRE_HEIGHT), camera))))
    pad = near_px + 1
    h, w = mask.shape
    window = (slice(max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)),
              slice(max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)))
    near = np.zeros(mask[window].shape, bool)
    if lowest is not None:
        near = binary_dilation((lowest[window] >= rows[-1] - 1) & ~mask[window], iterations=near_px)
    hidden = centre.truncated or bool((near & mask[window]).any())
    if not hidden and shape != "cube":
        return xy, centre.truncated, None
    rr, cc = np.ogrid[window[0], window[1]]
    near |= (rr < border) | (rr >= h - border) | (cc < border) | (cc >= w - border)
    edges = silhouette_edges(mask[window], near) + [window[1].start, window[0].start]
    if len(edges) < _MIN_EDGES:
        return xy, centre.truncated, None
    if not hidden:
        return xy, centre.truncated, cube_yaw(edges, xy, camera)
    pose = fit_silhouette(edges, shape, xy, camera)
    return pose[:2], centre.truncated, (float(pose[2]) if shape == "cube" else None)


def lift_points(uv: np.ndarray, camera: Camera) -> np.ndarray:
    """Image points (..., 2) in px -> table positions (..., 2) of object centres (z = 0.2), world units."""
    return camera.backproject(np.asarray(uv, float), CENTRE_HEIGHT)[..., :2]


@dataclass(frozen=True)
class TrackEstimate:
    """One object's lifted trajectory over ``n_frames`` frames.

    ``position`` (T, 2) table units; ``velocity`` (T, 2) units/s; ``seen`` (T,) bool: the object
    was detected, or is in a gap between detections that counts as seen (see :func:`smooth_track`).
    """

    position: np.ndarray
    velocity: np.ndarray
    seen: np.ndarray


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


def smooth_track(frames: np.ndarray, xy: np.ndarray, n_frames: int, window: int = 5, polyorder: int = 2,
                 max_gap: int = 10, interior: np.ndarray | None = None,
                 outside: np.ndarray | None = None, outside_gap: int = 3) -> TrackEstimate:
    """Smooth one track's measurements and fill every frame of the video.

    ``frames`` (K,) increasing frame indices, ``xy`` (K, 2) lifted measurements in table units.
    Measurements are smoothed per run of consecutive frames with a Savitzky–Golay filter
    (``window`` frames, degree ``polyorder``), which also gives the velocity; gaps up to
    ``max_gap`` frames between measurements are interpolated linearly, and frames before the
    first or after the last measurement are extrapolated at the boundary velocity (velocities
    are interpolated likewise). A frame is visible if its (smoothed, interpolated or
    extrapolated) centre projects inside the image and it lies between the track's first and
    last detection with no gap longer than ``max_gap`` frames, the video's first and last
    frames counting as detections (an object may be missed there too). ``interior`` (K,) bool
    optionally marks measurements of an object wholly inside the image: a gap of any length
    between two such measurements stays visible (an object in mid-table that is missed for
    long is hidden behind another, not gone; it can only leave through the image border).
    ``outside`` (K,) bool optionally marks measurements whose centre projects outside the image:
    a gap next to one is bridged only up to ``outside_gap`` frames (an object that has left
    cannot be missed in view; what is detected long after is something else).
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
    inner = np.zeros(len(frames), bool) if interior is None else np.asarray(interior, bool)
    out = np.zeros(len(frames), bool) if outside is None else np.asarray(outside, bool)
    for k, (a, b) in enumerate(zip(frames[:-1], frames[1:])):
        reach = outside_gap if out[k] or out[k + 1] else max_gap
        if b - a <= reach + 1 or (inner[k] and inner[k + 1]):
            detected[a:b + 1] = True
    detected[frames] = True
    if frames[0] <= max_gap:
        detected[:frames[0]] = True
    if frames[-1] >= n_frames - 1 - max_gap:
        detected[frames[-1]:] = True
    return TrackEstimate(position, velocity, detected)


def smooth_yaw(frames: np.ndarray, yaws: np.ndarray, n_frames: int, half_window: int = 2) -> np.ndarray:
    """A cube's yaw per frame (n_frames,), radians in [0, pi/2), from the yaws (K,) read at
    ``frames`` (K,): the mean over a quarter turn (of the unit vectors at four times the angle)
    of those read within ``half_window`` frames, else of those read nearest in time; zeros if
    none was read."""
    out = np.zeros(n_frames)
    if len(frames) == 0:
        return out
    gap = np.abs(np.asarray(frames)[None, :] - np.arange(n_frames)[:, None])
    reach = np.maximum(half_window, gap.min(axis=1))
    mean = ((gap <= reach[:, None]) * np.exp(4j * np.asarray(yaws, float))[None, :]).sum(axis=1)
    return _quarter_turn(np.angle(mean) / 4.0)


def _line_fits(position: np.ndarray, usable: np.ndarray, piece: np.ndarray,
               half_window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame t, the straight line fitted to ``position`` (T, 2) at the ``usable`` frames of
    t's ``piece`` within ``half_window`` frames of t: its value at t (T, 2), its slope in units
    per frame (T, 2), and whether there were 3 such frames spanning at least 2 (T,) bool."""
    n = len(position)
    value, slope, ok = np.zeros((n, 2)), np.zeros((n, 2)), np.zeros(n, bool)
    for t in range(n):
        s = np.arange(max(0, t - half_window), min(n, t + half_window + 1))
        s = s[usable[s] & (piece[s] == piece[t])]
        if len(s) < 3 or s[-1] - s[0] < 2:
            continue
        d = s - t
        x = position[s]
        dm, xm = d.mean(), x.mean(axis=0)
        slope[t] = ((d - dm)[:, None] * (x - xm)).sum(axis=0) / ((d - dm) ** 2).sum()
        value[t] = xm - slope[t] * dm
        ok[t] = True
    return value, slope, ok


def piecewise_motion(position: np.ndarray, velocity: np.ndarray, measured: np.ndarray, contacts: list[int],
                     half_window: int = 4, velocity_half_window: int = 10,
                     guard: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """One track's positions and velocities re-estimated piece by piece between its collisions.

    ``position`` (T, 2) units and ``velocity`` (T, 2) units/s as :func:`smooth_track` gave them,
    ``measured`` (T,) bool the frames with a detection, ``contacts`` the frames of the object's
    collisions: each cuts the track (a contact frame starts the next piece), as the velocity
    jumps there. A frame's position is the value at it of a straight line fitted to the
    measured positions of its piece within ``half_window`` frames; its velocity the slope of
    one fitted within ``velocity_half_window`` frames, leaving out the frames within ``guard``
    of a contact (there the masks of the two objects touch and their lifted positions are worst:
    a frame that close gets the line of the free motion on its side). Where fewer than 3 frames
    are left, the input is kept.

    The Savitzky–Golay velocity of 5 frames straddles contacts and follows every pixel of mask
    noise. On the detector's masks of held-out videos 0-59 (moving objects), the velocity error
    falls from 0.136 to 0.060 units/s on average, from 0.32 to 0.16 two to four frames from a
    collision (where a counterfactual simulation starts), and the position error on videos 0-99
    from 0.020 to 0.019 units.
    """
    n = len(position)
    cuts = np.sort(np.asarray(contacts, int))
    piece = np.searchsorted(cuts, np.arange(n), side="right")
    near = (np.abs(np.arange(n)[:, None] - cuts[None, :]) < guard).any(axis=1) if len(cuts) else np.zeros(n, bool)
    measured = np.asarray(measured, bool)
    value, _, ok = _line_fits(position, measured, piece, half_window)
    _, slope, ok_v = _line_fits(position, measured & ~near, piece, velocity_half_window)
    return (np.where(ok[:, None], value, position), np.where(ok_v[:, None], slope * FPS, velocity))


def still_frames(position: np.ndarray, window: int = 11, radius: float = 0.035) -> np.ndarray:
    """Frames (T,) bool where an object stands still: every position (T, 2) of the ``window``
    frames around lies within ``radius`` units of their median.

    Lifted positions jitter by about 0.01 units, so velocities differentiated from them make a
    resting object "move" at up to 0.1-0.7 units/s now and then, far above the 0.02 units/s that
    questions call moving. On the detector's masks of 50 held-out videos (11 frames, 0.035
    units) this finds 90 % of the frames where the object rests, and fewer than 1 % of those
    where it moves faster than 0.3 units/s.
    """
    pos = np.asarray(position, float)
    half = window // 2
    padded = np.pad(pos, ((half, half), (0, 0)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (T, 2, window)
    spread = np.linalg.norm(windows - np.median(windows, axis=2, keepdims=True), axis=1).max(axis=1)
    return spread < radius


def centre_in_view(position: np.ndarray, camera: Camera, window: int = 11, margin: float = 1.0) -> np.ndarray:
    """Whether an object's centre projects inside the image, per frame (T,) bool, as annotations
    define visibility, from its table positions (T, 2) in units.

    The positions are first smoothed with a Savitzky–Golay filter of ``window`` frames (degree
    2; 1 leaves them as they are) and the centre must lie ``margin`` px inside the image: near
    the border an object is seen through masks cut by it, whose lifted centres scatter by a
    pixel or two and lean inwards; a slow object would otherwise cross the border several times.
    """
    pos = np.asarray(position, float)
    if window > 2 and len(pos) >= window:
        pos = savgol_filter(pos, window, 2, axis=0, mode="interp")
    return camera.in_view(np.column_stack([pos, np.full(len(pos), CENTRE_HEIGHT)]), margin=-margin)
