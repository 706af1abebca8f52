"""The data of concept learning: cached object crops and, per video, its world and questions.

Crops are cut once per object per video (:mod:`physreason.perception.object_features`) and
cached in one ``.npz`` file (``crops`` (M, K, S, S, 3) uint8, ``video`` (M,), ``object`` (M,)),
written atomically. A :class:`VideoExample` holds what training reads: the world the programs
run on (tracks and events: from the annotation here, from perception in the pipeline), the
descriptive questions with their answers, and which cache rows hold each object's crops.
The attribute words of the annotation are kept in ``labels`` for evaluation only; training
never reads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from physreason.datasets import files
from physreason.datasets.fileio import atomic_write_bytes
from physreason.datasets.layout import find_files
from physreason.datasets.proposals import read_proposals
from physreason.datasets.questions import read_questions
from physreason.datasets.records import ObjectInfo
from physreason.datasets.video import read_video
from physreason.errors import ConfigError, FormatError
from physreason.perception.object_features import CropConfig, video_object_crops
from physreason.reasoning.executor import program_tree
from physreason.reasoning.program import Expr
from physreason.reasoning.world import ReasoningWorld


@dataclass(frozen=True)
class CropCache:
    """Crops of every object of a set of videos: ``crops[i]`` is object ``object[i]`` of video ``video[i]``,
    cut with the :class:`CropConfig` whose fields are ``config`` (None: unknown, e.g. an older file)."""

    crops: np.ndarray
    video: np.ndarray
    object: np.ndarray
    config: dict | None = None

    def __len__(self) -> int:
        return len(self.video)

    def rows(self) -> dict[tuple[int, int], int]:
        """``(video, object id) -> row``."""
        return {(int(v), int(o)): i for i, (v, o) in enumerate(zip(self.video, self.object))}

    def save(self, path: str | Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, crops=self.crops, video=self.video, object=self.object, config=json.dumps(self.config))
        atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))

    @classmethod
    def load(cls, path: str | Path) -> CropCache:
        try:
            with np.load(path) as data:
                config = json.loads(str(data["config"])) if "config" in data else None
                return cls(data["crops"], data["video"], data["object"], config)
        except (OSError, KeyError, ValueError) as exc:
            raise FormatError(str(path), "crops", f"not a crop cache: {exc}") from None


def dataset_indices(root: str | Path, limit: int | None = None) -> list[int]:
    """Indices of the videos of ``root`` that have a video, proposals, annotation and questions."""
    kinds = [find_files(root, k) for k in ("video", "proposal", "annotation", "question")]
    common = sorted(set(kinds[0]).intersection(*kinds[1:]))
    if not common:
        raise ConfigError(f"{root}: no video with video, proposal, annotation and question files")
    return common[:limit] if limit is not None else common


def build_crop_cache(root: str | Path, indices: Sequence[int], config: CropConfig = CropConfig(),
                     on_video: Callable[[int], None] | None = None) -> CropCache:
    """Crop every object of the videos ``indices`` of dataset ``root`` (masks from ``proposals/``)."""
    videos, proposals = find_files(root, "video"), find_files(root, "proposal")
    crops, vids, objs = [], [], []
    for index in indices:
        frames = read_video(videos[index])
        for key, c in video_object_crops(frames, read_proposals(proposals[index]), config).items():
            crops.append(c)
            vids.append(index)
            objs.append(key)
        if on_video:
            on_video(index)
    shape = (0, config.n_crops, config.size, config.size, 3)
    return CropCache(np.stack(crops) if crops else np.zeros(shape, np.uint8),
                     np.array(vids, dtype=np.int64), np.array(objs, dtype=np.int64), vars(config).copy())


def cached_crops(root: str | Path, indices: Sequence[int], path: str | Path | None,
                 config: CropConfig = CropConfig(), on_video: Callable[[int], None] | None = None) -> CropCache:
    """The crops of videos ``indices``: those cached at ``path`` are read, the others are cut
    (and the cache at ``path`` extended with them). A cache cut with another :class:`CropConfig`
    is cut again."""
    old = None
    if path is not None and Path(path).is_file():
        old = CropCache.load(path)
        if old.config != vars(config):
            old = None
    have = set() if old is None else {int(v) for v in old.video}
    missing = [i for i in indices if i not in have]
    if not missing and old is not None:
        return old
    new = build_crop_cache(root, missing, config, on_video)
    if old is not None:
        new = CropCache(np.concatenate([old.crops, new.crops]), np.concatenate([old.video, new.video]),
                        np.concatenate([old.object, new.object]), new.config)
    if path is not None:
        new.save(path)
    return new


@dataclass(frozen=True)
class QA:
    """One question: its program tree, answer and text."""

    tree: Expr
    answer: str
    text: str
    subtype: str


@dataclass(frozen=True)
class VideoExample:
    """One video: its world, descriptive questions, cache row per object id (-1: no crop), and the
    annotation's objects (``labels``: for evaluation only)."""

    index: int
    world: ReasoningWorld
    questions: tuple[QA, ...]
    rows: np.ndarray
    labels: tuple[ObjectInfo, ...]


def load_videos(root: str | Path, indices: Sequence[int], cache: CropCache) -> list[VideoExample]:
    """The examples of videos ``indices`` of ``root`` (GT tracks and events; descriptive questions)."""
    annotations, questions = find_files(root, "annotation"), find_files(root, "question")
    rows = cache.rows()
    out = []
    for index in indices:
        obs = files.read_annotation(annotations[index])
        world = ReasoningWorld.from_records(obs)
        qas = []
        for vq in read_questions(str(questions[index])).videos:
            for q in vq.questions:
                if q.question_type == "descriptive" and q.program and q.answer is not None:
                    qas.append(QA(program_tree(q.program), q.answer, q.question, q.question_subtype or ""))
        r = np.array([rows.get((index, o.id), -1) for o in obs.objects], dtype=np.int64)
        out.append(VideoExample(index, world, tuple(qas), r, obs.objects))
    return out
