"""Round trips and validation of the record types and their CLEVRER JSON files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from physreason.datasets import files
from physreason.datasets.camera import Camera
from physreason.datasets.layout import DatasetLayout, find_files
from physreason.datasets.questions import (Answer, Choice, Question, QuestionFile, VideoAnswers, VideoQuestions,
                                           read_questions, read_submission, write_questions, write_submission)
from physreason.datasets.records import (Change, Counterfactuals, CounterfactualOutcome, Event, ObjectInfo,
                                         ObjectParams, Observation, PhysicsParams, Track, World)
from physreason.errors import FormatError

from realdata import REAL_QUESTIONS


def make_observation(rng: np.random.Generator, n_objects: int = 3, n_frames: int = 12, first: int = 0,
                     camera: Camera | None = None) -> Observation:
    objects = tuple(ObjectInfo(k, c, m, s) for k, (c, m, s) in
                    enumerate([("red", "metal", "cube"), ("blue", "rubber", "sphere"), ("gray", "metal", "cylinder"),
                               ("cyan", "rubber", "cube")][:n_objects]))
    tracks = []
    for k in range(n_objects):
        vis = rng.random(n_frames) > 0.3
        tracks.append(Track(k, rng.normal(size=(n_frames, 3)), rng.normal(size=(n_frames, 3)),
                            rng.normal(size=(n_frames, 3)), rng.normal(size=(n_frames, 3)), vis, first))
    collisions = (Event("collision", first + 3, (0, 1), (0.1, 0.2, 0.2)),
                  Event("collision", first + 7, (1, 2), (-1.0, 0.5, 0.2)))
    return Observation(7, objects, tuple(tracks), collisions, n_frames, camera or Camera())


def test_observation_round_trip(tmp_path: Path) -> None:
    obs = make_observation(np.random.default_rng(0))
    path = tmp_path / "annotation_00007.json"
    files.write_annotation(path, obs)
    back = files.read_annotation(path)
    assert back == obs
    assert back.events == obs.events
    data = json.loads(path.read_text())
    assert set(data) == {"scene_index", "video_filename", "object_property", "motion_trajectory", "collision"}
    assert data["motion_trajectory"][0]["objects"][1]["object_id"] == 1


def test_observation_with_camera_and_offset_frames(tmp_path: Path) -> None:
    cam = Camera(width=240, height=160, focal=262.5, cx=120, cy=80)
    obs = make_observation(np.random.default_rng(1), first=128, camera=cam)
    files.write_annotation(tmp_path / "a.json", obs)
    assert files.read_annotation(tmp_path / "a.json") == obs


def test_events_follow_visibility() -> None:
    vis = np.array([0, 0, 1, 1, 1, 0, 0, 1], bool)
    z = np.zeros((8, 3))
    obs = Observation(0, (ObjectInfo(0, "red", "metal", "cube"),), (Track(0, z, z, z, z, vis),), (), 8)
    assert [(e.kind, e.frame) for e in obs.events] == [("in", 2), ("out", 5), ("in", 7)]


def test_world_physics_counterfactual_round_trip(tmp_path: Path) -> None:
    obs = make_observation(np.random.default_rng(2))
    world = World(obs, "counterfactual", removed=1, changes=(Change(0, "mass", 4.0),))
    files.write_world(tmp_path / "w.json", world)
    assert files.read_world(tmp_path / "w.json") == world

    params = PhysicsParams(7, (ObjectParams(0, 2.5, 0.7, 0.05, 0.001, (1.0, -2.0), (0.5, 0.25), 0.3),),
                           (("gravity", 9.81), ("timestep", 0.004)), "pybullet 3.2.7")
    files.write_physics(tmp_path / "p.json", params)
    assert files.read_physics(tmp_path / "p.json") == params

    cf = Counterfactuals(7, 178, (CounterfactualOutcome(0, (), (Event("collision", 40, (1, 2), (0.0, 0.0, 0.2)),
                                                                 Event("out", 90, (2,)))),
                                  CounterfactualOutcome(None, (Change(1, "mass", 3.0),), ())))
    files.write_counterfactuals(tmp_path / "c.json", cf)
    back = files.read_counterfactuals(tmp_path / "c.json")
    assert back == cf
    assert back.without(0).events[1].kind == "out"


def test_questions_and_submission_round_trip(tmp_path: Path) -> None:
    qf = QuestionFile((VideoQuestions(3, (
        Question(0, "How many spheres are moving?", "descriptive", ("objects", "sphere", "filter_shape", "null",
                                                                      "filter_moving", "count"), "count", "2"),
        Question(1, "What will happen next?", "predictive", ("unseen_events", "belong_to"), choices=(
            Choice(0, "The cube collides with the sphere", ("all_events",), "correct"),
            Choice(1, "The cube and the cylinder collide", ("all_events",), "wrong")))), "video_00003.mp4"),))
    write_questions(tmp_path / "q.json", qf)
    assert read_questions(tmp_path / "q.json") == qf
    sub = (VideoAnswers(3, (Answer(0, "2"), Answer(1, choices=((0, "correct"), (1, "wrong"))))),)
    write_submission(tmp_path / "s.json", sub)
    assert read_submission(tmp_path / "s.json") == sub


def test_real_question_file_round_trips_unchanged(tmp_path: Path) -> None:
    qf = read_questions(REAL_QUESTIONS)
    assert qf.keyed and len(qf.videos) == 564
    assert sum(len(q.choices or ()) for vq in qf.videos for q in vq.questions) == 2256
    write_questions(tmp_path / "q.json", qf)
    assert json.loads((tmp_path / "q.json").read_text()) == json.loads(REAL_QUESTIONS.read_text())


def _corrupt(tmp_path: Path, data: dict, edit) -> Path:
    edit(data)
    path = tmp_path / "annotation_00001.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.pop("motion_trajectory"), "motion_trajectory"),
    (lambda d: d["object_property"][1].update(color="pink"), "object_property[1].color"),
    (lambda d: d["motion_trajectory"][4]["objects"][2].update(location=[1, 2]), "motion_trajectory[4].objects[2].location"),
    (lambda d: d["motion_trajectory"][3]["objects"][0].update(inside_camera_view="yes"),
     "motion_trajectory[3].objects[0].inside_camera_view"),
    (lambda d: d["motion_trajectory"][5].update(frame_id=9), "motion_trajectory[5].frame_id"),
    (lambda d: d["collision"][0].update(object_ids=[0]), "collision[0].object_ids"),
    (lambda d: d["collision"][1].update(object_ids=[0, 9]), "collision[1].object_ids"),
    (lambda d: d["object_property"][2].update(color="red", material="metal", shape="cube"), "object_property"),
    (lambda d: d["motion_trajectory"][0]["objects"][0]["velocity"].__setitem__(1, "fast"),
     "motion_trajectory[0].objects[0].velocity[1]"),
])
def test_malformed_annotation_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    data = make_observation(np.random.default_rng(3)).to_json()
    path = _corrupt(tmp_path, data, edit)
    with pytest.raises(FormatError) as err:
        files.read_annotation(path)
    assert "annotation_00001.json" in str(err.value)
    assert f"'{field}'" in str(err.value)


@pytest.mark.parametrize("content, message", [("{not json", "invalid JSON"), (b"\xff\xfe", "not UTF-8")])
def test_unreadable_json(tmp_path: Path, content, message: str) -> None:
    path = tmp_path / "annotation_00002.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(FormatError, match=message):
        files.read_annotation(path)
    with pytest.raises(FormatError, match="not found"):
        files.read_annotation(tmp_path / "missing.json")


def test_malformed_question_file(tmp_path: Path) -> None:
    path = tmp_path / "questions.json"
    path.write_text(json.dumps([{"scene_index": 0, "questions": [
        {"question_id": 0, "question": "What will happen next?", "question_type": "predictive"}]}]))
    with pytest.raises(FormatError, match=r"questions.json: field '\[0\].questions\[0\].choices'"):
        read_questions(path)
    path.write_text(json.dumps([{"scene_index": 0, "questions": [
        {"question_id": 0, "question": "?", "question_type": "descriptive", "program": ["objects", 3]}]}]))
    with pytest.raises(FormatError, match=r"program\[1\]"):
        read_questions(path)


def test_layout_writes_clevrer_paths_and_finds_both_layouts(tmp_path: Path) -> None:
    layout = DatasetLayout(tmp_path / "ours")
    assert layout.path("annotation", 1234) == tmp_path / "ours/annotations/annotation_01000-02000/annotation_01234.json"
    assert layout.path("proposal", 5) == tmp_path / "ours/proposals/proposal_00005.json"
    for i in (3, 1500):
        p = layout.path("annotation", i)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}")
    assert list(find_files(tmp_path / "ours", "annotation")) == [3, 1500]
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "annotation_00009.json").write_text("{}")
    (flat / "notes.json").write_text("{}")
    assert find_files(flat, "annotation") == {9: flat / "annotation_00009.json"}
    (flat / "sub").mkdir()
    (flat / "sub" / "annotation_00009.json").write_text("{}")
    with pytest.raises(FormatError, match="duplicate"):
        find_files(flat, "annotation")
