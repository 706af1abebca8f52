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
