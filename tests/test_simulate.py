"""The pybullet reference physics: determinism, collisions, friction, momentum, removed objects."""

from __future__ import annotations

import numpy as np
import pytest

from physreason.datasets.generator.simulate import ENGINE, ENGINE_CONSTANTS, Rollout, engine_constants, simulate
from physreason.datasets.records import ObjectInfo, ObjectParams, PhysicsParams
from physreason.errors import ConfigError

G = 9.81
SMOOTH = {"rolling_friction": 0.001}  # a sphere that rolls on almost without slowing


def make(*specs: dict) -> tuple[list[ObjectInfo], PhysicsParams]:
    """Objects and params from dicts with shape, position, velocity and optional physics."""
    objects, params = [], []
    colors = ("gray", "red", "blue", "green", "brown", "yellow")
    for k, spec in enumerate(specs):
        objects.append(ObjectInfo(k, colors[k], spec.get("material", "rubber"), spec["shape"]))
        params.append(ObjectParams(k, spec.get("mass", 1.0), spec.get("restitution", 0.8),
                                   spec.get("friction", 0.05), spec.get("rolling_friction", 0.005), spec["position"],
                                   spec.get("velocity", (0.0, 0.0)), spec.get("yaw", 0.0)))
    return objects, PhysicsParams(0, tuple(params), ENGINE_CONSTANTS, ENGINE)


def speed(rollout: Rollout, k: int) -> np.ndarray:
    return np.linalg.norm(rollout.velocity[:, k, :2], axis=1)


def test_same_inputs_give_bitwise_identical_rollouts() -> None:
    objects, params = make({"shape": "sphere", "position": (-1.0, 0.1), "velocity": (1.5, 0.0)},
                           {"shape": "cube", "position": (1.0, 0.0), "velocity": (-1.0, 0.2), "yaw": 0.3},
                           {"shape": "cylinder", "position": (0.0, 1.5), "velocity": (0.0, -1.2)},
                           {"shape": "cube", "position": (0.6, -0.5)})  # in the sphere's path after its bounce
    a, b = simulate(objects, params, 100), simulate(objects, params, 100)
    for name in ("position", "quaternion", "orientation", "velocity", "angular_velocity"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    assert a.collisions == b.collisions and len(a.collisions) >= 2
    assert a == b


def test_rollout_shapes_and_initial_state() -> None:
    objects, params = make({"shape": "cube", "position": (0.5, -0.5), "velocity": (1.0, 2.0), "yaw": 0.7})
    r = simulate(objects, params, 10)
    assert r.position.shape == (10, 1, 3) and r.quaternion.shape == (10, 1, 4)
    assert r.orientation.shape == r.velocity.shape == r.angular_velocity.shape == (10, 1, 3)
    np.testing.assert_allclose(r.position[0, 0], (0.5, -0.5, 0.2))
    np.testing.assert_allclose(r.velocity[0, 0, :2], (1.0, 2.0))
    assert r.orientation[0, 0, 2] == pytest.approx(0.7)


def test_head_on_spheres_collide_once_at_the_right_frame() -> None:
    # Listed right-to-left so that the pair must still come out as (0, 1).
    objects, params = make({"shape": "sphere", "position": (0.86, 0.0), "velocity": (-1.5, 0.0), **SMOOTH},
                           {"shape": "sphere", "position": (-0.86, 0.0), "velocity": (1.5, 0.0), **SMOOTH})
    r = simulate(objects, params, 60)
    assert len(r.collisions) == 1
    event = r.collisions[0]
    # Each covers 0.66 units at 1.5 units/s (decelerating at 0.035 units/s²) before the surfaces
    # meet: t = 0.441 s, frame 11.03.
    assert event.kind == "collision" and event.objects == (0, 1)
    assert event.frame == 11
    np.testing.assert_allclose(event.location, (0.0, 0.0, 0.2), atol=0.03)
    # They bounce back apart.
    assert r.velocity[30, 0, 0] > 0 and r.velocity[30, 1, 0] < 0


@pytest.mark.parametrize("shape", ["cube", "cylinder"])
def test_lone_sliding_object_decelerates_at_friction_times_g_and_stops(shape: str) -> None:
    mu, v0 = 0.05, 2.0
    objects, params = make({"shape": shape, "position": (0.0, 0.0), "velocity": (v0 * 0.6, v0 * 0.8), "friction": mu})
    r = simulate(objects, params, 150)
    s = speed(r, 0)
    decel = (s[5] - s[50]) / (45 / 25)
    assert decel == pytest.approx(mu * G, rel=0.05)
    stop = int(np.argmax(s < 1e-3))
    assert stop == pytest.approx(v0 / (mu * G) * 25, abs=4)
    assert np.all(s[stop:] < 1e-3)
    travelled = np.linalg.norm(r.position[-1, 0, :2])
    assert travelled == pytest.approx(v0 ** 2 / (2 * mu * G), rel=0.05)
    tilt = np.abs(r.orientation[:, 0, :2]).max()
    assert tilt < 0.02 and np.abs(r.position[:, 0, 2] - 0.2).max() < 0.01


def test_sphere_starts_rolling_without_slipping_and_slows_by_rolling_friction() -> None:
    rf = 0.01
    objects, params = make({"shape": "sphere", "position": (0.0, 0.0), "velocity": (1.2, -0.9), "rolling_friction": rf})
    r = simulate(objects, params, 100)
    np.testing.assert_allclose(r.angular_velocity[0, 0], (0.9 / 0.2, 1.2 / 0.2, 0.0))
    for f in (0, 20, 40):
        v, w = r.velocity[f, 0], r.angular_velocity[f, 0]
        contact = v + np.cross(w, (0.0, 0.0, -0.2))  # velocity of the point touching the table
        assert np.linalg.norm(contact) < 0.02
    s = speed(r, 0)
    decel = (s[5] - s[45]) / (40 / 25)
    assert decel == pytest.approx(rf * G / (1.4 * 0.2), rel=0.03)


def test_heavier_object_pushes_lighter_one_and_momentum_is_conserved() -> None:
    heavy, light = 3.0, 1.0
    objects, params = make(
        {"shape": "cube", "position": (-1.0, 0.0), "velocity": (2.0, 0.0), "mass": heavy, "friction": 0.01},
        {"shape": "cube", "position": (0.0, 0.0), "mass": light, "friction": 0.01})
    r = simulate(objects, params, 80)
    assert [e.objects for e in r.collisions] == [(0, 1)]
    c = r.collisions[0].frame
    before = heavy * r.velocity[c - 2, 0, :2] + light * r.velocity[c - 2, 1, :2]
    after = heavy * r.velocity[c + 2, 0, :2] + light * r.velocity[c + 2, 1, :2]
    np.testing.assert_allclose(after, before, rtol=0.05, atol=0.05)
    # Both keep going forward, the light one faster.
    assert r.velocity[c + 2, 1, 0] > r.velocity[c + 2, 0, 0] > 0


def test_removed_objects_are_nan_and_cannot_collide() -> None:
    objects, params = make({"shape": "sphere", "position": (-1.0, 0.0), "velocity": (1.5, 0.0), **SMOOTH},
                           {"shape": "cube", "position": (0.5, 0.0)},
                           {"shape": "cylinder", "position": (0.0, 2.0)})
    full = simulate(objects, params, 60)
    assert [e.objects for e in full.collisions] == [(0, 1)]
    r = simulate(objects, params, 60, removed=(1,))
    assert r.collisions == ()
    for name in ("position", "quaternion", "orientation", "velocity", "angular_velocity"):
        arr = getattr(r, name)
        assert np.isnan(arr[:, 1]).all() and not np.isnan(arr[:, [0, 2]]).any()
    assert r.position[-1, 0, 0] > 1.5  # the sphere rolls through where the cube was


def test_engine_constants_are_read_from_params() -> None:
    objects, params = make({"shape": "cube", "position": (0.0, 0.0), "velocity": (2.0, 0.0), "friction": 0.05})
    lower_g = PhysicsParams(0, params.objects, engine_constants(gravity=G / 2), ENGINE)
    s_full, s_half = speed(simulate(objects, params, 30), 0), speed(simulate(objects, lower_g, 30), 0)
    assert (s_half[0] - s_half[25]) == pytest.approx(0.5 * (s_full[0] - s_full[25]), rel=0.05)


def test_bad_inputs_raise_config_errors() -> None:
    objects, params = make({"shape": "cube", "position": (0.0, 0.0)})
    with pytest.raises(ConfigError, match="lacks"):
        simulate(objects, PhysicsParams(0, params.objects), 5)
    with pytest.raises(ConfigError, match="unknown object"):
        simulate(objects, params, 5, removed=(3,))
    with pytest.raises(ConfigError, match="unknown engine constant"):
        engine_constants(gravty=1.0)
    with pytest.raises(ConfigError, match="1/25"):
        simulate(objects, PhysicsParams(0, params.objects, engine_constants(time_step=0.01)), 5)
