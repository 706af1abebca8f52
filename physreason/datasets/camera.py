"""Pinhole camera model: world -> pixel projection and pixel -> table-plane back-projection.

World frame: table plane z = 0, z up, units of CLEVRER (object radius 0.2). Pixel frame: u to
the right, v down, origin at the top-left corner of the image (OpenCV convention). The default
is CLEVRER's fixed camera (reference notes §1.2): 480×320 px, focal 525 px, principal point
(240, 160), centre 5 units from the origin at 30° elevation, looking at the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from physreason.errors import FormatError


def _look_at_rotation(position: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows are the camera's right, down and forward axes in world coordinates, shape (3, 3)."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise ValueError("camera 'up' is parallel to the viewing direction")
    right = right / norm
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking from ``position`` at ``target``.

    Attributes: image ``width``/``height`` in px, ``focal`` length in px, principal point
    (``cx``, ``cy``) in px, ``position``/``target``/``up`` as world 3-vectors.
    """

    width: int = 480
    height: int = 320
    focal: float = 525.0
    cx: float = 240.0
    cy: float = 160.0
    position: tuple[float, float, float] = (5.0 * math.cos(math.radians(30)), 0.0, 5.0 * math.sin(math.radians(30)))
    target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    rotation: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rot = _look_at_rotation(np.asarray(self.position, float), np.asarray(self.target, float),
                                np.asarray(self.up, float))
        object.__setattr__(self, "rotation", rot)

    @property
    def intrinsics(self) -> np.ndarray:
        """The 3×3 intrinsic matrix K."""
        return np.array([[self.focal, 0.0, self.cx], [0.0, self.focal, self.cy], [0.0, 0.0, 1.0]])

    @property
    def projection_matrix(self) -> np.ndarray:
        """The 3×4 matrix P = K [R | -R c] mapping homogeneous world points to pixels."""
        c = np.asarray(self.position, float)
        return self.intrinsics @ np.hstack([self.rotation, -(self.rotation @ c)[:, None]])

    @property
    def fovy_degrees(self) -> float:
        """Vertical field of view in degrees (for renderers that take one)."""
        return math.degrees(2.0 * math.atan(0.5 * self.height / self.focal))

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera-frame points (..., 3) (x right, y down, z forward)."""
        return (np.asarray(points, float) - np.asarray(self.position, float)) @ self.rotation.T

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Distance along the optical axis of world points (..., 3), shape (...)."""
        return self.to_camera(points)[..., 2]

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> pixel coordinates (..., 2) as (u, v); points behind give NaN."""
        cam = self.to_camera(points)
        z = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(z > 0, self.focal * cam[..., 0] / z + self.cx, np.nan)
            v = np.where(z > 0, self.focal * cam[..., 1] / z + self.cy, np.nan)
        return np.stack([u, v], axis=-1)

    def in_view(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether world points (..., 3) project inside the image grown by ``margin`` px, (...) bool."""
        uv = self.project(points)
        with np.errstate(invalid="ignore"):
            return ((uv[..., 0] >= -margin) & (uv[..., 0] < self.width + margin)
                    & (uv[..., 1] >= -margin) & (uv[..., 1] < self.height + margin))

    def backproject(self, pixels: np.ndarray, height: float = 0.0) -> np.ndarray:
        """Pixels (..., 2) -> world points (..., 3) on the horizontal plane z = ``height``.

        Rays that do not hit the plane in front of the camera give NaN.
        """
        uv = np.asarray(pixels, float)
        rays_cam = np.stack([(uv[..., 0] - self.cx) / self.focal, (uv[..., 1] - self.cy) / self.focal,
                             np.ones(uv.shape[:-1])], axis=-1)
        rays = rays_cam @ self.rotation  # camera -> world directions
        c = np.asarray(self.position, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (height - c[2]) / rays[..., 2]
        t = np.where(t > 0, t, np.nan)
        return c + t[..., None] * rays

    def to_json(self) -> dict:
        """JSON form (every field a plain number or list)."""
        return {"width": self.width, "height": self.height, "focal": self.focal, "cx": self.cx,
                "cy": self.cy, "position": list(self.position), "target": list(self.target),
                "up": list(self.up)}

    @classmethod
    def from_json(cls, data: object, path: object = "<camera>") -> "Camera":
        """Inverse of :meth:`to_json`; a bad field raises :class:`FormatError`."""
        if not isinstance(data, dict):
            raise FormatError(path, "camera", "expected an object")
        kwargs: dict = {}
        for name in ("width", "height"):
            if name in data:
                if not isinstance(data[name], int) or data[name] <= 0:
                    raise FormatError(path, f"camera.{name}", "expected a positive integer")
                kwargs[name] = data[name]
        for name in ("focal", "cx", "cy"):
            if name in data:
                if not isinstance(data[name], (int, float)) or isinstance(data[name], bool):
                    raise FormatError(path, f"camera.{name}", "expected a number")
                kwargs[name] = float(data[name])
        for name in ("position", "target", "up"):
            if name in data:
                vec = data[name]
                if (not isinstance(vec, list) or len(vec) != 3
                        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vec)):
                    raise FormatError(path, f"camera.{name}", "expected a list of 3 numbers")
                kwargs[name] = tuple(float(x) for x in vec)
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise FormatError(path, "camera", str(exc)) from None


CLEVRER_CAMERA = Camera()
"""CLEVRER's fixed camera."""
