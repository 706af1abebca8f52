"""The Taichi engine: gradients vs finite differences, agreement with the pybullet reference,
determinism, batching and collision events."""

from __future__ import annotations

import numpy as np
import pytest

from physreason.datasets.generator.simulate import ENGINE, ENGINE_CONSTANTS, simulate
from physreason.datasets.records import ObjectInfo, ObjectParams, PhysicsParams
from physreason.errors import ConfigError
from physreason.physics.engine import loss_and_grad, rollout
from physreason.physics.model import PARAMETERS, Model

COLORS = ("gray", "red", "blue", "green", "brown", "yellow")


def scene(*specs: tuple) -> tuple[list[ObjectInfo], PhysicsParams]:
    """Objects and params from (shape, mass, restitution, friction, rolling, position, velocity, yaw)."""
    objects = [ObjectInfo(k, COLORS[k], "rubber", s[0]) for k, s in enumerate(specs)]
    params = tuple(ObjectParams(k, *s[1:]) for k, s in enumerate(specs))
    return objects, PhysicsParams(0, params, ENGINE_CONSTANTS, ENGINE)


MIXED = scene(("cube", 1.0, 0.8, 0.03, 0.005, (0.0, 0.05), (2.0, 0.0), 0.3),
              ("sphere", 2.0, 0.7, 0.02, 0.006, (1.0, 0.0), (0.0, 0.0), 0.0),
              ("cylinder", 1.5, 0.9, 0.03, 0.005, (2.0, 0.5), (0.0, -0.3), 0.0),
              ("cube", 2.5, 0.6, 0.025, 0.005, (1.5, -1.0), (0.3, 1.2), 0.7))
"""Four objects, every contact type, four collisions in 60 frames (one off-centre: spin)."""


def test_gradients_match_central_differences_through_collisions() -> None:
    model = Model.from_params(*MIXED)
    state = rollout(model, 60, precision="float64")
    assert len(state.collisions[0]) >= 3
    rng = np.random.default_rng(0)
    target = state.position + rng.normal(0.0, 0.05, state.position.shape)
    weight = np.ones(target.shape[:3])
    grads = loss_and_grad(model, target, weight, precision="float64").grads
    eps = 1e-6
    for name in PARAMETERS:
        values = getattr(model, name)
        fd = np.zeros_like(values)
        for idx in np.ndindex(values.shape):
            plus, minus = values.copy(), values.copy()
            plus[idx] += eps
            minus[idx] -= eps
            lp = loss_and_grad(model.with_values(**{name: plus}), target, weight, precision="float64",
                               with_grad=False).loss[0]
            lm = loss_and_grad(model.with_values(**{name: minus}), target, weight, precision="float64",
                               with_grad=False).loss[0]
            fd[idx] = (lp - lm) / (2 * eps)
        scale = np.abs(fd).max()
        if scale > 0:
            assert np.abs(grads[name] - fd).max() / scale < 1e-5, name
        assert np.all(np.isfinite(grads[name]))


def _against_reference(objects: list[ObjectInfo], params: PhysicsParams, n_frames: int) -> float:
    ours = rollout(Model.from_params(objects, params), n_frames).position[0]
    ref = simulate(objects, params, n_frames).position[:, :, :2]
    return float(np.abs(ours - ref).max())


def test_lone_sliding_cube_matches_pybullet() -> None:
    objects, params = scene(("cube", 1.0, 0.8, 0.03, 0.005, (0.0, 0.0), (2.0, 0.0), 0.0))
    assert _against_reference(objects, params, 128) < 0.01
    # pybullet's box friction (four contact points) is slightly anisotropic: an oblique slide curves
    objects, params = scene(("cube", 1.0, 0.8, 0.03, 0.005, (0.0, 0.0), (2.0, 0.5), 0.3))
    assert _against_reference(objects, params, 128) < 0.1


def test_rolling_sphere_matches_pybullet() -> None:
    for rolling in (0.005, 0.01):  # below and above the sliding-friction cap
        objects, params = scene(("sphere", 1.0, 0.8, 0.03, rolling, (0.0, 0.0), (1.5, -0.5), 0.0))
        assert _against_reference(objects, params, 128) < 0.02


def test_head_on_collision_matches_pybullet() -> None:
    objects, params = scene(("cube", 1.0, 0.8, 0.03, 0.005, (0.0, 0.0), (2.0, 0.0), 0.0),
                            ("cube", 2.0, 0.8, 0.03, 0.005, (1.0, 0.0), (0.0, 0.0), 0.0))
    assert _against_reference(objects, params, 60) < 0.05
    ours = rollout(Model.from_params(objects, params), 60).collisions[0]
    ref = simulate(objects, params, 60).collisions
    assert [(e.objects, e.frame) for e in ours] == [(e.objects, e.frame) for e in ref]


def test_rollouts_are_deterministic_and_batches_match_single_scenes() -> None:
    single = Model.from_params(*MIXED)
    a, b = rollout(single, 80), rollout(single, 80)
    assert np.array_equal(a.position, b.position) and a.collisions == b.collisions
    lone = Model.from_params(*scene(("sphere", 1.0, 0.8, 0.03, 0.005, (0.0, 0.0), (1.0, 0.0), 0.0)))
    batch = rollout(Model.stack([lone, single]), 80)
    assert np.array_equal(batch.position[1], a.position[0])
    assert np.isnan(batch.position[0, :, 1:]).all()  # padding objects are inactive


def test_collisions_are_recorded_with_frames_and_removal_changes_them() -> None:
    objects, params = MIXED
    events = rollout(Model.from_params(objects, params), 80).collisions[0]
    pairs = [e.objects for e in events]
    assert (0, 1) in pairs and all(i < j for i, j in pairs)
    assert [e.frame for e in events] == sorted(e.frame for e in events)
    without = rollout(Model.from_params(objects, params, removed=(0,)), 80).collisions[0]
    assert all(0 not in e.objects for e in without) and (0, 1) not in [e.objects for e in without]


def test_contact_flags_are_symmetric_and_cover_every_collision() -> None:
    state = rollout(Model.from_params(*MIXED), 80)
    contact = state.contact[0]
    assert contact.shape == (80, 4, 4) and not contact[0].any()
    assert np.array_equal(contact, np.swapaxes(contact, 1, 2))
    for e in state.collisions[0]:
        i, j = e.objects
        assert contact[e.frame:e.frame + 2, i, j].any() and not contact[max(0, e.frame - 2):e.frame, i, j].any()


def test_predicted_contact_chatter_is_one_collision() -> None:
    from physreason.datasets.records import Event
    from physreason.datasets.vocab import OBJECT_RADIUS
    from physreason.physics.rollout import SEPARATION, _new_collisions
    frames = 40
    position = np.zeros((frames, 2, 2))
    gap = np.full(frames, 2 * OBJECT_RADIUS)  # touching, then chattering from frame 10 on ...
    gap[30:] += 2 * SEPARATION  # ... then apart, and back in contact at frame 36
    gap[36:] = 2 * OBJECT_RADIUS
    position[:, 1, 0] = gap
    contact = np.zeros((frames, 2, 2), bool)
    for f in (5, 6, 10, 11, 15, 20, 36):
        contact[f, 0, 1] = contact[f, 1, 0] = True
    events = tuple(Event("collision", f, (0, 1)) for f in (5, 10, 15, 20, 36))
    assert [e.frame for e in _new_collisions(contact, position, events, 12)] == [5, 10, 36]
    assert [e.frame for e in _new_collisions(contact, position, events, 0)] == [5, 36]


def test_collisions_can_be_switched_off() -> None:
    state = rollout(Model.from_params(*MIXED), 60, collide=False)
    assert state.collisions == ((),)


def test_bad_input_is_a_clear_error() -> None:
    model = Model.from_params(*MIXED)
    with pytest.raises(ConfigError, match="velocity"):
        rollout(model.with_values(velocity=np.full((1, 4, 2), np.nan)), 10)
    with pytest.raises(ConfigError, match="precision"):
        rollout(model, 10, precision="float16")


def test_off_centre_hit_spins_the_cube_like_pybullet() -> None:
    # the spin, its decay by friction at the cube's corners and the slide it couples to
    objects, params = scene(("sphere", 1.0, 0.9, 0.03, 0.005, (-1.0, 0.15), (2.5, 0.0), 0.0),
                            ("cube", 1.0, 0.9, 0.03, 0.005, (0.0, 0.0), (0.0, 0.0), 0.0))
    ours = rollout(Model.from_params(objects, params), 100)
    ref = simulate(objects, params, 100)
    assert np.abs(ours.position[0] - ref.position[:, :, :2]).max() < 0.06
    turn = ours.yaw[0, :, 1] - ref.orientation[:, 1, 2]
    quarter = np.pi / 2
    assert np.abs((turn[:40] + quarter / 2) % quarter - quarter / 2).max() < 0.3  # square: yaw mod 90°
    assert np.abs(ours.yaw[0, 20, 1]) > 1.0  # it does spin
