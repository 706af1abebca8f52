"""The scene sampler: CLEVRER's rules hold on a batch of sampled scenes, and sampling is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from physreason.datasets.generator.scene import Scene, SceneConfig, sample_scene
from physreason.datasets.generator.simulate import ENGINE, ENGINE_CONSTANTS, simulate
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ConfigError

CONFIG = SceneConfig()
N_SCENES = 20


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    return [sample_scene(i, seed=i, config=CONFIG) for i in range(N_SCENES)]


def visible(scene: Scene) -> np.ndarray:
    """(n_observed, N) whether each object's centre is inside the image."""
    return CONFIG.camera.in_view(scene.rollout.position[:CONFIG.n_observed])


def test_objects_are_3_to_6_with_unique_attribute_triples(scenes: list[Scene]) -> None:
    for scene in scenes:
        assert CONFIG.min_objects <= len(scene.objects) <= CONFIG.max_objects
        assert [o.id for o in scene.objects] == list(range(len(scene.objects)))
        assert len({o.key for o in scene.objects}) == len(scene.objects)
        for o in scene.objects:
            assert o.color in COLORS and o.material in MATERIALS and o.shape in SHAPES
    assert len({len(s.objects) for s in scenes}) >= 3  # the count varies


def test_params_and_rollout_describe_the_whole_scene(scenes: list[Scene]) -> None:
    for k, scene in enumerate(scenes):
        n = len(scene.objects)
        assert scene.params.scene_index == k
        assert [p.object_id for p in scene.params.objects] == list(range(n))
        assert scene.params.engine == ENGINE and scene.params.constants == ENGINE_CONSTANTS
        assert scene.rollout.position.shape == (CONFIG.n_frames, n, 3)
        assert not np.isnan(scene.rollout.position).any()
    # The stored rollout is what the physics file reproduces.
    assert simulate(scenes[0].objects, scenes[0].params, CONFIG.n_frames) == scenes[0].rollout


def test_collisions_follow_clevrer_rules(scenes: list[Scene]) -> None:
    for scene in scenes:
        pairs = [e.objects for e in scene.rollout.collisions]
        assert all(i < j for i, j in pairs)
        assert len(set(pairs)) == len(pairs), "a pair collides twice"
        assert any(e.frame < CONFIG.n_observed for e in scene.rollout.collisions)


def test_every_object_is_seen_and_stays_on_the_table(scenes: list[Scene]) -> None:
    (x0, x1), (y0, y1) = CONFIG.keep_region
    (sx0, sx1), (sy0, sy1) = CONFIG.start_region
    for scene in scenes:
        assert (visible(scene).sum(axis=0) >= CONFIG.min_visible_frames).all()
        pos = scene.rollout.position
        assert ((pos[..., 0] >= x0) & (pos[..., 0] <= x1) & (pos[..., 1] >= y0) & (pos[..., 1] <= y1)).all()
        assert np.abs(pos[..., 2] - 0.2).max() < 0.1
        for p in scene.params.objects:
            assert sx0 <= p.position[0] <= sx1 and sy0 <= p.position[1] <= sy1


def test_start_states_follow_the_recipe(scenes: list[Scene]) -> None:
    for scene in scenes:
        first = scene.params.objects[0]
        assert CONFIG.speed[0] <= np.hypot(*first.velocity) <= CONFIG.speed[1]
        assert visible(scene)[0, 0]
        for p in scene.params.objects:
            s = np.hypot(*p.velocity)
            assert s == 0.0 or CONFIG.speed[0] - 1e-9 <= s <= CONFIG.speed[1] + 1e-9


def test_many_scenes_have_a_collision_in_the_held_out_future(scenes: list[Scene]) -> None:
    n_observed = SceneConfig().n_observed
    with_future = sum(any(e.frame >= n_observed for e in s.rollout.collisions) for s in scenes)
    assert with_future >= 0.45 * len(scenes)


def test_metal_is_heavier_than_rubber(scenes: list[Scene]) -> None:
    masses = {m: [p.mass for s in scenes for o, p in zip(s.objects, s.params.objects) if o.material == m]
              for m in MATERIALS}
    assert min(masses["metal"]) > max(masses["rubber"])
    assert len(set(masses["metal"])) == len(masses["metal"])  # per-object variation


def test_some_objects_enter_the_view_and_some_start_at_rest(scenes: list[Scene]) -> None:
    entering = sum(int((~visible(s)[0] & visible(s).any(axis=0)).sum()) for s in scenes)
    resting = sum(p.velocity == (0.0, 0.0) for s in scenes for p in s.params.objects)
    assert entering >= 3 and resting >= 1


def test_sampling_is_deterministic_and_depends_on_the_index(scenes: list[Scene]) -> None:
    again = sample_scene(3, seed=3, config=CONFIG)
    assert again == scenes[3]
    for name in ("position", "quaternion", "velocity", "angular_velocity"):
        assert getattr(again.rollout, name).tobytes() == getattr(scenes[3].rollout, name).tobytes()
    assert sample_scene(4, seed=3, config=CONFIG).params.objects != again.params.objects


def test_impossible_rules_raise_a_clear_error() -> None:
    strict = SceneConfig(keep_region=((0.0, 0.1), (0.0, 0.1)), candidates=2, add_rounds=1, max_attempts=2)
    with pytest.raises(ConfigError, match="no scene satisfying"):
        sample_scene(0, seed=0, config=strict)


def test_bad_configs_are_rejected() -> None:
    with pytest.raises(ConfigError):
        SceneConfig(min_objects=5, max_objects=4)
    with pytest.raises(ConfigError):
        SceneConfig(speed=(2.0, 1.0))
    with pytest.raises(ConfigError):
        sample_scene(-1, seed=0)
