"""CLEVR-style offscreen rendering of a scene's objects with MuJoCo, with per-pixel instance ids.

Each scene becomes a small MuJoCo model (built from an XML string): the objects are mocap
bodies whose poses are set per frame (no dynamics), on a large gray ground plane, lit by a key
light casting filtered (soft-edged) shadows from a 2048² shadow map, a fill light and a back
light, with 8× multisampling. The fixed camera reproduces
:class:`~physreason.datasets.camera.Camera` exactly: a pixel at row ``r``, column ``c`` covers
``u`` in [c, c + 1) and ``v`` in [r, r + 1) of :meth:`Camera.project`'s pixel coordinates.

Two passes are rendered per frame from one scene update: the shaded RGB image and MuJoCo's
segmentation image (never multisampled), whose geom ids map to object ids (-1 for the floor).
One OpenGL context (EGL; Mesa's software rasteriser on a CPU machine) lives as long as the
:class:`SceneRenderer`, and the same poses always give byte-identical images.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from collections.abc import Sequence  # noqa: E402
from types import TracebackType  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from physreason.datasets.camera import CLEVRER_CAMERA, Camera  # noqa: E402
from physreason.datasets.records import ObjectInfo  # noqa: E402
from physreason.datasets.shapes import get_shape  # noqa: E402
from physreason.datasets.vocab import COLOR_RGB, MATERIALS  # noqa: E402
from physreason.errors import ConfigError  # noqa: E402

HIDDEN_Z = -1000.0
"""Height (world units) to which removed objects are moved: under the floor, beyond the far plane."""

# Lights: (azimuth from +x towards +y, elevation) of the source in degrees, diffuse and specular
# intensities. The camera looks from +x, so the key light is front-right and shadows fall back-left.
KEY, KEY_INTENSITY, KEY_SPECULAR = (50.0, 45.0), 0.5, 0.7
FILL, FILL_INTENSITY, FILL_SPECULAR = (-60.0, 40.0), 0.2, 0.3
BACK, BACK_INTENSITY, BACK_SPECULAR = (180.0, 35.0), 0.18, 0.6
_VIEW_CENTRE = (-1.5, 0.0, 0.0)
_LIGHT_DISTANCE = 8.0
_FLOOR_RGBA = "0.6 0.6 0.6 1"
HEADLIGHT_SPECULAR = 0.5
"""Specular intensity of the camera's headlight: faces turned towards the camera glint if glossy."""
METAL_DIFFUSE = 0.6
"""Metal's diffuse colour relative to its color's RGB. CLEVRER's metal is a dark, saturated base
under bright reflections, so that a metal object reads as metal from any side; MuJoCo's classic
renderer mirrors only planes, so the darker base and strong highlights stand in for reflections
(with highlights alone, flat faces of metal cubes and cylinders looked like rubber)."""
_MATERIAL_XML = {
    # Metal: strong highlights, broad enough to reach flat faces at many angles (they sharpen
    # with tessellation, hence the fine numslices/numstacks).
    "metal": 'specular="1" shininess="0.4"',
    # Rubber: matte, a faint broad sheen.
    "rubber": 'specular="0.05" shininess="0.05"',
}
_DIFFUSE = {"metal": METAL_DIFFUSE, "rubber": 1.0}


def _gl_context(width: int, height: int) -> mujoco.GLContext:
    """An offscreen OpenGL context of MUJOCO_GL's backend, even if mujoco was imported before it was set."""
    backend = os.environ.get("MUJOCO_GL", "").lower()
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        GLContext = mujoco.GLContext
    return GLContext(width, height)


def _vec(values: Sequence[float] | np.ndarray) -> str:
    return " ".join(f"{float(x):.9g}" for x in values)


def _check_inputs(objects: Sequence[ObjectInfo], camera: Camera) -> None:
    if camera.cx != camera.width / 2 or camera.cy != camera.height / 2:
        raise ConfigError(f"camera principal point ({camera.cx}, {camera.cy}) must be the image centre "
                          f"({camera.width / 2}, {camera.height / 2}) for the MuJoCo renderer")
    for obj in objects:
        if obj.color not in COLOR_RGB:
            raise ConfigError(f"object {obj.id}: unknown color '{obj.color}' (expected one of {', '.join(COLOR_RGB)})")
        if obj.material not in MATERIALS:
            raise ConfigError(f"object {obj.id}: unknown material '{obj.material}' "
                              f"(expected one of {', '.join(MATERIALS)})")
        get_shape(obj.shape)  # raises ConfigError for an unknown shape
    ids = [obj.id for obj in objects]
    if len(set(ids)) != len(ids) or not all(0 <= i <= np.iinfo(np.int16).max for i in ids):
        raise ConfigError(f"object ids must be unique and fit in int16, got {ids}")


def _direction(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit vector along which light travels, from a source at ``azimuth`` (from +x towards +y)
    and ``elevation`` above the horizon (degrees)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def _light_xml(name: str, direction: np.ndarray, intensity: float, specular: float, shadow: bool) -> str:
    # A directional light's shadow map is centred on the line through its position: aim it at
    # the middle of the visible table.
    pos = np.asarray(_VIEW_CENTRE) - _LIGHT_DISTANCE * direction
    return (f'<light name="{name}" type="directional" pos="{_vec(pos)}" dir="{_vec(direction)}" '
            f'castshadow="{str(shadow).lower()}" diffuse="{_vec([intensity] * 3)}" '
            f'specular="{_vec([specular] * 3)}" ambient="0 0 0"/>')


def _lights_xml() -> str:
    """Key light (the only one casting shadows), fill light and back light."""
    return "\n    ".join([_light_xml("key", _direction(*KEY), KEY_INTENSITY, KEY_SPECULAR, True),
                          _light_xml("fill", _direction(*FILL), FILL_INTENSITY, FILL_SPECULAR, False),
                          _light_xml("back", _direction(*BACK), BACK_INTENSITY, BACK_SPECULAR, False)])


def _geom_xml(obj: ObjectInfo) -> str:
    spec = get_shape(obj.shape)
    if obj.shape == "sphere":
        kind, size = "sphere", f"{spec.half_size:.9g}"
    elif obj.shape == "cylinder":
        kind, size = "cylinder", f"{spec.half_size:.9g} {0.5 * spec.height:.9g}"
    else:
        kind, size = "box", f"{spec.half_size:.9g} {spec.half_size:.9g} {0.5 * spec.height:.9g}"
    return f'<geom type="{kind}" size="{size}" material="object{obj.id}"/>'


def scene_xml(objects: Sequence[ObjectInfo], camera: Camera = CLEVRER_CAMERA) -> str:
    """The MJCF model of a scene: objects as mocap bodies at the origin, floor, lights, camera."""
    _check_inputs(objects, camera)
    rot = camera.rotation  # rows: right, down, forward
    xyaxes = np.concatenate([rot[0], -rot[1]])
    materials = "\n".join(
        f'<material name="object{o.id}" rgba="{_vec(_DIFFUSE[o.material] * np.asarray(COLOR_RGB[o.color]) / 255.0)} 1" '
        f'{_MATERIAL_XML[o.material]}/>' for o in objects)
    bodies = "\n".join(f'<body name="object{o.id}" mocap="true">{_geom_xml(o)}</body>' for o in objects)
    return f"""
<mujoco model="clevrer_scene">
  <statistic center="-1.5 0 0" extent="5"/>
  <visual>
    <global offwidth="{camera.width}" offheight="{camera.height}" fovy="{camera.fovy_degrees:.12g}"/>
    <quality shadowsize="2048" offsamples="8" numslices="64" numstacks="32"/>
    <headlight active="1" ambient="0.4 0.4 0.4" diffuse="0 0 0" specular="{_vec([HEADLIGHT_SPECULAR] * 3)}"/>
    <map znear="0.01" zfar="100" shadowclip="1" haze="0"/>
    <rgba haze="0 0 0 1"/>
  </visual>
  <asset>
    <material name="floor" rgba="{_FLOOR_RGBA}" specular="0" shininess="0" reflectance="0"/>
    {materials}
  </asset>
  <worldbody>
    {_lights_xml()}
    <camera name="view" pos="{_vec(camera.position)}" xyaxes="{_vec(xyaxes)}"
            fovy="{camera.fovy_degrees:.12g}"/>
    <geom name="floor" type="plane" size="60 60 0.1" material="floor"/>
    {bodies}
  </worldbody>
</mujoco>
"""


class SceneRenderer:
    """Renders one scene's objects (a fixed set) at given poses, with instance ids.

    ``objects``: the scene's objects (ids need not be contiguous); ``camera``: a pinhole camera
    whose principal point is the image centre. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, objects: Sequence[ObjectInfo], camera: Camera = CLEVRER_CAMERA) -> None:
        self.objects = tuple(objects)
        self.camera = camera
        self._model = mujoco.MjModel.from_xml_string(scene_xml(self.objects, camera))
        self._data = mujoco.MjData(self._model)
        self._gl = _gl_context(camera.width, camera.height)
        self._gl.make_current()
        self._context = mujoco.MjrContext(self._model, mujoco.mjtFontScale.mjFONTSCALE_50.value)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN.value, self._context)
        self._scene = mujoco.MjvScene(self._model, maxgeom=self._model.ngeom + 8)
        self._option = mujoco.MjvOption()
        self._view = mujoco.MjvCamera()
        self._view.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._view.fixedcamid = 0
        self._rect = mujoco.MjrRect(0, 0, camera.width, camera.height)
        # Object id of every model geom (-1 for the floor); a segmentation colour encodes segid + 1.
        self._geom_object = np.full(self._model.ngeom, -1, dtype=np.int16)
        for obj in self.objects:
            self._geom_object[self._model.body_geomadr[self._model.body(f"object{obj.id}").id]] = obj.id
        self._rgb_buffer = np.empty((camera.height, camera.width, 3), dtype=np.uint8)
        self._seg_buffer = np.empty((camera.height, camera.width, 3), dtype=np.uint8)
        self._closed = False

    def render(self, position: np.ndarray, quaternion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Render one frame.

        ``position`` (N, 3) world centres (a NaN row removes that object from the image),
        ``quaternion`` (N, 4) orientations as x, y, z, w; rows follow ``objects``.
        Returns rgb uint8 (H, W, 3) and ids int16 (H, W): object id per pixel, -1 for background.
        """
        rgb = np.empty((self.camera.height, self.camera.width, 3), dtype=np.uint8)
        ids = np.empty((self.camera.height, self.camera.width), dtype=np.int16)
        self._render_into(position, quaternion, rgb, ids)
        return rgb, ids

    def _render_into(self, position: np.ndarray, quaternion: np.ndarray, rgb: np.ndarray, ids: np.ndarray) -> None:
        if self._closed:
            raise RuntimeError("SceneRenderer.render called after close()")
        n = len(self.objects)
        pos = np.asarray(position, dtype=float)
        quat = np.asarray(quaternion, dtype=float)
        if pos.shape != (n, 3) or quat.shape != (n, 4):
            raise ConfigError(f"expected position ({n}, 3) and quaternion ({n}, 4), got {pos.shape} and {quat.shape}")
        hidden = np.isnan(pos).any(axis=1)
        self._data.mocap_pos[:] = np.where(hidden[:, None], (0.0, 0.0, HIDDEN_Z), pos)
        self._data.mocap_quat[:] = np.where(hidden[:, None], (1.0, 0.0, 0.0, 0.0), quat[:, [3, 0, 1, 2]])
        mujoco.mj_kinematics(self._model, self._data)
        mujoco.mj_camlight(self._model, self._data)
        self._gl.make_current()
        mujoco.mjv_updateScene(self._model, self._data, self._option, None, self._view,
                               mujoco.mjtCatBit.mjCAT_ALL.value, self._scene)
        mujoco.mjr_render(self._rect, self._scene, self._context)
        mujoco.mjr_readPixels(self._rgb_buffer, None, self._rect, self._context)
        flags = self._scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = 1
        flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 1
        try:
            mujoco.mjr_render(self._rect, self._scene, self._context)
            mujoco.mjr_readPixels(self._seg_buffer, None, self._rect, self._context)
        finally:
            flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = 0
            flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = 0
        # Segmentation colour (r, g, b) = segid + 1 in base 256; segid indexes the scene's geoms.
        ngeom = self._scene.ngeom
        lut = np.full(ngeom + 1, -1, dtype=np.int16)
        for g in self._scene.geoms[:ngeom]:
            if g.segid >= 0 and g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
                lut[g.segid + 1] = self._geom_object[g.objid]
        seg = self._seg_buffer[::-1]
        code = seg[..., 0].astype(np.int32)
        if ngeom >= 255:
            code |= seg[..., 1].astype(np.int32) << 8 | seg[..., 2].astype(np.int32) << 16
        np.take(lut, code, out=ids)
        rgb[:] = self._rgb_buffer[::-1]

    def close(self) -> None:
        """Free the OpenGL context and MuJoCo's render resources (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._gl.as_current():
            self._context.free()
        self._gl.free()

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def render_video(objects: Sequence[ObjectInfo], positions: np.ndarray, quaternions: np.ndarray,
                 camera: Camera = CLEVRER_CAMERA) -> tuple[np.ndarray, np.ndarray]:
    """Render T frames with one renderer.

    ``positions`` (T, N, 3) world centres (NaN rows: removed objects), ``quaternions`` (T, N, 4)
    as x, y, z, w. Returns rgb uint8 (T, H, W, 3) and ids int16 (T, H, W), -1 for background.
    """
    pos = np.asarray(positions, dtype=float)
    quat = np.asarray(quaternions, dtype=float)
    if pos.ndim != 3 or quat.ndim != 3 or len(pos) != len(quat):
        raise ConfigError(f"expected positions (T, N, 3) and quaternions (T, N, 4), got {pos.shape} and {quat.shape}")
    rgb = np.empty((len(pos), camera.height, camera.width, 3), dtype=np.uint8)
    ids = np.empty((len(pos), camera.height, camera.width), dtype=np.int16)
    with SceneRenderer(objects, camera) as renderer:
        for t in range(len(pos)):
            renderer._render_into(pos[t], quat[t], rgb[t], ids[t])
    return rgb, ids
