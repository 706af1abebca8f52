"""The engine end to end: worlds from a fit, the Engine API, eval/answer/export commands, pictures.

A two-video dataset is made without rendering (annotation, questions and ground truth from the
generator's simulation): oracle mode needs no video. One physics fit per video for the session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_run import assert_clean_error, run

from physreason.datasets import files
from physreason.datasets.generator.generate import GenerateConfig, ground_truth
from physreason.datasets.generator.questions import generate_questions
from physreason.datasets.layout import DatasetLayout
from physreason.datasets.questions import QuestionFile, read_questions, read_submission, write_questions

SEED = 2024
INDICES = (1, 2)  # both have questions of all four types


def write_video_files(root: Path, index: int, seed: int = SEED) -> None:
    """Annotation, ground truth and questions of one generated video, without rendering it."""
    config = GenerateConfig(root, 1, seed)
    layout = DatasetLayout(root)
    _, obs, future, cfs = ground_truth(index, config)
    files.write_annotation(layout.path("annotation", index), obs)
    files.write_world(layout.path("future", index), future)
    files.write_counterfactuals(layout.path("counterfactual", index), cfs)
    write_questions(str(layout.path("question", index)), QuestionFile((generate_questions(obs, future, cfs, seed),)))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline") / "data"
    for index in INDICES:
        write_video_files(root, index)
    return root


@pytest.fixture(scope="module")
def engine(dataset: Path):
    from physreason import Engine

    engine = Engine().from_annotation(DatasetLayout(dataset).path("annotation", INDICES[0]))
    engine.fit()
    return engine


def test_import_is_light() -> None:
    code = ("import sys, physreason; assert 'taichi' not in sys.modules and 'torch' not in sys.modules; "
            "from physreason import Engine; assert 'taichi' not in sys.modules; print(Engine.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Engine"


def _sliding_scene(n_frames: int = 60):
    """Three spheres, seen: 1 slides along +x at 1 unit/s and at frame 25 is recorded colliding
    with 0, at rest 0.6 units off its path (a contact perception placed too far), bouncing off
    along -y; at frame 35 it stops against 2, which moves off along -y. Returns the observation
    and the fit (the true initial states, no friction)."""
    from physreason.datasets.camera import CLEVRER_CAMERA
    from physreason.datasets.records import Event, ObjectInfo, ObjectParams, Observation, PhysicsParams, Track
    from physreason.physics.fit import FitResult

    t = np.arange(n_frames) / 25.0
    xy = np.zeros((3, n_frames, 2))
    xy[0] = (0.0, 0.6)
    xy[1, :, 0] = np.minimum(t - 1.0, 0.0)
    xy[1, :, 1] = -np.clip(t - 1.0, 0.0, 0.4)
    xy[2] = (0.0, -0.8)
    xy[2, :, 1] -= np.clip(t - 1.4, 0.0, None)
    vel = np.gradient(xy, axis=1) * 25.0
    tracks = tuple(Track(k, np.concatenate([xy[k], np.full((n_frames, 1), 0.2)], axis=1),
                         np.concatenate([vel[k], np.zeros((n_frames, 1))], axis=1), np.zeros((n_frames, 3)),
                         np.zeros((n_frames, 3)), np.ones(n_frames, bool)) for k in range(3))
    objects = tuple(ObjectInfo(k, color, "rubber", "sphere") for k, color in enumerate(("red", "blue", "green")))
    collisions = (Event("collision", 25, (0, 1), (0.0, 0.3, 0.2)), Event("collision", 35, (1, 2), (0.0, -0.6, 0.2)))
    obs = Observation(0, objects, tracks, collisions, n_frames, CLEVRER_CAMERA)
    params = PhysicsParams(0, tuple(ObjectParams(k, 1.0, 0.8, 0.0, 0.0, tuple(xy[k, 0]), tuple(vel[k, 0]), 0.0)
                                    for k in range(3)))
    return obs, FitResult(params, np.zeros(3), np.ones(3, bool), "good", ())


def test_without_an_object_nothing_keeps_what_its_seen_collisions_did() -> None:
    """Remove object 0: even where the simulation from the seen states misses the recorded
    contact, object 1 no longer bounces off it (it slides on along +x) and so never reaches 2."""
    from physreason.pipeline.worlds import replayed_counterfactual

    obs, fit = _sliding_scene()
    outcome, world = replayed_counterfactual(obs, fit, removed=0)
    assert [e for e in outcome.events if e.kind == "collision"] == []
    path = world.observation.tracks[1].xy
    assert path[50, 0] == pytest.approx(1.0, abs=0.05) and abs(path[50, 1]) < 0.05
    assert world.observation.tracks[2].xy[50] == pytest.approx((0.0, -0.8), abs=1e-6)
    # removing object 2 changes nothing before its collision: 1's bounce off 0 is kept
    kept, _ = replayed_counterfactual(obs, fit, removed=2)
    assert [(e.frame, e.objects) for e in kept.events if e.kind == "collision"][0] == (25, (0, 1))


def test_worlds_have_the_records_reasoning_reads(engine) -> None:
    worlds = engine.worlds
    obs = worlds.observation
    assert worlds.future.kind == "factual"
    assert worlds.future.observation.n_frames == obs.n_frames + 50
    assert [o.removed for o in worlds.counterfactuals.outcomes] == [o.id for o in obs.objects]
    assert [w.removed for w in worlds.removed_worlds] == [o.id for o in obs.objects]
    touched = {i for e in obs.collisions for i in e.objects}
    for outcome in worlds.counterfactuals.outcomes:
        assert all(outcome.removed not in e.objects for e in outcome.events)
        if outcome.removed not in touched:  # removing an object that touches nothing changes nothing
            assert outcome.events == tuple(e for e in obs.events if outcome.removed not in e.objects)
        else:  # before the first contact of the removed object, the observed events stand
            first = min(e.frame for e in obs.collisions if outcome.removed in e.objects)
            early = [e for e in obs.events if e.frame < first - 5 and outcome.removed not in e.objects]
            assert all(e in outcome.events for e in early)
    world = worlds.reasoning_world()
    assert world.unseen is not None and world.counterfactual is not None


def test_engine_answers_in_words(engine) -> None:
    from physreason.reasoning.executor import execute
    from physreason.reasoning.questions import parse_question
    from physreason.reasoning.world import ReasoningWorld

    result = engine.answer("How many collisions happen?")
    truth = execute(parse_question("How many collisions happen?"), ReasoningWorld.from_records(engine.observation))
    assert result.answer == truth.answer
    assert "answer:" in result.trace()
    obs = engine.observation
    a, b = obs.objects[0], obs.objects[1]
    choice = f"The {a.color} {a.material} {a.shape} and the {b.color} {b.material} {b.shape} collide"
    mc = engine.answer("What will happen next?", [choice])
    assert mc.answer is None and mc.choices[0].answer in ("correct", "wrong")
    assert "choice: " in mc.trace()


def test_engine_bad_questions(engine) -> None:
    from physreason import Engine
    from physreason.errors import ConfigError, ParseError

    with pytest.raises(ParseError):
        engine.answer("Why is the sky blue?")
    with pytest.raises(ConfigError):
        engine.answer("What will happen next?")
    with pytest.raises(ConfigError):
        Engine().answer("How many collisions happen?")


def test_oracle_answers_observed_questions_exactly(engine, dataset: Path) -> None:
    from physreason.reasoning.metrics import evaluate

    video = read_questions(str(DatasetLayout(dataset).path("question", INDICES[0]))).videos[0]
    answers = engine.answer_video(video)
    metrics = evaluate([video], [answers])
    assert metrics.tally("descriptive").per_question == 1.0
    assert metrics.tally("explanatory").per_question == 1.0
    assert set(engine.timings) >= {"perception", "physics", "reasoning"}


def test_eval_command_writes_results_and_resumes(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    first = run("eval", str(dataset), "--mode", "oracle", "--out", str(out), "--quiet")
    assert first.returncode == 0, first.stderr
    assert "descriptive" in first.stdout and "overall per question" in first.stdout
    submission = read_submission(str(out))
    assert [v.scene_index for v in submission] == list(INDICES)
    report = json.loads((tmp_path / "res.report.json").read_text())
    assert report["videos"] == 2 and report["mode"] == "oracle"
    assert report["metrics"]["descriptive"]["per_question"] == 1.0
    assert report["timing"]["total_mean_s"] > 0
    parts = sorted(p.name for p in (tmp_path / "res.videos").iterdir())
    assert parts == [f"video_{i:05d}.json" for i in INDICES]
    stamps = [p.stat().st_mtime_ns for p in sorted((tmp_path / "res.videos").iterdir())]
    again = run("eval", str(dataset), "--mode", "oracle", "--out", str(out), "--quiet")
    assert again.returncode == 0, again.stderr
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "res.videos").iterdir())] == stamps
    assert read_submission(str(out)) == submission


def test_eval_python_api(dataset: Path, tmp_path: Path) -> None:
    from physreason import Engine

    layout = DatasetLayout(dataset)  # descriptive questions only: no physics fit needed
    videos = [replace(v, questions=tuple(q for q in v.questions if q.question_type == "descriptive"))
              for i in INDICES for v in read_questions(str(layout.path("question", i))).videos]
    write_questions(str(tmp_path / "descriptive.json"), QuestionFile(tuple(videos)))
    report = Engine(soft_fallback=False, priors="flat").evaluate(dataset, mode="oracle",
                                                                 questions=tmp_path / "descriptive.json", limit=1)
    assert report.config.soft_fallback is False and report.config.priors == "flat"  # the engine's settings
    assert report.results[0]["soft_fallback"] is False and report.results[0]["priors"] == "flat"
    assert len(report.results) == 1 and report.results[0]["scene_index"] == INDICES[0]
    assert report.results[0]["fit_quality"] is None  # nothing was fitted
    assert report.metrics.tally("descriptive").per_question == 1.0
    assert report.metrics.tally("counterfactual").questions == 0


def test_answer_command_oracle(dataset: Path, tmp_path: Path) -> None:
    layout = DatasetLayout(dataset)
    annotation = str(layout.path("annotation", INDICES[1]))
    one = run("answer", annotation, "--question", "How many collisions happen?")
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip().isdigit()
    out, world = tmp_path / "answers.json", tmp_path / "world.json"
    many = run("answer", annotation, "--questions", str(layout.path("question", INDICES[1])), "--out", str(out),
               "--world-out", str(world))
    assert many.returncode == 0, many.stderr
    assert "questions right" in many.stdout
    assert read_submission(str(out))[0].scene_index == INDICES[1]
    assert files.read_world(world).observation.n_frames == 178
    glb = tmp_path / "scene.glb"
    exported = run("export", str(world), "--frame", "150", "--out", str(glb))
    assert exported.returncode == 0, exported.stderr
    import trimesh

    scene = trimesh.load(glb)
    n_objects = len(files.read_annotation(annotation).objects)
    assert len(scene.geometry) == n_objects + 1  # the objects and the table


def test_answer_command_soft_fallback_and_strict(dataset: Path, tmp_path: Path) -> None:
    """A question about an object no one saw is answered by the soft executor, or with --strict left
    unanswered; either way the note names the failed program."""
    from physreason.datasets.questions import Question, VideoQuestions

    annotation = str(DatasetLayout(dataset).path("annotation", INDICES[1]))
    seen = {(o.material, o.shape) for o in files.read_annotation(annotation).objects}
    material, shape = next((m, s) for m in ("metal", "rubber") for s in ("sphere", "cube", "cylinder")
                           if (m, s) not in seen)
    qfile = tmp_path / "q.json"
    question = Question(0, f"What is the color of the {material} {shape}?", "descriptive")
    write_questions(str(qfile), QuestionFile((VideoQuestions(INDICES[1], (question,)),)))
    soft = run("answer", annotation, "--questions", str(qfile))
    assert soft.returncode == 0, soft.stderr
    assert "answer: " in soft.stdout and "(answered by the soft executor)" in soft.stdout
    strict = run("answer", annotation, "--questions", str(qfile), "--strict")
    assert strict.returncode == 0, strict.stderr
    assert "(no answer: the program could not run)" in strict.stdout and "unique" in strict.stdout


def test_cli_bad_input(dataset: Path, tmp_path: Path) -> None:
    annotation = str(DatasetLayout(dataset).path("annotation", INDICES[0]))
    assert_clean_error(run("answer", str(tmp_path / "missing.mp4"), "--question", "How many collisions happen?"),
                       "missing.mp4")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("this is not a video")
    assert_clean_error(run("answer", str(not_video), "--question", "How many collisions happen?"))
    world = tmp_path / "w.json"
    assert_clean_error(run("answer", annotation, "--question", "Why is the sky blue?", "--world-out", str(world)),
                       "sky")
    assert not world.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "r.json"
    assert_clean_error(run("eval", str(empty), "--mode", "oracle", "--out", str(out)), "no questions")
    assert_clean_error(run("eval", str(tmp_path / "nowhere"), "--out", str(out)), "nowhere")
    assert_clean_error(run("eval", str(dataset), "--mode", "oracle", "--out", str(out), "--priors",
                           str(tmp_path / "no_priors.json")), "no_priors.json")
    assert_clean_error(run("answer", annotation, "--question", "How many collisions happen?", "--priors",
                           str(tmp_path / "no_priors.json"), "--world-out", str(world)), "no_priors.json")
    assert not world.exists()
    assert not out.exists() and not (tmp_path / "r.report.json").exists() and not (tmp_path / "r.videos").exists()
    glb = tmp_path / "x.glb"
    assert_clean_error(run("export", annotation, "--frame", "999", "--out", str(glb)), "999")
    assert_clean_error(run("export", annotation, "--frame", "3", "--out", str(tmp_path / "x.fbx")), ".fbx")
    assert not glb.exists()
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind


def test_engine_fits_with_the_priors_it_is_given(engine, dataset: Path) -> None:
    """Flat priors give every material the same starting mass, restitution and friction: the fit
    of the same annotation differs from the shipped priors' one; a missing priors file fails at once."""
    from physreason import Engine
    from physreason.errors import FormatError

    flat = Engine(priors="flat").from_annotation(DatasetLayout(dataset).path("annotation", INDICES[0]))
    masses = [[p.mass for p in e.fit().fit.params.objects] for e in (engine, flat)]
    assert not np.allclose(masses[0], masses[1], rtol=1e-3)
    with pytest.raises(FormatError, match="missing.json"):
        Engine(priors=str(dataset / "missing.json"))


def test_pictures(engine) -> None:
    from physreason.pipeline.draw import annotated_frames, trajectory_plot

    obs, worlds = engine.observation, engine.worlds
    frames = np.full((obs.n_frames, 320, 480, 3), 128, np.uint8)
    ghost = next(w for w in worlds.removed_worlds if any(w.removed in e.objects for e in obs.collisions))
    drawn = list(annotated_frames(frames, obs, worlds.future, ghost))
    assert len(drawn) == worlds.future.observation.n_frames
    assert drawn[0].shape == (320, 480, 3) and drawn[0].dtype == np.uint8
    assert (drawn[10] != 128).any() and (drawn[-1] != drawn[0]).any()
    image = trajectory_plot(obs, worlds.future)
    assert image.size == (900, 1000)
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 5


def test_stored_results_are_reused_only_with_the_same_perception(dataset: Path, tmp_path: Path) -> None:
    """A resumed perception-mode eval recomputes videos perceived with other weights or concepts
    (or answered with another soft_fallback, or fitted with other priors)."""
    from physreason.datasets.fileio import write_json
    from physreason.pipeline.evaluate import RESULT_VERSION, VideoJob, _question_key, cached_result

    video = read_questions(str(DatasetLayout(dataset).path("question", INDICES[0]))).videos[0]
    path = str(tmp_path / "video.json")
    job = VideoJob(INDICES[0], "video.mp4", "perception", video, path, concepts="learned")
    write_json(path, {"version": RESULT_VERSION, "mode": "perception", "source": "video.mp4",
                      "questions": _question_key(video), "perception": job.perception(), "soft_fallback": True,
                      "priors": None, "answers": []})
    assert cached_result(job) is not None
    assert cached_result(replace(job, soft_fallback=False)) is None  # answered otherwise
    assert cached_result(replace(job, priors="flat")) is None  # fitted otherwise
    assert cached_result(replace(job, concepts=None)) is None
    assert cached_result(replace(job, weights="other")) is None
    assert VideoJob(0, "a.json", "oracle", video, path).perception() is None
