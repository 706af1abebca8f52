"""Fitting engine parameters to tracks, and predictive / counterfactual worlds from the fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from physreason.datasets.camera import CLEVRER_CAMERA
from physreason.datasets.generator.generate import observation_from_rollout
from physreason.datasets.generator.scene import sample_scene
from physreason.datasets.records import Change, Observation, Track
from physreason.datasets.vocab import N_FUTURE_FRAMES, N_OBSERVED_FRAMES, OBJECT_RADIUS
from physreason.errors import ConfigError
from physreason.physics.fit import fit_observation
from physreason.physics.rollout import predict, simulate_world


@pytest.fixture(scope="module")
def scene_and_fit():
    scene = sample_scene(2, 7)
    obs = observation_from_rollout(2, scene, scene.rollout, CLEVRER_CAMERA, N_OBSERVED_FRAMES)
    return scene, obs, fit_observation(obs)


def _with_tracks(obs: Observation, tracks: list[Track], collisions: tuple | None = None) -> Observation:
    return Observation(obs.scene_index, obs.objects, tuple(tracks),
                       obs.collisions if collisions is None else collisions, obs.n_frames, obs.camera)


def test_fit_on_ground_truth_tracks_predicts_the_future(scene_and_fit) -> None:
    scene, obs, fit = scene_and_fit
    assert fit.residuals.shape == (len(scene.objects),) and np.all(fit.residuals < 0.1)
    assert fit.fitted.all()
    world = predict(obs, fit)
    assert world.kind == "factual" and world.observation.n_frames == N_OBSERVED_FRAMES + N_FUTURE_FRAMES
    pred = np.stack([tr.xy for tr in world.observation.tracks], axis=1)[N_OBSERVED_FRAMES:]
    truth = scene.rollout.position[N_OBSERVED_FRAMES:, :, :2]
    visible = np.array([tr.visible[-1] for tr in obs.tracks])
    err = np.linalg.norm(pred - truth, axis=2)[:, visible] / OBJECT_RADIUS
    assert err.mean() < 0.5, err.mean()
    observed_pairs = {e.objects for e in scene.rollout.collisions if e.frame < N_OBSERVED_FRAMES - 5}
    assert observed_pairs <= {e.objects for e in world.observation.collisions}
    # masses are ratios: their geometric mean is 1
    masses = np.array([p.mass for p in fit.params.objects])
    assert abs(np.log(masses).mean()) < 1e-6


def test_counterfactual_worlds_remove_and_change_objects(scene_and_fit) -> None:
    scene, obs, fit = scene_and_fit
    total = N_OBSERVED_FRAMES + N_FUTURE_FRAMES
    factual = simulate_world(scene.objects, fit.params, total, CLEVRER_CAMERA)
    assert factual.kind == "factual"
    removed = simulate_world(scene.objects, fit.params, total, CLEVRER_CAMERA, removed=0)
    assert removed.kind == "counterfactual" and removed.removed == 0
    assert not removed.observation.tracks[0].visible.any()
    assert all(0 not in e.objects for e in removed.observation.collisions)
    heavier = simulate_world(scene.objects, fit.params, total, CLEVRER_CAMERA,
                             changes=(Change(0, "mass", 50.0 * fit.params.objects[0].mass),))
    assert heavier.changes[0].parameter == "mass"
    assert not np.allclose(heavier.observation.tracks[1].position, factual.observation.tracks[1].position)
    with pytest.raises(ConfigError, match="remove object 9"):
        simulate_world(scene.objects, fit.params, total, CLEVRER_CAMERA, removed=9)
    with pytest.raises(ConfigError, match="mass"):
        simulate_world(scene.objects, fit.params, total, CLEVRER_CAMERA, changes=(Change(0, "mass", -1.0),))


def test_nan_and_never_visible_objects_are_flagged(scene_and_fit) -> None:
    _, obs, _ = scene_and_fit
    tracks = list(obs.tracks)
    pos = tracks[0].position.copy()
    pos[10:14] = np.nan
    tracks[0] = replace(tracks[0], position=pos)
    tracks[1] = replace(tracks[1], visible=np.zeros(obs.n_frames, bool))
    fit = fit_observation(_with_tracks(obs, tracks))
    assert fit.quality == "poor"
    assert any("NaN" in f for f in fit.flags)
    assert any("[1]" in f and "fewer than 2 frames" in f for f in fit.flags)
    assert not fit.fitted[1] and np.isnan(fit.residuals[1])
    assert np.all(np.isfinite([p.position for p in fit.params.objects]))


def test_no_collision_and_nothing_visible(scene_and_fit) -> None:
    _, obs, _ = scene_and_fit
    fit = fit_observation(_with_tracks(obs, list(obs.tracks), collisions=()))
    assert fit.quality == "poor" and any("no collisions" in f for f in fit.flags)
    hidden = [replace(tr, visible=np.zeros(obs.n_frames, bool)) for tr in obs.tracks]
    with pytest.raises(ConfigError, match="no object is observed"):
        fit_observation(_with_tracks(obs, hidden))


def test_cli_fit_and_simulate(scene_and_fit, tmp_path, capsys) -> None:
    from physreason.cli import main
    from physreason.datasets import files

    scene, obs, _ = scene_and_fit
    annotation, params, world = tmp_path / "annotation.json", tmp_path / "params.json", tmp_path / "world.json"
    files.write_annotation(annotation, obs)
    assert main(["fit", str(annotation), "--out", str(params)]) == 0
    fitted = files.read_physics(params)
    assert len(fitted.objects) == len(scene.objects)
    name = scene.objects[0].describe()
    assert main(["simulate", str(annotation), "--params", str(params), "--remove", name, "--out", str(world)]) == 0
    out = capsys.readouterr().out
    assert "colliding pairs before" in out
    result = files.read_world(world)
    assert result.kind == "counterfactual" and result.removed == 0
    assert main(["simulate", str(annotation), "--params", str(params), "--set", f"{name} mass=3.0",
                 "--out", str(world)]) == 0
    assert files.read_world(world).changes[0].value == 3.0
    assert main(["simulate", str(annotation), "--params", str(params), "--remove", "purple glass thing",
                 "--out", str(world)]) == 2
    assert "exactly one object" in capsys.readouterr().err
    assert main(["simulate", str(annotation), "--params", str(params), "--out", str(world)]) == 2


def _shared_scene():
    """Four objects (two materials), every contact type, collisions within 60 frames."""
    from physreason.datasets.records import ObjectInfo, ObjectParams, PhysicsParams
    from physreason.physics.model import Model

    specs = [("cube", "metal", 2.0, 0.8, 0.03, (0.0, 0.05), (2.0, 0.0), 0.3),
             ("sphere", "rubber", 1.0, 0.7, 0.02, (1.0, 0.0), (0.0, 0.0), 0.0),
             ("cylinder", "metal", 2.5, 0.9, 0.03, (2.0, 0.5), (0.0, -0.3), 0.0),
             ("cube", "rubber", 1.2, 0.6, 0.025, (1.5, -1.0), (0.3, 1.2), 0.7)]
    objects = [ObjectInfo(k, c, s[1], s[0]) for k, (s, c) in enumerate(zip(specs, ("gray", "red", "blue", "green")))]
    params = PhysicsParams(0, tuple(ObjectParams(k, s[2], s[3], s[4], 0.006, s[5], s[6], s[7])
                                    for k, s in enumerate(specs)), (), "test")
    return objects, Model.from_params(objects, params)


def _central_differences(func, theta: np.ndarray, indices, eps: float = 1e-6) -> np.ndarray:
    out = []
    for i in indices:
        plus, minus = theta.copy(), theta.copy()
        plus[i] += eps
        minus[i] -= eps
        out.append((func(plus)[0] - func(minus)[0]) / (2 * eps))
    return np.array(out)


def test_shared_parameters_map_objects_to_slots_with_exact_gradients() -> None:
    from physreason.physics.engine import rollout
    from physreason.physics.fit import Problem, Sharing, WindowProblem

    objects, model = _shared_scene()
    sharing = Sharing.of(objects, "material")
    assert sharing.index.tolist() == [0, 1, 0, 1] and sharing.n_slots == 2
    assert Sharing.of(objects, "material_shape").index.tolist() == [0, 1, 2, 3]
    assert Sharing.of(objects, (0, 0, 1, 1)).n_slots == 2
    with pytest.raises(ConfigError, match="share"):
        Sharing.of(objects, (0, 2, 0, 0))
    with pytest.raises(ConfigError, match="share"):
        Sharing.of(objects, "colour")
    grad = np.arange(8.0).reshape(2, 4)
    assert np.array_equal(sharing.reduce(grad), [[2.0, 4.0], [10.0, 12.0]])
    assert np.array_equal(sharing.expand(np.array([5.0, 7.0])), [5.0, 7.0, 5.0, 7.0])

    state = rollout(model, 50, precision="float64")
    assert len(state.collisions[0]) >= 2
    target = state.position + np.random.default_rng(1).normal(0.0, 0.03, state.position.shape)
    weight = np.full(target.shape[:3], 1.0 / target[0, :, :, 0].size)
    # mass and restitution slots through the window problem (one window, one start)
    window = WindowProblem(model, 1, target, weight, "float64", sharing)
    theta = window.pack(np.array([[0.2, -0.3]]), np.array([[0.75, 0.85]]), model)
    _, g = window.value_and_grad(theta)
    fd = _central_differences(window.value_and_grad, theta, range(4))
    assert np.abs(g[:4] - fd).max() / np.abs(fd).max() < 1e-5
    # friction slots through the state problem, collisions on
    problem = Problem(model, ("velocity", "friction"), target, weight, True, "float64", sharing)
    theta = problem.pack(model)
    assert theta.size == 8 + 2
    _, g = problem.value_and_grad(theta)
    fd = _central_differences(problem.value_and_grad, theta, range(theta.size))
    assert np.abs(g - fd).max() / np.abs(fd).max() < 1e-5
    assert np.allclose(problem.unpack(theta).friction[0], [0.03, 0.0225, 0.03, 0.0225])


def test_fit_with_parameters_shared_per_material(scene_and_fit) -> None:
    from physreason.physics.fit import FitConfig

    scene, obs, _ = scene_and_fit
    fit = fit_observation(obs, FitConfig(share="material"))
    for attr in ("mass", "restitution", "friction"):
        values: dict[str, set] = {}
        for o, p in zip(scene.objects, fit.params.objects):
            values.setdefault(o.material, set()).add(round(getattr(p, attr), 9))
        assert all(len(v) == 1 for v in values.values()), attr


def test_counterfactual_worlds_are_anchored_on_the_observation(scene_and_fit) -> None:
    from physreason.physics.rollout import counterfactual_worlds

    scene, obs, fit = scene_and_fit
    total = N_OBSERVED_FRAMES + N_FUTURE_FRAMES
    n = len(scene.objects)
    worlds = counterfactual_worlds(obs, fit, [(None, ())] + [(k, ()) for k in range(n)], total)
    assert [w.removed for w in worlds] == [None] + list(range(n))
    assert worlds[0].kind == "factual" and all(w.kind == "counterfactual" for w in worlds[1:])
    for k, world in enumerate(worlds[1:]):
        assert world.observation.n_frames == total
        assert not world.observation.tracks[k].visible.any()
        assert all(k not in e.objects for e in world.observation.collisions)
    # collisions observed before the removed object's first contact stay as observed
    first = min(e.frame for e in obs.collisions)
    hitter = next(e for e in obs.collisions if e.frame == first).objects
    other = next(k for k in range(n) if k not in hitter and all(
        k not in e.objects or e.frame > first + 10 for e in obs.collisions))
    assert hitter in {e.objects for e in worlds[1 + other].observation.collisions}
    with pytest.raises(ConfigError, match="remove object 9"):
        counterfactual_worlds(obs, fit, [(9, ())], total)


def test_predictions_layout_round_trips(scene_and_fit, tmp_path) -> None:
    from physreason.physics.predictions import predictions_json, read_predictions, write_predictions
    from physreason.physics.rollout import counterfactual_worlds

    scene, obs, fit = scene_and_fit
    n = len(scene.objects)
    worlds = [predict(obs, fit)] + counterfactual_worlds(obs, fit, [(k, ()) for k in range(n)])
    doc = predictions_json(obs.scene_index, obs.objects, worlds)
    assert [p["what_if"] for p in doc["predictions"]] == [-1] + list(range(n))
    assert set(doc["objects"][0]) == {"color", "material", "shape", "id"}
    entry = doc["predictions"][0]
    assert len(entry["trajectory"]) == N_OBSERVED_FRAMES + N_FUTURE_FRAMES
    assert set(entry["trajectory"][0]["objects"][0]) == {"x", "y", "color", "material", "shape"}
    assert all(len(c["objects"]) == 2 and "frame" in c for c in entry["collisions"])
    path = tmp_path / "sim_00002.json"
    write_predictions(path, obs.scene_index, obs.objects, worlds)
    back = read_predictions(path)
    assert back.objects == obs.objects and back.scene_index == obs.scene_index
    for world, read in zip(worlds, back.worlds):
        assert read.what_if == (-1 if world.removed is None else world.removed)
        assert [(e.frame, e.objects) for e in read.collisions] == [(e.frame, e.objects)
                                                                   for e in world.observation.collisions]
        xy = np.stack([tr.xy for tr in world.observation.tracks], axis=1)
        vis = np.stack([tr.visible for tr in world.observation.tracks], axis=1)
        assert np.array_equal(np.isfinite(read.position[..., 0]), vis)
        assert np.allclose(read.position[vis], xy[vis])


def test_cli_simulate_writes_predictions(scene_and_fit, tmp_path, capsys) -> None:
    from physreason.cli import main
    from physreason.datasets import files
    from physreason.physics.predictions import read_predictions

    scene, obs, fit = scene_and_fit
    annotation, params, out = tmp_path / "annotation.json", tmp_path / "params.json", tmp_path / "sim.json"
    files.write_annotation(annotation, obs)
    files.write_physics(params, fit.params)
    assert main(["simulate", str(annotation), "--params", str(params), "--predictions", str(out)]) == 0
    assert "predictions" in capsys.readouterr().out
    assert [w.what_if for w in read_predictions(out).worlds] == [-1] + list(range(len(scene.objects)))
    assert main(["simulate", str(annotation), "--params", str(params)]) == 2
