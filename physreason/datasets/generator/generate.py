"""Generating a CLEVRER-style dataset: sample, simulate, render and write each video.

For video ``i`` of a dataset with seed ``s`` the generator writes, in CLEVRER's layout
(:mod:`physreason.datasets.layout`): the rendered observed frames (mp4), the annotation of the
observed window, per-frame instance masks as a proposal file, the physical parameters, the
observed window plus held-out future as a factual world, for each object, the events of
the scene re-simulated without it, and (unless turned off) CLEVRER-style questions answered on
that ground truth. Every file is written atomically and the video file last, so a video whose
files all exist is complete and is skipped on a re-run. At the end, every video's questions
found under the output folder are gathered into one CLEVRER question file, ``questions.json``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from physreason.datasets import files
from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.generator.questions import generate_questions
from physreason.datasets.generator.render import render_video
from physreason.datasets.generator.scene import Scene, SceneConfig, sample_scene
from physreason.datasets.generator.simulate import Rollout, simulate
from physreason.datasets.layout import KINDS, DatasetLayout, find_files
from physreason.datasets.proposals import ProposalFrame, ProposalObject, Proposals, write_proposals
from physreason.datasets.questions import QuestionFile, read_questions, write_questions
from physreason.datasets.records import (Counterfactuals, CounterfactualOutcome, Observation, Track, World,
                                         sort_events, switch_events)
from physreason.datasets.rle import encode
from physreason.datasets.video import write_video
from physreason.datasets.vocab import COLORS, FPS, N_FUTURE_FRAMES, N_OBSERVED_FRAMES
from physreason.errors import ConfigError, PhysreasonError

if TYPE_CHECKING:
    from physreason.execution import Backend, TaskResult


class GenerationError(PhysreasonError):
    """Some videos of a dataset could not be generated (the message lists them)."""


def camera_for_size(width: int, height: int) -> Camera:
    """CLEVRER's camera at another image size: same pose and field of view, scaled intrinsics."""
    base = CLEVRER_CAMERA
    if (width, height) == (base.width, base.height):
        return base
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ConfigError(f"image size must be positive and even, got {width}x{height}")
    scale = height / base.height
    return Camera(width=width, height=height, focal=base.focal * scale, cx=width / 2, cy=height / 2,
                  position=base.position, target=base.target, up=base.up)


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate: ``n_videos`` videos with indices ``start .. start + n_videos - 1``
    (with their questions unless ``questions`` is False); objects take colors from ``colors``."""

    out: Path
    n_videos: int
    seed: int = 0
    n_frames: int = N_OBSERVED_FRAMES
    n_future: int = N_FUTURE_FRAMES
    width: int = 480
    height: int = 320
    workers: int = 1
    start: int = 0
    questions: bool = True
    colors: tuple[str, ...] = COLORS
    camera: Camera = field(init=False)

    def __post_init__(self) -> None:
        if self.n_videos < 0:
            raise ConfigError(f"--videos must be >= 0, got {self.n_videos}")
        if self.n_frames < 2 or self.n_future < 0:
            raise ConfigError(f"need --frames >= 2 and --future >= 0, got {self.n_frames} and {self.n_future}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.start < 0:
            raise ConfigError(f"--start must be >= 0, got {self.start}")
        object.__setattr__(self, "camera", camera_for_size(self.width, self.height))
        _ = self.scene_config  # validates the palette now, not in a worker (ConfigError)

    @property
    def scene_config(self) -> SceneConfig:
        return SceneConfig(n_observed=self.n_frames, n_future=self.n_future, camera=self.camera,
                           colors=tuple(self.colors))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The file kinds written per video."""
        return tuple(kind for kind in KINDS if self.questions or kind != "question")


@dataclass(frozen=True)
class VideoSummary:
    """What one generated video contains and how long each stage took (seconds)."""

    index: int
    n_objects: int
    n_collisions: int
    n_future_collisions: int
    n_entering: int
    skipped: bool = False
    simulate_s: float = 0.0
    render_s: float = 0.0
    questions_s: float = 0.0
    write_s: float = 0.0


def observation_from_rollout(scene_index: int, scene: Scene, rollout: Rollout, camera: Camera,
                             n_frames: int) -> Observation:
    """The first ``n_frames`` of a rollout as an Observation; visibility = centre inside the image."""
    visible = camera.in_view(rollout.position[:n_frames])
    tracks = tuple(Track(k, rollout.position[:n_frames, k], rollout.velocity[:n_frames, k],
                         rollout.orientation[:n_frames, k], rollout.angular_velocity[:n_frames, k],
                         visible[:, k]) for k in range(len(scene.objects)))
    collisions = tuple(e for e in rollout.collisions if e.frame < n_frames)
    return Observation(scene_index, scene.objects, tracks, collisions, n_frames, camera)


def counterfactuals(scene_index: int, scene: Scene, camera: Camera, n_frames: int) -> Counterfactuals:
    """For each object, the events (collisions, in/out) of the scene re-simulated without it."""
    outcomes = []
    for k in range(len(scene.objects)):
        rollout = simulate(scene.objects, scene.params, n_frames, removed=(k,))
        visible = camera.in_view(rollout.position)
        switches = [e for j in range(len(scene.objects)) if j != k for e in switch_events(j, visible[:, j])]
        events = sort_events(list(rollout.collisions) + switches)
        outcomes.append(CounterfactualOutcome(k, (), events))
    return Counterfactuals(scene_index, n_frames, tuple(outcomes))


def ground_truth(index: int, config: GenerateConfig) -> tuple[Scene, Observation, World, Counterfactuals]:
    """Video ``index``'s sampled scene and its records, without rendering: the observation
    (``config.n_frames``), the factual world (observed + future frames) and the counterfactuals."""
    scene = sample_scene(index, config.seed, config.scene_config)
    total = config.n_frames + config.n_future
    obs = observation_from_rollout(index, scene, scene.rollout, config.camera, config.n_frames)
    future = World(observation_from_rollout(index, scene, scene.rollout, config.camera, total), "factual")
    return scene, obs, future, counterfactuals(index, scene, config.camera, total)


def proposals_from_ids(scene: Scene, ids: np.ndarray) -> Proposals:
    """Ground-truth proposals (score 1) from per-frame instance-id images (T, H, W)."""
    frames = []
    for f, frame_ids in enumerate(ids):
        objs = []
        for obj in scene.objects:
            mask = frame_ids == obj.id
            if mask.any():
                objs.append(ProposalObject(obj.color, obj.material, obj.shape, 1.0, encode(mask), obj.id))
        frames.append(ProposalFrame(f, f"frame_{f:05d}.png", tuple(objs)))
    return Proposals(tuple(frames))


def is_complete(layout: DatasetLayout, index: int, kinds: Iterable[str] = KINDS) -> bool:
    """Whether every file of video ``index`` exists (writes are atomic and the video comes last)."""
    return all(layout.path(kind, index).is_file() for kind in kinds)


def generate_video(index: int, config: GenerateConfig) -> VideoSummary:
    """Generate and write video ``index``; skip it if it is already complete."""
    layout = DatasetLayout(Path(config.out))
    if is_complete(layout, index, config.kinds):
        obs = files.read_annotation(layout.path("annotation", index))
        future = files.read_world(layout.path("future", index)).observation
        return _summary(index, obs, future, skipped=True)
    t0 = time.perf_counter()
    scene, obs, future, cfs = ground_truth(index, config)
    t1 = time.perf_counter()
    frames, ids = render_video(scene.objects, scene.rollout.position[:config.n_frames],
                               scene.rollout.quaternion[:config.n_frames], config.camera)
    t2 = time.perf_counter()
    questions = generate_questions(obs, future, cfs, config.seed) if config.questions else None
    t3 = time.perf_counter()
    files.write_annotation(layout.path("annotation", index), obs)
    files.write_physics(layout.path("physics", index), scene.params)
    files.write_world(layout.path("future", index), future)
    files.write_counterfactuals(layout.path("counterfactual", index), cfs)
    write_proposals(layout.path("proposal", index), proposals_from_ids(scene, ids))
    if questions is not None:
        write_questions(str(layout.path("question", index)), QuestionFile((questions,)))
    write_video(layout.path("video", index), frames, fps=FPS)
    t4 = time.perf_counter()
    return _summary(index, obs, future.observation, simulate_s=t1 - t0, render_s=t2 - t1, questions_s=t3 - t2,
                    write_s=t4 - t3)


def _summary(index: int, obs: Observation, future: Observation, skipped: bool = False, **times: float) -> VideoSummary:
    entering = sum(1 for tr in obs.tracks if not tr.visible[0] and tr.visible.any())
    n_future = sum(1 for e in future.collisions if e.frame >= obs.n_frames)
    return VideoSummary(index, len(obs.objects), len(obs.collisions), n_future, entering, skipped, **times)


def generate_videos(config: GenerateConfig, backend: Backend | None = None, *, quiet: bool = True,
                    on_done: Callable[[VideoSummary], None] | None = None) -> list[TaskResult]:
    """Generate every video of ``config`` on ``backend`` (default: a local pool of ``config.workers``).

    One task per video; returns a :class:`TaskResult` per video in index order (a video that fails
    has ``error`` set, the others complete). Each video is seeded by its index and the dataset
    seed, so the files do not depend on the backend or the number of workers. Complete videos
    are skipped; ``questions.json`` is (re)gathered at the end from every video present.
    """
    from physreason.execution import run_videos
    from physreason.execution.local import LocalBackend

    config.scene_config  # a bad option is one error for the command, not one per video
    remove_stale_temp_files(Path(config.out))
    indices = range(config.start, config.start + config.n_videos)
    backend = backend or LocalBackend(config.workers)
    results = run_videos(partial(generate_video, config=config), indices, backend, desc="generate", quiet=quiet,
                         on_result=(lambda r: on_done(r.value) if r.ok else None) if on_done else None)
    if config.questions and Path(config.out).is_dir():
        write_all_questions(Path(config.out))
    return results


def remove_stale_temp_files(root: Path) -> int:
    """Delete the temporary files that a killed run left beside its outputs (``.annotation_00042.json.*``);
    returns how many. (Writes are atomic: a killed run leaves these, never a half-written output.)"""
    if not root.is_dir():
        return 0
    pattern = re.compile(rf"^\.(({'|'.join(KINDS)})_\d+\.(json|mp4)|questions\.json)\..+$")
    stale = [p for p in root.rglob(".*") if p.is_file() and pattern.match(p.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def generate_dataset(config: GenerateConfig, on_done: Callable[[VideoSummary], None] | None = None,
                     backend: Backend | None = None) -> list[VideoSummary]:
    """Generate every video of ``config`` (in parallel with ``config.workers`` processes, or on ``backend``).

    ``on_done`` is called once per finished video (e.g. to advance a progress bar). Results are
    returned in index order; the output does not depend on the number of workers. If a video
    fails, the others are still generated and then a :class:`GenerationError` names the failures.
    """
    results = generate_videos(config, backend, on_done=on_done)
    failed = [r for r in results if not r.ok]
    if failed:
        raise GenerationError("; ".join(f"video {r.index}: {r.error}" for r in failed))
    return [r.value for r in results]


def write_all_questions(root: Path) -> Path:
    """Gather the question files of every video under ``root`` into ``root/questions.json``, in index order."""
    videos = [video for path in find_files(root, "question").values() for video in read_questions(str(path)).videos]
    out = root / "questions.json"
    write_questions(str(out), QuestionFile(tuple(videos)))
    return out
