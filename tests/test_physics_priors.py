"""Per-material priors of the physics fit: learned from fitted videos, used where the data are silent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from physreason.datasets.camera import CLEVRER_CAMERA
from physreason.datasets.layout import DatasetLayout
from physreason.datasets.records import Event, ObjectInfo, ObjectParams, Observation, PhysicsParams, Track
from physreason.errors import ConfigError, FormatError
from physreason.physics.fit import FitConfig, fit_observation
from physreason.physics.priors import ROLL_FACTOR, MaterialPriors, estimate_priors, read_priors, shipped_priors
from tests.cli_run import assert_clean_error, run

N_FRAMES = 64

OBJECTS = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "cylinder"),
           ObjectInfo(2, "green", "metal", "sphere"), ObjectInfo(3, "gray", "rubber", "sphere"))


def _track(i: int, start: tuple[float, float], velocity: tuple[float, float]) -> Track:
    """Object i moving at a constant ``velocity`` (units/s) from ``start``, visible throughout."""
    t = np.arange(N_FRAMES)[:, None] / 25.0
    xy = np.asarray(start) + t * np.asarray(velocity)
    pos = np.column_stack([xy, np.full(N_FRAMES, 0.2)])
    zeros = np.zeros((N_FRAMES, 3))
    return Track(i, pos, zeros, zeros, zeros, np.ones(N_FRAMES, bool))


def _video(index: int, moving: dict[int, tuple[float, float]], collisions: tuple = ()) -> Observation:
    starts = [(-1.5, -1.5), (1.5, -1.5), (-1.5, 1.5), (1.5, 1.5)]
    tracks = tuple(_track(i, starts[i], moving.get(i, (0.0, 0.0))) for i in range(len(OBJECTS)))
    return Observation(index, OBJECTS, tracks, collisions, N_FRAMES, CLEVRER_CAMERA)


def _params(index: int, mass, restitution, friction, rolling) -> PhysicsParams:
    objects = tuple(ObjectParams(i, m, e, f, r, (0.0, 0.0), (0.0, 0.0), 0.0)
                    for i, (m, e, f, r) in enumerate(zip(mass, restitution, friction, rolling)))
    return PhysicsParams(index, objects)


def test_estimate_priors_reads_only_what_the_videos_show() -> None:
    hit = (Event("collision", 40, (0, 1)), Event("collision", 50, (2, 3)))
    fits = [
        # metal cube and rubber cylinder slide freely; spheres roll; all four collide
        (_video(0, {0: (1.0, 0.0), 1: (0.0, 1.0), 2: (0.8, 0.0), 3: (0.0, 0.8)}, hit),
         _params(0, [2.0, 1.0, 3.0, 1.0], [0.7, 0.9, 0.6, 0.8], [0.02, 0.03, 0.5, 0.04], [0.1, 0.1, 0.006, 0.1])),
        # nothing moves, one material collides: says nothing about friction or the mass ratio
        (_video(1, {}, (Event("collision", 10, (0, 2)),)),
         _params(1, [9.0, 1.0, 0.1, 1.0], [0.5, 0.5, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3], [0.05] * 4)),
    ]
    priors = estimate_priors(fits)
    assert priors.videos == 2
    assert priors.friction == pytest.approx({"metal": 0.02, "rubber": 0.03})  # cubes and cylinders only
    # a sphere's deceleration: the lesser of rolling and sliding (0.04 x ROLL_FACTOR for the rubber one)
    assert priors.rolling_friction == pytest.approx({"metal": 0.006, "rubber": 0.04 * ROLL_FACTOR})
    # video 0: metal mean log mass log(sqrt(6)), rubber 0: half the difference either side
    half = 0.5 * np.log(np.sqrt(6.0))
    assert priors.log_mass == pytest.approx({"metal": half, "rubber": -half})
    assert priors.restitution == pytest.approx({"metal": 0.55, "rubber": 0.85})  # medians over both videos


def test_the_fit_falls_back_on_the_priors_where_the_data_are_silent() -> None:
    """Objects that never move keep their material's friction; without collisions, masses and
    restitutions are the priors (mass ratios, geometric mean 1)."""
    priors = MaterialPriors(log_mass={"metal": 0.5, "rubber": -0.5}, restitution={"metal": 0.6, "rubber": 0.9},
                            friction={"metal": 0.015, "rubber": 0.035},
                            rolling_friction={"metal": 0.004, "rubber": 0.01})
    obs = _video(0, {1: (0.5, 0.0)})
    params = fit_observation(obs, FitConfig(priors=priors)).params.objects
    assert params[0].friction == pytest.approx(0.015, abs=1e-6)  # the still metal cube
    assert params[2].rolling_friction == pytest.approx(0.004, abs=1e-6)  # the still metal sphere
    assert params[3].rolling_friction == pytest.approx(0.01, abs=1e-6)
    assert params[1].friction == pytest.approx(0.0, abs=2e-3)  # the moving one follows its track: no slowing
    mass = np.array([p.mass for p in params])
    assert mass[0] / mass[1] == pytest.approx(np.e, rel=1e-4) and mass[2] / mass[3] == pytest.approx(np.e, rel=1e-4)
    assert [p.restitution for p in params] == pytest.approx([0.6, 0.9, 0.6, 0.9])
    flat = fit_observation(obs, FitConfig(priors=MaterialPriors.flat())).params.objects
    assert flat[0].friction == pytest.approx(MaterialPriors.flat().friction["metal"], abs=1e-6)
    assert flat[0].mass == pytest.approx(flat[1].mass)


def test_shipped_priors_say_metal_is_heavier_and_slides_farther() -> None:
    priors = shipped_priors()
    assert priors.videos >= 100
    assert priors.log_mass["metal"] > priors.log_mass["rubber"]
    assert priors.friction["metal"] < priors.friction["rubber"]
    assert priors.rolling_friction["metal"] < priors.rolling_friction["rubber"]


def test_priors_files_round_trip_and_bad_ones_are_named(tmp_path) -> None:
    path = tmp_path / "priors.json"
    shipped_priors().write(path)
    assert read_priors(path) == shipped_priors()
    data = json.loads(path.read_text())
    data["friction"] = {"metal": "slippery", "rubber": 0.03}
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="friction"):
        read_priors(path)
    data["friction"] = {"metal": 0.02}
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="rubber"):
        read_priors(path)
    data["friction"] = {"metal": 0.02, "rubber": 0.03}
    data["videos"] = "many"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match="videos"):
        read_priors(path)
    with pytest.raises(ConfigError, match="glass"):
        shipped_priors().per_object("friction", [ObjectInfo(0, "red", "glass", "cube")])


def test_cli_train_priors(tmp_path) -> None:
    from physreason.datasets import files

    data = DatasetLayout(tmp_path / "data")
    for index, moving in enumerate(({0: (1.0, 0.0), 1: (0.0, 1.0)}, {0: (0.8, 0.3), 1: (0.3, 0.8)})):
        files.write_annotation(data.path("annotation", index), _video(index, moving))
    out = tmp_path / "priors.json"
    result = run("train", "priors", "--data", str(tmp_path / "data"), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    priors = read_priors(out)
    assert priors.videos == 2
    assert "priors from 2 fitted videos" in result.stdout
    # the moving cube and cylinder follow constant velocities: they hardly slow down
    assert priors.friction["metal"] < 0.005 and priors.friction["rubber"] < 0.005
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = run("train", "priors", "--data", str(empty), "--out", str(tmp_path / "none.json"))
    assert_clean_error(bad, "no annotation")
    assert not (tmp_path / "none.json").exists()


def test_cli_fit_and_simulate_take_a_priors_file(tmp_path, capsys) -> None:
    from physreason.cli import main
    from physreason.datasets import files

    annotation, params, priors_file = tmp_path / "annotation.json", tmp_path / "params.json", tmp_path / "p.json"
    files.write_annotation(annotation, _video(0, {1: (0.5, 0.0)}))
    MaterialPriors(log_mass={"metal": 0.5, "rubber": -0.5}, restitution={"metal": 0.6, "rubber": 0.9},
                   friction={"metal": 0.012, "rubber": 0.035},
                   rolling_friction={"metal": 0.004, "rubber": 0.01}).write(priors_file)
    assert main(["fit", str(annotation), "--out", str(params), "--priors", str(priors_file)]) == 0
    assert files.read_physics(params).objects[0].friction == pytest.approx(0.012, abs=1e-6)  # the still metal cube
    assert main(["fit", str(annotation), "--out", str(params), "--priors", "flat"]) == 0
    assert files.read_physics(params).objects[0].friction == pytest.approx(MaterialPriors.flat().friction["metal"])
    world = tmp_path / "world.json"
    assert main(["simulate", str(annotation), "--priors", str(priors_file), "--remove", "blue cylinder",
                 "--out", str(world)]) == 0
    capsys.readouterr()
    missing = tmp_path / "nowhere.json"
    assert main(["fit", str(annotation), "--out", str(tmp_path / "other.json"), "--priors", str(missing)]) == 2
    assert "nowhere.json" in capsys.readouterr().err
    assert not (tmp_path / "other.json").exists()
