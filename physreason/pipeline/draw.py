"""Pictures of what the engine saw and believes, drawn with PIL (no plotting library).

- :func:`annotated_frames`: the video with each object's outline, id and recent track; the
  predicted future drawn dashed (paths during the video, then dashed outlines moving over the
  last frame for the predicted seconds); and a counterfactual ghost: the scene without one
  object, as translucent discs moving beside the real ones;
- :func:`trajectory_plot`: a top-down plot of every object's observed trajectory (solid)
  against the fitted simulation (dashed) and the future prediction (dotted), with the
  per-object position error over time below it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from physreason.datasets.camera import Camera
from physreason.datasets.records import Observation, World
from physreason.datasets.vocab import COLOR_RGB, OBJECT_RADIUS

TRAIL_FRAMES = 20
"""Frames of past track drawn behind each object."""


def _font(size: int = 12) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - old Pillow
        return ImageFont.load_default()


def _contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if sum(rgb) > 400 else (255, 255, 255)


def _positions(observation: Observation, n_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centres (F, N, 3) (NaN outside a track) and visibility (F, N) over ``n_frames`` frames."""
    n = observation.n_frames if n_frames is None else n_frames
    pos = np.full((n, len(observation.tracks), 3), np.nan)
    vis = np.zeros((n, len(observation.tracks)), bool)
    for k, tr in enumerate(observation.tracks):
        lo, hi = tr.first_frame, min(n, tr.first_frame + tr.n_frames)
        if hi > lo:
            pos[lo:hi, k] = tr.position[:hi - lo]
            vis[lo:hi, k] = tr.visible[:hi - lo]
    return pos, vis


def _project(camera: Camera, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (..., 2) of centres (..., 3) and the pixel radius (...) of an object there."""
    uv = camera.project(np.nan_to_num(pos, nan=0.0))
    side = pos + np.array([0.0, OBJECT_RADIUS, 0.0])
    radius = np.linalg.norm(camera.project(np.nan_to_num(side, nan=0.0)) - uv, axis=-1)
    bad = ~np.isfinite(pos).all(axis=-1)
    uv[bad] = np.nan
    return uv, radius


def dashed_line(draw: ImageDraw.ImageDraw, points: np.ndarray, fill, width: int = 2, dash: float = 6.0,
                gap: float = 4.0) -> None:
    """A dashed polyline through ``points`` (K, 2) pixels; NaN points break it."""
    on, left = True, dash
    for a, b in zip(points[:-1], points[1:]):
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            on, left = True, dash
            continue
        seg = b - a
        length = float(np.hypot(*seg))
        pos = 0.0
        while pos < length:
            step = min(left, length - pos)
            if on:
                p0, p1 = a + seg * (pos / length), a + seg * ((pos + step) / length)
                draw.line([tuple(p0), tuple(p1)], fill=fill, width=width)
            pos += step
            left -= step
            if left <= 1e-9:
                on = not on
                left = dash if on else gap


def _polyline(draw: ImageDraw.ImageDraw, points: np.ndarray, fill, width: int = 2) -> None:
    run: list[tuple[float, float]] = []
    for p in points:
        if np.isfinite(p).all():
            run.append((float(p[0]), float(p[1])))
        else:
            if len(run) > 1:
                draw.line(run, fill=fill, width=width)
            run = []
    if len(run) > 1:
        draw.line(run, fill=fill, width=width)


def _dashed_circle(draw: ImageDraw.ImageDraw, centre: np.ndarray, radius: float, fill, width: int = 2) -> None:
    a = np.linspace(0, 2 * np.pi, 25)
    pts = centre[None] + radius * np.stack([np.cos(a), np.sin(a)], axis=1)
    dashed_line(draw, pts, fill, width, dash=4.0, gap=3.0)


def annotated_frames(frames: Sequence[np.ndarray] | np.ndarray, observation: Observation, future: World | None = None,
                     ghost: World | None = None, labels: dict[int, str] | None = None) -> Iterator[np.ndarray]:
    """The observed ``frames`` (T, H, W, 3) annotated with ``observation``'s tracks and ids, the
    ``future`` world's predicted paths (dashed) and, past the video, its predicted objects moving
    over the last frame; ``ghost`` (a counterfactual world) drawn as translucent discs."""
    camera = observation.camera
    n_obs = len(frames)
    labels = labels or {o.id: f"{o.id} {o.color} {o.shape}" for o in observation.objects}
    colors = {o.id: COLOR_RGB[o.color] for o in observation.objects}
    pos, vis = _positions(observation, n_obs)
    uv, rad = _project(camera, pos)
    fut_uv = fut_rad = None
    n_future = 0
    if future is not None:
        fpos, fvis = _positions(future.observation)
        fut_uv, fut_rad = _project(camera, fpos)
        n_future = max(0, future.observation.n_frames - n_obs)
    g_uv = g_rad = None
    if ghost is not None:
        gpos, gvis = _positions(ghost.observation)
        g_uv, g_rad = _project(camera, gpos)
        g_uv[~gvis] = np.nan
    font = _font(12)
    last = np.asarray(frames[-1])
    for t in range(n_obs + n_future):
        predicted = t >= n_obs
        base = np.asarray(frames[t]) if not predicted else (last * 0.55 + 90).astype(np.uint8)
        img = Image.fromarray(base).convert("RGBA")
        if g_uv is not None and t < g_uv.shape[0]:
            overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
            od = ImageDraw.Draw(overlay)
            for k in range(g_uv.shape[1]):
                if k == ghost.removed or not np.isfinite(g_uv[t, k]).all():  # type: ignore[union-attr]
                    continue
                (u, v), r = g_uv[t, k], g_rad[t, k]  # type: ignore[index]
                od.ellipse([u - r, v - r, u + r, v + r], fill=(*colors[k], 90), outline=(255, 255, 255, 160))
            img = Image.alpha_composite(img, overlay)
        draw = ImageDraw.Draw(img)
        if fut_uv is not None:
            for k in colors:
                path = fut_uv[n_obs - 1:, k] if not predicted else fut_uv[t:, k]
                dashed_line(draw, path, fill=(*colors[k], 255), width=2)
                if predicted and np.isfinite(fut_uv[t, k]).all():
                    _dashed_circle(draw, fut_uv[t, k], float(fut_rad[t, k]), (*_contrast(colors[k]), 255))  # type: ignore[index]
                    u, v = fut_uv[t, k]
                    draw.text((u + 4, v - 6), str(k), fill=(255, 255, 255, 255), font=font)
        if not predicted:
            for k in colors:
                if not vis[t, k]:
                    continue
                _polyline(draw, np.where(vis[max(0, t - TRAIL_FRAMES):t + 1, k, None],
                                         uv[max(0, t - TRAIL_FRAMES):t + 1, k], np.nan), (*colors[k], 255), 2)
                (u, v), r = uv[t, k], rad[t, k]
                draw.ellipse([u - r, v - r, u + r, v + r], outline=(*_contrast(colors[k]), 255), width=2)
                draw.text((u + r + 2, v - r - 2), labels[k], fill=(255, 255, 255, 255), font=font,
                          stroke_width=2, stroke_fill=(0, 0, 0, 255))
        if ghost is not None and ghost.removed is not None and not predicted and vis[t, ghost.removed]:
            (u, v), r = uv[t, ghost.removed], rad[t, ghost.removed]
            draw.line([u - r, v - r, u + r, v + r], fill=(255, 40, 40, 255), width=3)
            draw.line([u - r, v + r, u + r, v - r], fill=(255, 40, 40, 255), width=3)
        header = f"frame {t}  " + ("PREDICTED (dashed)" if predicted else "observed")
        if ghost is not None and ghost.removed is not None:
            header += f"   ghost: without {labels[ghost.removed]}"
        draw.rectangle([0, 0, img.size[0], 16], fill=(0, 0, 0, 170))
        draw.text((4, 2), header, fill=(255, 255, 255, 255), font=font)
        yield np.asarray(img.convert("RGB"))


def trajectory_plot(observation: Observation, simulated: World, size: tuple[int, int] = (900, 1000),
                    title: str = "") -> Image.Image:
    """Top-down observed (solid) vs simulated (dashed; dotted past the video) trajectories, and
    below the per-object position error (units) over the observed frames."""
    width, height = size
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = _font(13)
    obs_pos, obs_vis = _positions(observation)
    sim_pos, _ = _positions(simulated.observation)
    n_obs = observation.n_frames
    pts = np.concatenate([obs_pos[obs_vis][:, :2], sim_pos[:, :, :2].reshape(-1, 2)])
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = (pts.min(axis=0) - 0.5, pts.max(axis=0) + 0.5) if len(pts) else (np.array([-3.0, -3.0]), np.array([3.0, 3.0]))
    span = float(max(hi - lo))
    centre = (lo + hi) / 2
    lo, hi = centre - span / 2, centre + span / 2
    top = (60, 40, width - 40, 40 + min(width - 100, int(height * 0.62)))  # plot box, pixels

    def to_px(xy: np.ndarray) -> np.ndarray:
        # image right = world +y, image up = world -x (the camera's view of the table)
        u = top[0] + (xy[..., 1] - lo[1]) / span * (top[2] - top[0])
        v = top[1] + (xy[..., 0] - lo[0]) / span * (top[3] - top[1])
        return np.stack([u, v], axis=-1)

    draw.rectangle(top, outline=(0, 0, 0))
    for tick in np.arange(np.ceil(lo[0]), hi[0] + 1e-9):
        v = to_px(np.array([tick, lo[1]]))[1]
        draw.line([top[0] - 4, v, top[0], v], fill=(0, 0, 0))
        draw.text((top[0] - 28, v - 7), f"{tick:.0f}", fill=(0, 0, 0), font=font)
    for tick in np.arange(np.ceil(lo[1]), hi[1] + 1e-9):
        u = to_px(np.array([lo[0], tick]))[0]
        draw.line([u, top[3], u, top[3] + 4], fill=(0, 0, 0))
        draw.text((u - 4, top[3] + 6), f"{tick:.0f}", fill=(0, 0, 0), font=font)
    draw.text((top[0], top[3] + 22), "horizontal: world y (units); vertical: world x (units), as the camera sees the table", fill=(0, 0, 0), font=font)
    draw.text((top[0], 8), title or f"scene {observation.scene_index}: observed (solid) vs simulated "
              f"(dashed; dotted = predicted future)", fill=(0, 0, 0), font=font)
    for k, obj in enumerate(observation.objects):
        rgb = COLOR_RGB[obj.color]
        observed = np.where(obs_vis[:, k, None], obs_pos[:, k, :2], np.nan)
        _polyline(draw, to_px(observed), rgb, 3)
        dashed_line(draw, to_px(sim_pos[:n_obs, k, :2]), rgb, 2, dash=8, gap=5)
        dashed_line(draw, to_px(sim_pos[n_obs - 1:, k, :2]), rgb, 2, dash=2, gap=4)
        first = np.flatnonzero(obs_vis[:, k])
        if len(first):
            u, v = to_px(obs_pos[first[0], k, :2])
            draw.ellipse([u - 4, v - 4, u + 4, v + 4], fill=rgb)
            draw.text((u + 6, v - 6), f"{k} {obj.describe()}", fill=(0, 0, 0), font=font)
    # error panel
    box = (60, top[3] + 60, width - 40, height - 40)
    draw.rectangle(box, outline=(0, 0, 0))
    err = np.linalg.norm(np.nan_to_num(sim_pos[:n_obs, :, :2], nan=1e3) - np.nan_to_num(obs_pos[:, :, :2]), axis=2)
    err = np.where(obs_vis, err, np.nan)
    top_err = float(np.nanmax(err)) if np.isfinite(err).any() else 1.0
    top_err = max(0.1, min(top_err, 2.0))
    for frac in (0.0, 0.5, 1.0):
        v = box[3] - frac * (box[3] - box[1])
        draw.line([box[0] - 4, v, box[0], v], fill=(0, 0, 0))
        draw.text((box[0] - 44, v - 7), f"{frac * top_err:.2f}", fill=(0, 0, 0), font=font)
    draw.text((box[0], box[1] - 18), "position error, simulated vs observed (units) over frames "
              f"0..{n_obs - 1}", fill=(0, 0, 0), font=font)
    for k, obj in enumerate(observation.objects):
        t = np.arange(n_obs)
        u = box[0] + t / max(n_obs - 1, 1) * (box[2] - box[0])
        v = box[3] - np.clip(err[:, k] / top_err, 0, 1) * (box[3] - box[1])
        _polyline(draw, np.stack([u, v], axis=1), COLOR_RGB[obj.color], 2)
    for e in observation.collisions:
        u = box[0] + e.frame / max(n_obs - 1, 1) * (box[2] - box[0])
        dashed_line(draw, np.array([[u, box[1]], [u, box[3]]]), (150, 150, 150), 1, 3, 3)
    return img
