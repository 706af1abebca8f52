"""The question generator: the oracle (text -> program -> answer on the ground truth), balance,
option counts, the robustness and window rules, determinism, and the dataset's question files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from physreason.cli import main
from physreason.datasets.generator.generate import GenerateConfig, generate_dataset, ground_truth
from physreason.datasets.generator.questions import generate_questions, perturbed_worlds, unique_names
from physreason.datasets.layout import DatasetLayout
from physreason.datasets.questions import (DESCRIPTIVE_SUBTYPES, QUESTION_TYPES, Question, QuestionFile,
                                           VideoQuestions, read_questions, write_questions)
from physreason.datasets.records import Counterfactuals, Event, ObjectInfo, Observation, Track, World
from physreason.reasoning.executor import execute, execute_choice
from physreason.reasoning.program import Expr, Node, from_postfix
from physreason.reasoning.questions import parse_choice, parse_question, read_question
from physreason.reasoning.world import ReasoningWorld

SEED = 5
N_SCENES = 30
# Small fast videos, with a future long enough for some unseen collisions (predictive questions).
SMALL = dict(n_frames=96, n_future=40, width=240, height=160)

Records = tuple[Observation, World, Counterfactuals]


@pytest.fixture(scope="module")
def records() -> list[Records]:
    """Ground truth of N_SCENES simulated scenes (no rendering)."""
    config = GenerateConfig(out=Path("unused"), n_videos=N_SCENES, seed=SEED, **SMALL)
    return [ground_truth(index, config)[1:] for index in range(N_SCENES)]


@pytest.fixture(scope="module")
def videos(records: list[Records]) -> list[VideoQuestions]:
    return [generate_questions(obs, future, cfs, SEED) for obs, future, cfs in records]


def _all(videos: list[VideoQuestions]) -> list[Question]:
    return [q for video in videos for q in video.questions]


def test_oracle_text_program_answer(records: list[Records], videos: list[VideoQuestions], tmp_path: Path) -> None:
    """Re-read from JSON, every question re-parses to its program and re-executes to its answer."""
    path = tmp_path / "questions.json"
    write_questions(str(path), QuestionFile(tuple(videos[:10])))
    for (obs, future, cfs), video in zip(records, read_questions(str(path)).videos):
        assert video.scene_index == obs.scene_index and video.video_filename == obs.video_filename
        world = ReasoningWorld.from_records(obs, future, cfs)
        types = [q.question_type for q in video.questions]
        assert [q.question_id for q in video.questions] == list(range(len(video.questions)))
        assert types == sorted(types, key=lambda t: t != "descriptive")  # descriptive first
        for q in video.questions:
            parsed = read_question(q.question)
            assert (parsed.question_type, parsed.subtype) == (q.question_type, q.question_subtype)
            assert tuple(parsed.program) == q.program
            if q.question_type == "descriptive":
                assert q.choices is None and execute(q.program, world).answer == q.answer
                continue
            assert q.answer is None and q.choices
            for c in q.choices:
                assert tuple(parse_choice(c.choice)) == c.program
                assert execute_choice(q.program, c.program, world).answer == c.answer, (q.question, c.choice)


def test_every_type_and_subtype_appears(videos: list[VideoQuestions]) -> None:
    questions = _all(videos)
    assert {q.question_type for q in questions} == set(QUESTION_TYPES)
    assert {q.question_subtype for q in questions if q.question_type == "descriptive"} == set(DESCRIPTIVE_SUBTYPES)
    per_video = Counter(q.question_type for q in questions)
    assert 9 <= per_video["descriptive"] / len(videos) <= 12
    assert per_video["explanatory"] + per_video["counterfactual"] >= len(videos)


def test_answers_are_balanced(videos: list[VideoQuestions]) -> None:
    answers: dict[str, Counter[str]] = {}
    for q in _all(videos):
        if q.question_type == "descriptive":
            answers.setdefault(q.question_subtype or "", Counter())[q.answer or ""] += 1
        else:
            answers.setdefault(q.question_type, Counter()).update(c.answer or "" for c in q.choices or ())
    exist = answers["exist"]
    assert 0.35 <= exist["yes"] / exist.total() <= 0.65
    for kind in ("explanatory", "predictive", "counterfactual"):
        assert 0.35 <= answers[kind]["correct"] / answers[kind].total() <= 0.65, kind
    count = answers["count"]
    assert set(count) <= {str(n) for n in range(6)} and len(count) >= 4
    assert max(count.values()) <= 0.5 * count.total()
    for subtype, values in (("query_color", 4), ("query_material", 2), ("query_shape", 3)):
        assert len(answers[subtype]) >= values and max(answers[subtype].values()) <= 0.6 * answers[subtype].total()


def test_option_counts(videos: list[VideoQuestions]) -> None:
    limits = {"explanatory": (2, 4), "predictive": (2, 2), "counterfactual": (2, 4)}
    for q in _all(videos):
        if q.question_type == "descriptive":
            continue
        low, high = limits[q.question_type]
        answers = Counter(c.answer for c in q.choices or ())
        assert low <= answers.total() <= high and answers["correct"] >= 1 and answers["wrong"] >= 1
        assert [c.choice_id for c in q.choices or ()] == list(range(answers.total()))
        if q.question_type == "predictive":
            assert answers == Counter(correct=1, wrong=1)


def _object_id(tree: Node, world: ReasoningWorld, obs: Observation) -> int:
    """The id of the object a program subtree names."""
    key = tuple(execute(Node(f"query_{attr}", (tree,)), world).answer for attr in ("color", "material", "shape"))
    obj = obs.object_by_key(*key)
    assert obj is not None
    return obj.id


def _counterfact(expr: Expr) -> Node | None:
    """The get_counterfact node of a question tree."""
    if not isinstance(expr, Node):
        return None
    if expr.op == "get_counterfact":
        return expr
    return next((found for arg in expr.args if (found := _counterfact(arg)) is not None), None)


def test_predictive_and_counterfactual_window_rules(records: list[Records], videos: list[VideoQuestions]) -> None:
    """Correct options happen well inside their window; wrong ones never happen at all."""
    margin, observed = 2, SMALL["n_frames"]
    total = observed + SMALL["n_future"]
    checked: Counter[str] = Counter()
    for (obs, future, cfs), video in zip(records, videos):
        world = ReasoningWorld.from_records(obs, future, cfs)
        for q in video.questions:
            if q.question_type not in ("predictive", "counterfactual"):
                continue
            tree = from_postfix(q.program or (), slot=True)
            assert isinstance(tree, Node)
            if q.question_type == "predictive":
                events = [e for e in future.observation.events if e.frame >= observed - margin]
            else:
                node = _counterfact(tree)
                assert node is not None
                events = list(cfs.without(_object_id(node.args[1], world, obs)).events)
            frames: dict[frozenset[int], list[int]] = {}
            for e in events:
                if e.kind == "collision":
                    frames.setdefault(frozenset(e.objects), []).append(e.frame)
            for c in q.choices or ():
                choice = from_postfix(c.program or ())
                assert isinstance(choice, Node) and choice.op == "unique"
                (second,) = choice.args
                assert isinstance(second, Node)
                first = second.args[0]
                assert isinstance(first, Node)
                pair = frozenset({_object_id(first.args[1], world, obs), _object_id(second.args[1], world, obs)})
                happens = (c.answer == "correct") != (tree.op == "negate")
                if not happens:
                    assert pair not in frames, (q.question, c.choice)
                elif q.question_type == "predictive":
                    assert all(observed + margin <= f < total - margin for f in frames[pair]), (q.question, c.choice)
                else:
                    assert min(frames[pair]) < observed - margin, (q.question, c.choice)
                checked[q.question_type] += 1
    assert checked["predictive"] >= 2 and checked["counterfactual"] >= 20


def test_deterministic(records: list[Records], videos: list[VideoQuestions]) -> None:
    obs, future, cfs = records[0]
    again = generate_questions(obs, future, cfs, SEED)
    assert QuestionFile((again,)).to_json() == QuestionFile((videos[0],)).to_json()
    other = generate_questions(obs, future, cfs, SEED + 1)
    assert QuestionFile((other,)).to_json() != QuestionFile((videos[0],)).to_json()


def test_no_future_no_counterfactuals_means_no_such_questions(records: list[Records]) -> None:
    obs, _, _ = records[0]
    kinds = {q.question_type for q in generate_questions(obs, None, None, SEED).questions}
    assert "descriptive" in kinds and not kinds & {"predictive", "counterfactual"}


# ---------------------------------------------------------------- rules on a hand-built world
def _track(k: int, n: int, speed: np.ndarray) -> Track:
    velocity = np.zeros((n, 3))
    velocity[:, 0] = speed
    zeros = np.zeros((n, 3))
    return Track(k, zeros, velocity, zeros, zeros, np.ones(n, dtype=bool))


def test_perturbed_worlds_move_close_events_and_speeds() -> None:
    """Two collisions 1 frame apart swap order in some copy; a stop at frame 60 shows in the shifted copies."""
    n = 100
    objects = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "sphere"),
               ObjectInfo(2, "green", "rubber", "cube"))
    stop = np.where(np.arange(n) < 60, 1.0, 0.0)
    tracks = (_track(0, n, stop), _track(1, n, np.ones(n)), _track(2, n, np.ones(n)))
    collisions = (Event("collision", 30, (0, 1)), Event("collision", 31, (1, 2)))
    world = ReasoningWorld.from_records(Observation(0, objects, tracks, collisions, n))
    variants = perturbed_worlds(world, event_margin=2, speed_factor=2.0)
    first_partner = parse_question("What color is the first object to collide with the blue sphere?")
    assert execute(first_partner, world).answer == "red"
    assert {execute(first_partner, v).answer for v in variants} == {"red", "green"}  # the close collisions swap
    assert not world.is_moving(objects[0], 60) and any(v.is_moving(objects[0], 60) for v in variants)
    assert [v.moving_speed for v in variants[:2]] == [0.01, 0.04]


def test_unique_names_are_minimal() -> None:
    objects = [ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "red", "rubber", "sphere"),
               ObjectInfo(2, "blue", "rubber", "cube")]
    assert unique_names(objects, objects[0]) == [(None, "metal", None)]
    assert unique_names(objects, objects[0], exclude="material") == [("red", None, "cube")]
    assert unique_names(objects, objects[1]) == [(None, None, "sphere")]
    assert unique_names(objects, objects[1], exclude="shape") == [("red", "rubber", None)]
    assert unique_names(objects[1:], objects[0]) == []  # not among the objects


# ---------------------------------------------------------------- dataset files
def test_dataset_question_files(tmp_path: Path) -> None:
    config = GenerateConfig(out=tmp_path / "data", n_videos=2, seed=SEED, **SMALL)
    generate_dataset(config)
    layout = DatasetLayout(config.out)
    combined = read_questions(str(config.out / "questions.json"))
    assert [v.scene_index for v in combined.videos] == [0, 1] and not combined.keyed
    for video in combined.videos:
        path = layout.path("question", video.scene_index)
        assert path == config.out / "questions" / "question_00000-01000" / f"question_{video.scene_index:05d}.json"
        assert read_questions(str(path)).videos == (video,)
        assert layout.path("question", video.scene_index).stat().st_mtime_ns <= \
            layout.path("video", video.scene_index).stat().st_mtime_ns
    # A later run adding video 2 gathers all three, in index order.
    generate_dataset(GenerateConfig(out=config.out, n_videos=1, start=2, seed=SEED, **SMALL))
    assert [v.scene_index for v in read_questions(str(config.out / "questions.json")).videos] == [0, 1, 2]


def test_cli_no_questions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    argv = ["generate", "--out", str(out), "--videos", "1", "--frames", "96", "--future", "10",
            "--width", "240", "--height", "160", "--quiet", "--no-questions"]
    assert main(argv) == 0
    assert not (out / "questions").exists() and not (out / "questions.json").exists()
    assert DatasetLayout(out).path("video", 0).is_file()
    assert main(argv) == 0
    assert "0 videos generated, 1 already complete" in capsys.readouterr().out
