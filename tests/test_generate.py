"""The dataset generator end to end: files, layout, determinism, resumption, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from physreason.cli import main
from physreason.datasets import files
from physreason.datasets.camera import CLEVRER_CAMERA
from physreason.datasets.generator.generate import GenerateConfig, camera_for_size, generate_dataset
from physreason.datasets.layout import KINDS, DatasetLayout, find_files
from physreason.datasets.proposals import read_proposals
from physreason.datasets.video import read_video
from physreason.errors import ConfigError

# Small videos keep the suite fast; the geometry and rules are the same as at full size.
SMALL = dict(n_frames=96, n_future=20, width=240, height=160)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerateConfig, list]:
    config = GenerateConfig(out=tmp_path_factory.mktemp("gen") / "data", n_videos=2, seed=11, **SMALL)
    return config, generate_dataset(config)


def test_writes_every_file_in_clevrer_layout(dataset) -> None:
    config, summaries = dataset
    layout = DatasetLayout(config.out)
    for s in summaries:
        assert not s.skipped and s.n_collisions >= 1
        for kind in KINDS:
            assert layout.path(kind, s.index).is_file(), kind
    assert (config.out / "annotations" / "annotation_00000-01000" / "annotation_00001.json").is_file()
    assert (config.out / "videos" / "video_00000-01000" / "video_00000.mp4").is_file()


def test_files_agree_with_each_other(dataset) -> None:
    config, summaries = dataset
    layout = DatasetLayout(config.out)
    for s in summaries:
        obs = files.read_annotation(layout.path("annotation", s.index))
        future = files.read_world(layout.path("future", s.index))
        params = files.read_physics(layout.path("physics", s.index))
        cfs = files.read_counterfactuals(layout.path("counterfactual", s.index))
        frames = read_video(layout.path("video", s.index))
        props = read_proposals(layout.path("proposal", s.index))
        n = len(obs.objects)
        assert obs.n_frames == SMALL["n_frames"] and frames.shape == (SMALL["n_frames"], 160, 240, 3)
        assert future.observation.n_frames == SMALL["n_frames"] + SMALL["n_future"]
        for a, b in zip(obs.tracks, future.observation.tracks):
            assert np.array_equal(a.position, b.position[:obs.n_frames])
        assert [c for c in future.observation.collisions if c.frame < obs.n_frames] == list(obs.collisions)
        assert len(params.objects) == n and [o.removed for o in cfs.outcomes] == list(range(n))
        for outcome in cfs.outcomes:
            assert all(outcome.removed not in e.objects for e in outcome.events)
        assert len(props.frames) == obs.n_frames
        for f, frame in enumerate(props.frames):
            ids = {o.object_id for o in frame.objects}
            visible = {tr.object_id for tr in obs.tracks if tr.visible[f]}
            # an object whose centre is in view shows at least some pixels (unless fully hidden)
            assert len(visible - ids) <= 1
            for o in frame.objects:
                assert o.mask().shape == (160, 240) and o.mask().any()
                assert (o.color, o.material, o.shape) == obs.objects[o.object_id].key


def test_deterministic_and_resumable(dataset, tmp_path: Path) -> None:
    config, _ = dataset
    again = GenerateConfig(out=tmp_path / "again", n_videos=1, seed=config.seed, start=1, **SMALL)
    generate_dataset(again)
    for kind in KINDS:
        a = DatasetLayout(config.out).path(kind, 1).read_bytes()
        b = DatasetLayout(again.out).path(kind, 1).read_bytes()
        assert a == b, f"{kind} differs"
    video = DatasetLayout(again.out).path("video", 1)
    mtime = video.stat().st_mtime_ns
    (summary,) = generate_dataset(again)
    assert summary.skipped and video.stat().st_mtime_ns == mtime
    # An incomplete video (a file missing) is generated again.
    DatasetLayout(again.out).path("proposal", 1).unlink()
    (summary,) = generate_dataset(again)
    assert not summary.skipped and video.read_bytes() == DatasetLayout(config.out).path("video", 1).read_bytes()


def test_output_does_not_depend_on_the_worker_count(dataset, tmp_path: Path) -> None:
    config, _ = dataset
    parallel = GenerateConfig(out=tmp_path / "parallel", n_videos=2, seed=config.seed, workers=2, **SMALL)
    generate_dataset(parallel)
    for index in (0, 1):
        for kind in KINDS:
            assert (DatasetLayout(parallel.out).path(kind, index).read_bytes()
                    == DatasetLayout(config.out).path(kind, index).read_bytes()), (index, kind)
    assert (parallel.out / "questions.json").read_bytes() == (config.out / "questions.json").read_bytes()


def test_different_seeds_differ(dataset, tmp_path: Path) -> None:
    config, _ = dataset
    other = GenerateConfig(out=tmp_path / "other", n_videos=1, seed=config.seed + 1, **SMALL)
    generate_dataset(other)
    a = DatasetLayout(config.out).path("physics", 0).read_bytes()
    assert DatasetLayout(other.out).path("physics", 0).read_bytes() != a


def test_camera_for_size() -> None:
    assert camera_for_size(480, 320) is CLEVRER_CAMERA
    small = camera_for_size(240, 160)
    point = np.array([0.5, -1.0, 0.2])
    assert small.project(point) == pytest.approx(CLEVRER_CAMERA.project(point) / 2)
    with pytest.raises(ConfigError):
        camera_for_size(241, 160)


def test_cli_generate_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Generate with a two-color palette (--colors): every object takes one of those colors."""
    out = tmp_path / "cli"
    assert main(["generate", "--out", str(out), "--videos", "1", "--seed", "3", "--frames", "96", "--future", "10",
                 "--width", "240", "--height", "160", "--colors", "red", "blue", "--quiet"]) == 0
    assert "1 videos generated" in capsys.readouterr().out
    annotation = files.read_annotation(find_files(out, "annotation")[0])
    assert annotation.objects and {o.color for o in annotation.objects} <= {"red", "blue"}
    assert main(["summary", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 videos:" in text and "collisions" in text


@pytest.mark.parametrize("argv, message", [
    (["generate", "--out", "X", "--videos", "-1"], "--videos must be >= 0"),
    (["generate", "--out", "X", "--videos", "1", "--width", "241"], "image size must be positive and even"),
    (["generate", "--out", "X", "--videos", "1", "--workers", "0"], "--workers must be >= 1"),
    (["generate", "--out", "X", "--videos", "1", "--colors", "red", "pink"], "'pink' is not one"),
    (["summary", "MISSING_DIR"], "MISSING_DIR: directory not found"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, argv: list[str], message: str) -> None:
    argv = [a.replace("X", str(tmp_path / "x")) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "physreason.cli", *argv], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_projected_positions_land_in_rendered_masks(dataset) -> None:
    """Physics, camera and renderer agree: every visible object's projected centre is in its mask,
    or in the mask of an object nearer to the camera that hides it."""
    config, summaries = dataset
    layout = DatasetLayout(config.out)
    checked = 0
    for s in summaries:
        obs = files.read_annotation(layout.path("annotation", s.index))
        props = read_proposals(layout.path("proposal", s.index))
        for f, frame in enumerate(props.frames):
            masks = {o.object_id: o.mask() for o in frame.objects}
            for tr in obs.tracks:
                if not tr.visible[f]:
                    continue
                u, v = obs.camera.project(tr.position[f])
                row, col = min(int(v), obs.camera.height - 1), min(int(u), obs.camera.width - 1)
                owner = [k for k, m in masks.items() if m[row, col]]
                assert owner, f"video {s.index} frame {f}: object {tr.object_id} projects onto background"
                if owner[0] != tr.object_id:
                    depth = obs.camera.depth
                    assert depth(obs.tracks[owner[0]].position[f]) < depth(tr.position[f]), (s.index, f, tr.object_id)
                checked += 1
    assert checked > 100
