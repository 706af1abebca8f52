"""The MuJoCo renderer: shapes, determinism, agreement with the camera model, instance ids."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.generator.render import SceneRenderer, render_video
from physreason.datasets.records import ObjectInfo
from physreason.errors import ConfigError

OBJECTS = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "sphere"),
           ObjectInfo(2, "yellow", "metal", "cylinder"), ObjectInfo(3, "green", "rubber", "cube"),
           ObjectInfo(4, "purple", "metal", "sphere"), ObjectInfo(5, "cyan", "rubber", "cylinder"))
SMALL_CAMERA = Camera(width=240, height=160, focal=262.5, cx=120.0, cy=80.0)


def _yaw_quaternions(yaw: np.ndarray) -> np.ndarray:
    """Rotations about z by ``yaw`` (N,) radians as x, y, z, w quaternions, (N, 4)."""
    zeros = np.zeros_like(yaw)
    return np.stack([zeros, zeros, np.sin(yaw / 2), np.cos(yaw / 2)], axis=1)


def _random_scene(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` non-overlapping resting objects, some partly or wholly outside the view."""
    points: list[np.ndarray] = []
    while len(points) < n:
        p = np.array([rng.uniform(-3.5, 2.6), rng.uniform(-2.5, 2.5), 0.2])
        if all(np.linalg.norm(p[:2] - q[:2]) > 0.6 for q in points):
            points.append(p)
    return np.array(points), _yaw_quaternions(rng.uniform(0, 2 * np.pi, n))


def _sphere_image_centre(camera: Camera, centre: np.ndarray, radius: float) -> np.ndarray:
    """Exact centre (u, v) of a sphere's elliptical outline: the image conic P Q* Pᵀ's centre."""
    quadric = np.eye(4)
    quadric[:3, 3] = quadric[3, :3] = -centre
    quadric[3, 3] = centre @ centre - radius**2
    conic = camera.projection_matrix @ np.linalg.inv(quadric) @ camera.projection_matrix.T
    return conic[:2, 2] / conic[2, 2]


@pytest.fixture(scope="module")
def renderer() -> Iterator[SceneRenderer]:
    with SceneRenderer(OBJECTS) as r:
        yield r


SCENE_POS = np.array([[0.6, -0.6, 0.2], [1.2, 0.5, 0.2], [-0.5, 0.9, 0.2],
                      [-1.5, -1.4, 0.2], [0.0, 0.1, 0.2], [-2.5, 0.4, 0.2]])
SCENE_QUAT = _yaw_quaternions(np.array([0.3, 0.0, 0.5, 1.0, 0.0, 0.2]))


def test_shapes_dtypes_and_determinism(renderer: SceneRenderer) -> None:
    rgb, ids = renderer.render(SCENE_POS, SCENE_QUAT)
    assert rgb.shape == (320, 480, 3) and rgb.dtype == np.uint8
    assert ids.shape == (320, 480) and ids.dtype == np.int16
    assert set(np.unique(ids)) == {-1, 0, 1, 2, 3, 4, 5}
    renderer.render(SCENE_POS + 0.3, SCENE_QUAT)  # a different frame in between
    rgb2, ids2 = renderer.render(SCENE_POS, SCENE_QUAT)
    assert rgb.tobytes() == rgb2.tobytes() and ids.tobytes() == ids2.tobytes()
    # A video, rendered by a fresh renderer, gives the same frames.
    positions = np.stack([SCENE_POS, SCENE_POS + 0.3])
    video_rgb, video_ids = render_video(OBJECTS, positions, np.stack([SCENE_QUAT] * 2))
    assert video_rgb.shape == (2, 320, 480, 3) and video_rgb.dtype == np.uint8
    assert video_ids.shape == (2, 320, 480) and video_ids.dtype == np.int16
    assert video_rgb[0].tobytes() == rgb.tobytes() and video_ids[0].tobytes() == ids.tobytes()
    assert video_rgb[1].tobytes() != rgb.tobytes()


@pytest.mark.parametrize("camera", [CLEVRER_CAMERA, SMALL_CAMERA], ids=["480x320", "240x160"])
def test_projection_matches_camera_model(camera: Camera) -> None:
    """Sphere masks are centred where the camera model puts the sphere's outline, to ~0.1 px."""
    centres = np.array([[0.0, 0.0, 0.2], [1.5, 1.0, 0.2], [-3.0, -3.0, 0.2], [1.8, -1.1, 0.2],
                        [-0.7, 2.3, 0.2], [-4.0, 3.5, 0.2], [0.9, 0.0, 1.0]])
    with SceneRenderer([ObjectInfo(7, "gray", "rubber", "sphere")], camera) as r:
        for centre in centres:
            _, ids = r.render(centre[None], np.array([[0.0, 0.0, 0.0, 1.0]]))
            assert ids.shape == (camera.height, camera.width)
            rows, cols = np.nonzero(ids == 7)
            # Pixel (row, col) covers u in [col, col + 1), v in [row, row + 1).
            centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
            assert centroid == pytest.approx(_sphere_image_centre(camera, centre, 0.2), abs=0.2)
            assert centroid == pytest.approx(camera.project(centre), abs=1.0)


def _occlusion_scene() -> tuple[np.ndarray, np.ndarray]:
    """SCENE_POS with the purple sphere (4) just behind the red cube (0), which hides its centre."""
    positions = SCENE_POS.copy()
    positions[0], positions[4] = (1.0, 0.0, 0.2), (0.55, 0.0, 0.2)
    return positions, _yaw_quaternions(np.zeros(len(OBJECTS)))


@pytest.mark.parametrize("seed", [*range(6), "occlusion"])
def test_projected_centre_shows_the_object_or_a_nearer_one(renderer: SceneRenderer, seed: int | str) -> None:
    """Physics, camera and renderer agree: where an object's centre projects, the image shows
    that object, or an object nearer to the camera that hides it."""
    camera = renderer.camera
    if seed == "occlusion":
        positions, quaternions = _occlusion_scene()
    else:
        positions, quaternions = _random_scene(np.random.default_rng(seed), len(OBJECTS))
    _, ids = renderer.render(positions, quaternions)
    uv = camera.project(positions)
    depth = camera.depth(positions)
    inside = camera.in_view(positions)
    assert inside.sum() >= 2
    for k, obj in enumerate(OBJECTS):
        if not inside[k]:
            continue
        seen = int(ids[int(uv[k, 1]), int(uv[k, 0])])
        assert seen == obj.id or (seen >= 0 and depth[seen] < depth[k]), (seed, obj, seen)
    if seed == "occlusion":
        assert ids[int(uv[4, 1]), int(uv[4, 0])] == 0 and (ids == 4).any()


def test_metal_shows_a_brighter_highlight_than_rubber() -> None:
    objects = [ObjectInfo(0, "blue", "metal", "sphere"), ObjectInfo(1, "blue", "rubber", "sphere")]
    place, gone = np.array([0.5, 0.3, 0.2]), np.full(3, np.nan)
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (2, 1))
    with SceneRenderer(objects) as r:
        metal_rgb, metal_ids = r.render(np.stack([place, gone]), quat)
        rubber_rgb, rubber_ids = r.render(np.stack([gone, place]), quat)
    metal = metal_rgb[metal_ids == 0].min(axis=1)  # whiteness: the darkest channel
    rubber = rubber_rgb[rubber_ids == 1].min(axis=1)
    assert len(metal) == len(rubber) > 1000
    assert np.percentile(metal, 99.5) > np.percentile(rubber, 99.5) + 60


@pytest.mark.parametrize("color", ["gray", "yellow", "red"])
@pytest.mark.parametrize("shape", ["cube", "cylinder"])
def test_metal_flat_faces_look_unlike_rubber(shape: str, color: str) -> None:
    """Material must be visible on flat faces too, not only in a sphere's highlight: away from its
    highlights (the median pixel) a metal cube or cylinder is clearly darker than the rubber one
    at every yaw (with highlights alone, the two medians were within 3 %)."""
    objects = [ObjectInfo(0, color, "metal", shape), ObjectInfo(1, color, "rubber", shape)]
    place, gone = np.array([0.5, 0.3, 0.2]), np.full(3, np.nan)
    with SceneRenderer(objects) as r:
        for yaw in np.linspace(0.0, np.pi / 2, 4):
            quat = _yaw_quaternions(np.full(2, yaw))
            metal_rgb, metal_ids = r.render(np.stack([place, gone]), quat)
            rubber_rgb, rubber_ids = r.render(np.stack([gone, place]), quat)
            metal = np.median(metal_rgb[metal_ids == 0].astype(float).sum(axis=1))
            rubber = np.median(rubber_rgb[rubber_ids == 1].astype(float).sum(axis=1))
            assert metal < 0.8 * rubber, (yaw, metal, rubber)


def test_removed_objects_are_hidden(renderer: SceneRenderer) -> None:
    positions = SCENE_POS.copy()
    positions[[1, 4]] = np.nan
    rgb, ids = renderer.render(positions, SCENE_QUAT)
    assert set(np.unique(ids)) == {-1, 0, 2, 3, 5}
    # The image is the one of a scene that never had them.
    kept = [0, 2, 3, 5]
    with SceneRenderer([OBJECTS[k] for k in kept]) as r:
        rgb_without, ids_without = r.render(SCENE_POS[kept], SCENE_QUAT[kept])
    assert rgb.tobytes() == rgb_without.tobytes() and ids.tobytes() == ids_without.tobytes()


def test_small_camera_renders_at_its_size() -> None:
    with SceneRenderer(OBJECTS, SMALL_CAMERA) as r:
        rgb, ids = r.render(SCENE_POS, SCENE_QUAT)
    assert rgb.shape == (160, 240, 3) and ids.shape == (160, 240)
    uv = SMALL_CAMERA.project(SCENE_POS)
    for k, obj in enumerate(OBJECTS):
        assert ids[int(uv[k, 1]), int(uv[k, 0])] == obj.id


def test_bad_inputs_raise_config_error(renderer: SceneRenderer) -> None:
    with pytest.raises(ConfigError, match="principal point"):
        SceneRenderer(OBJECTS, Camera(cx=200.0))
    with pytest.raises(ConfigError, match="color 'pink'"):
        SceneRenderer([ObjectInfo(0, "pink", "metal", "cube")])
    with pytest.raises(ConfigError, match="shape 'cone'"):
        SceneRenderer([ObjectInfo(0, "red", "metal", "cone")])
    with pytest.raises(ConfigError, match=r"position \(6, 3\)"):
        renderer.render(SCENE_POS[:5], SCENE_QUAT[:5])
