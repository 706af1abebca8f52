"""The camera model (CLEVRER's default) and the shape catalogue."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.shapes import all_shapes, get_shape
from physreason.errors import ConfigError, FormatError


def test_clevrer_camera_matches_reference_geometry() -> None:
    cam = CLEVRER_CAMERA
    assert np.allclose(cam.position, (4.330127, 0.0, 2.5), atol=1e-6)
    assert cam.project(np.array([0.0, 0.0, 0.0])) == pytest.approx([240.0, 160.0])
    # u grows with world +y; the bottom edge of the image at z=0.2 is x ~ +2.18, |y| <= 1.38.
    assert cam.project(np.array([0.0, 1.0, 0.2]))[0] > cam.project(np.array([0.0, 0.0, 0.2]))[0]
    bottom = cam.backproject(np.array([[0.0, 320.0], [480.0, 320.0]]), height=0.2)
    assert bottom[:, 0] == pytest.approx([2.18, 2.18], abs=0.01)
    assert bottom[:, 1] == pytest.approx([-1.38, 1.38], abs=0.01)
    top = cam.backproject(np.array([[0.0, 0.0]]), height=0.2)[0]
    assert top[:2] == pytest.approx([-5.59, -4.45], abs=0.01)
    assert cam.fovy_degrees == pytest.approx(2 * math.degrees(math.atan(160 / 525)))


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 479), st.floats(0, 319), st.floats(0.0, 0.5))
def test_backprojection_inverts_projection(u: float, v: float, h: float) -> None:
    point = CLEVRER_CAMERA.backproject(np.array([u, v]), height=h)
    assert point[2] == pytest.approx(h)
    assert CLEVRER_CAMERA.project(point) == pytest.approx([u, v], abs=1e-6)


def test_projection_matrix_agrees_with_project() -> None:
    pts = np.random.default_rng(0).uniform([-4, -3, 0], [2, 3, 0.5], size=(50, 3))
    hom = np.hstack([pts, np.ones((50, 1))]) @ CLEVRER_CAMERA.projection_matrix.T
    assert hom[:, :2] / hom[:, 2:] == pytest.approx(CLEVRER_CAMERA.project(pts))


def test_behind_camera_and_in_view() -> None:
    cam = CLEVRER_CAMERA
    assert np.isnan(cam.project(np.array([10.0, 0.0, 2.5]))).all()
    assert cam.in_view(np.array([[0.0, 0.0, 0.2], [-9.0, 0.0, 0.2], [10.0, 0.0, 2.5]])).tolist() == [True, False, False]
    assert np.isnan(cam.backproject(np.array([240.0, -400.0]), height=0.2)).all()  # above the horizon


def test_camera_json_round_trip_and_errors() -> None:
    cam = Camera(width=240, height=160, focal=262.5, cx=120.0, cy=80.0)
    assert Camera.from_json(cam.to_json()) == cam
    with pytest.raises(FormatError, match="camera.width"):
        Camera.from_json({"width": -3}, "cam.json")
    with pytest.raises(FormatError, match="camera.position"):
        Camera.from_json({"position": [1, 2]}, "cam.json")


def test_shape_catalogue() -> None:
    shapes = all_shapes()
    assert set(shapes) == {"sphere", "cylinder", "cube"}
    cube, sphere, cyl = shapes["cube"], shapes["sphere"], shapes["cylinder"]
    assert cube.volume == pytest.approx(0.4 ** 3)
    assert sphere.volume == pytest.approx(4 / 3 * math.pi * 0.2 ** 3, rel=0.02)
    assert cyl.volume == pytest.approx(math.pi * 0.2 ** 2 * 0.4, rel=0.01)
    assert cube.yaw_inertia(1.0) == pytest.approx(0.4 ** 2 / 6)
    assert sphere.yaw_inertia(2.0) == pytest.approx(2 * 0.4 * 0.2 ** 2, rel=0.02)
    assert cyl.yaw_inertia(1.0) == pytest.approx(0.5 * 0.2 ** 2, rel=0.01)
    for s in shapes.values():
        assert s.centre_height == pytest.approx(0.2)
        lo, hi = s.mesh.bounds
        assert hi - lo == pytest.approx([0.4, 0.4, 0.4], abs=1e-3)
        assert s.mesh.is_watertight
    square = cube.footprint_polygon(yaw=math.pi / 4)
    assert np.abs(square).max() == pytest.approx(0.2 * math.sqrt(2))
    assert cube.bounding_radius() == pytest.approx(0.2 * math.sqrt(2))
    assert np.linalg.norm(sphere.footprint_polygon(), axis=1) == pytest.approx(np.full(32, 0.2))
    with pytest.raises(ConfigError, match="torus"):
        get_shape("torus")
