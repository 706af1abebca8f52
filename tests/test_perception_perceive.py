"""End to end perception with the shipped weights: a freshly rendered video -> objects, and bad input."""

from __future__ import annotations

import numpy as np
import torch
import pytest

from physreason.cli import main
from physreason.datasets.camera import CLEVRER_CAMERA
from physreason.datasets.files import read_annotation
from physreason.datasets.records import ObjectInfo
from physreason.datasets.video import write_frames, write_video
from physreason.errors import ConfigError, PhysreasonError, VideoError
from physreason.perception.perceive import detect_video, load_models, perceive_frames, perceive_video

OBJECTS = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "sphere"),
           ObjectInfo(2, "yellow", "metal", "cylinder"), ObjectInfo(3, "green", "rubber", "cube"))
START = np.array([[-1.0, 0.5], [0.8, 1.0], [0.0, -0.8], [1.6, -0.6]])
VELOCITY = np.array([[0.04, 0.0], [0.0, -0.03], [-0.03, 0.02], [0.0, 0.0]])  # units per frame
N_FRAMES = 16


@pytest.fixture(scope="module")
def rendered() -> tuple[np.ndarray, np.ndarray]:
    from physreason.datasets.generator.render import render_video

    t = np.arange(N_FRAMES)[:, None, None]
    xy = START[None] + VELOCITY[None] * t
    pos = np.concatenate([xy, np.full((N_FRAMES, len(OBJECTS), 1), 0.2)], axis=2)
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (N_FRAMES, len(OBJECTS), 1))
    assert CLEVRER_CAMERA.in_view(pos.reshape(-1, 3)).all()
    rgb, _ = render_video(OBJECTS, pos, quat, CLEVRER_CAMERA)
    return rgb, xy


def test_perceive_recovers_objects_attributes_and_positions(rendered):
    frames, xy = rendered
    obs = perceive_frames(frames)
    assert obs.n_frames == N_FRAMES
    found = {(o.color, o.material, o.shape): o.id for o in obs.objects}
    assert set(found) == {(o.color, o.material, o.shape) for o in OBJECTS}
    for k, o in enumerate(OBJECTS):
        track = obs.tracks[found[(o.color, o.material, o.shape)]]
        assert track.visible.all()
        assert np.abs(track.xy - xy[:, k]).max() < 0.1
    proposals = detect_video(frames)
    assert len(proposals.frames) == N_FRAMES
    assert all(len(f.objects) == len(OBJECTS) for f in proposals.frames)
    assert all(0.0 < o.score <= 1.0 for f in proposals.frames for o in f.objects)


def test_perceive_video_file_and_cli(rendered, tmp_path):
    frames, _ = rendered
    video = tmp_path / "video_00000.mp4"
    write_video(video, frames)
    obs = perceive_video(video, scene_index=3)
    assert obs.scene_index == 3 and len(obs.objects) == len(OBJECTS)
    assert load_models() is load_models()  # loaded once per process
    out = tmp_path / "obs.json"
    assert main(["perceive", str(video), "--out", str(out)]) == 0
    assert len(read_annotation(out).objects) == len(OBJECTS)


def test_empty_scene_gives_no_objects():
    table = np.full((6, CLEVRER_CAMERA.height, CLEVRER_CAMERA.width, 3), 153, np.uint8)
    obs = perceive_frames(table)
    assert obs.objects == () and obs.n_frames == 6


def test_bad_input_is_a_clear_error(rendered, tmp_path, capsys):
    frames, _ = rendered
    with pytest.raises(VideoError, match="480x320"):
        perceive_frames(frames[:, ::2, ::2].copy(), source="small")
    small = tmp_path / "small.mp4"
    write_video(small, np.ascontiguousarray(frames[:4, :160, :240]))
    with pytest.raises(VideoError, match="small.mp4"):
        perceive_video(small)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(VideoError, match="corrupt.mp4"):
        perceive_video(corrupt)
    folder = tmp_path / "frames"
    write_frames(folder, frames[:3])
    (folder / sorted(p.name for p in folder.iterdir())[1]).write_bytes(b"not a png")
    with pytest.raises(VideoError, match="frame 1"):
        perceive_video(folder)
    with pytest.raises(PhysreasonError):
        perceive_video(tmp_path / "missing.mp4")
    with pytest.raises(ConfigError):
        perceive_frames(frames, camera=CLEVRER_CAMERA.__class__(width=240, height=160, focal=262.5, cx=120.0, cy=80.0))
    assert main(["perceive", str(corrupt), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "corrupt.mp4" in err[0]
    assert not (tmp_path / "x.json").exists()
    with pytest.raises(PhysreasonError, match="detector.pt"):
        load_models(tmp_path)


def test_learned_concepts_name_the_perceived_objects(rendered, tmp_path, capsys):
    """--concepts: the tracks stay those of the supervised run, each object's words come from
    the learned concepts run on its own detections."""
    from physreason.concepts.model import LearnedConcepts
    from physreason.perception.object_features import CropConfig, ObjectEncoder
    from physreason.perception.observe import observe_with_ids
    from physreason.reasoning.concepts import ConceptSpace

    frames, _ = rendered
    torch.manual_seed(0)
    encoder = ObjectEncoder("cropnet_tiny", input_size=16, pool="meanmax")
    model = LearnedConcepts(encoder, ConceptSpace(encoder.feature_dim, 8), CropConfig(n_crops=2, size=16))
    path = tmp_path / "concepts.pt"
    model.save(path)
    supervised = perceive_frames(frames)
    learned = perceive_frames(frames, concepts=path)
    assert len(learned.tracks) == len(supervised.tracks) == len(OBJECTS)
    assert all(np.array_equal(a.position, b.position) for a, b in zip(learned.tracks, supervised.tracks))
    _, ids = observe_with_ids(detect_video(frames), CLEVRER_CAMERA, len(frames), 0)
    assert set(ids.values()) == {o.id for o in supervised.objects}
    words = model.describe_video(frames, detect_video(frames), ids)
    assert {o.id: o.key for o in learned.objects} == words
    # the concept probabilities ride along, for the soft executor to answer from
    assert supervised.attribute_probs is None and set(learned.attribute_probs) == {"color", "material", "shape"}
    total = sum(p for p in learned.attribute_probs["shape"].values())
    assert total.shape == (len(OBJECTS),) and np.allclose(total, 1.0, atol=1e-5)
    video = tmp_path / "video_00000.mp4"
    write_video(video, frames)
    assert main(["perceive", str(video), "--out", str(tmp_path / "o.json"), "--concepts", str(tmp_path / "no.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no.pt" in err[0] and not (tmp_path / "o.json").exists()


def test_shipped_learned_concepts_name_the_colors(rendered):
    frames, _ = rendered
    found = {o.color for o in perceive_frames(frames, concepts="learned").objects}
    assert found == {o.color for o in OBJECTS}
