"""The ``physreason train concepts`` recipes: learn concepts from a dataset's questions, add a
concept from a few questions, and score a model on held-out videos against the baselines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from physreason.concepts.data import VideoExample, cached_crops, dataset_indices, load_videos
from physreason.concepts.model import LearnedConcepts
from physreason.concepts.training import (Log, Scores, TrainConfig, _noop, cache_features, evaluate, few_shot_examples,
                                          fit_supervised_heads, head_probs, learn_concept, pretrain_encoder,
                                          train_concepts, usable, video_probs)
from physreason.errors import ConfigError
from physreason.perception.object_features import CropConfig, ObjectEncoder
from physreason.reasoning.concepts import DEFAULT_VOCAB, ConceptSpace
from physreason.reasoning.soft_executor import mentions

ENCODER = dict(backbone="cropnet_small", input_size=64, pool="meanmax", dims=(32, 64, 128), depths=(1, 1, 1))
"""The default object encoder: a ~0.2 M parameter robust CropNet on 64x64 crops."""

CROP_DILATE = 4
"""Object masks are grown by this many pixels before cutting crops: the crops then show the
object's own edges, which the generator's masks (training) and the detector's rounder masks
(the pipeline) agree on. With the masks as they are, shape read on tracked objects was 85.7 %
against 97 % on the generator's masks."""


@dataclass(frozen=True)
class Recipe:
    """What :func:`learn` does: ``pretrain_steps`` of identity pretraining (batch
    ``pretrain_batch``), then ``train`` (QA training, end to end when ``end_to_end``)."""

    pretrain_steps: int = 300
    pretrain_batch: int = 96
    end_to_end: bool = True
    embed_dim: int = 32
    train: TrainConfig = field(default_factory=TrainConfig)
    crops: CropConfig = field(default_factory=lambda: CropConfig(dilate=CROP_DILATE))
    encoder: dict = field(default_factory=lambda: dict(ENCODER))


def _videos(root: str | Path, first: int, n: int | None, cache_path: str | Path | None, crops: CropConfig,
            log: Log) -> tuple[list[VideoExample], object]:
    indices = [i for i in dataset_indices(root) if i >= first][:n]
    if not indices:
        raise ConfigError(f"{root}: no complete video from index {first}")
    log(f"{root}: {len(indices)} videos ({indices[0]}..{indices[-1]}); cutting object crops")
    cache = cached_crops(root, indices, cache_path, crops)
    return load_videos(root, indices, cache), cache


def learn(root: str | Path, recipe: Recipe = Recipe(), first: int = 0, n_videos: int | None = None,
          cache_path: str | Path | None = None, log: Log = _noop) -> tuple[LearnedConcepts, list[VideoExample], object]:
    """Learn concepts from the descriptive questions of videos ``first..`` of ``root`` (no labels)."""
    torch.manual_seed(recipe.train.seed)
    videos, cache = _videos(root, first, n_videos, cache_path, recipe.crops, log)
    vocab = {a: tuple(w for w in words if w not in recipe.train.skip) for a, words in DEFAULT_VOCAB.items()}
    encoder = ObjectEncoder(**recipe.encoder)
    if recipe.pretrain_steps:
        pretrain_encoder(encoder, cache, recipe.pretrain_steps, recipe.pretrain_batch, seed=recipe.train.seed, log=log)
    features = cache_features(encoder, cache)
    space = ConceptSpace(encoder.feature_dim, recipe.embed_dim, vocab)
    n_q = sum(usable(qa, space, recipe.train.skip) for v in videos for qa in v.questions)
    log(f"training concepts on {n_q} descriptive questions of {len(videos)} videos")
    train_concepts(space, videos, features, recipe.train, log=log,
                   encoder=encoder if recipe.end_to_end else None, cache=cache)
    return LearnedConcepts(encoder, space, recipe.crops), videos, cache


def add_concept(model: LearnedConcepts, root: str | Path, word: str, attribute: str, shots: int = 5,
                first: int = 0, n_videos: int | None = None, cache_path: str | Path | None = None,
                steps: int = 200, log: Log = _noop) -> list[tuple[VideoExample, object]]:
    """Learn ``word`` from the first ``shots`` questions using it in videos ``first..`` of ``root``."""
    videos, cache = _videos(root, first, n_videos, cache_path, model.crops, log)
    examples = few_shot_examples(videos, word, shots)
    if len(examples) < 1:
        raise ConfigError(f"{root}: no descriptive question uses '{word}'")
    for video, qa in examples:
        log(f"  example (video {video.index}): {qa.text} -> {qa.answer}")
    features = cache_features(model.encoder, cache)
    learn_concept(model.space, attribute, word, examples, features, steps, log=log)
    return examples


def score(model: LearnedConcepts, root: str | Path, first: int = 0, n_videos: int | None = None,
          cache_path: str | Path | None = None, about: Sequence[str] = (),
          baseline_videos: Sequence[VideoExample] = (), baseline_cache=None, log: Log = _noop) -> dict[str, Scores]:
    """Scores of the learned concepts on videos ``first..`` of ``root`` (only questions using a word
    of ``about``, when given); with ``baseline_videos`` (training videos, whose labels it reads),
    also of a label-supervised linear head on the same features."""
    videos, cache = _videos(root, first, n_videos, cache_path, model.crops, log)
    features = cache_features(model.encoder, cache)
    vocab = model.space.vocab
    select = None
    if about:
        select = lambda _v, qa: qa.answer in about or mentions(qa.tree, about)  # noqa: E731
    out = {"learned": evaluate(videos, lambda v: video_probs(model.space, v, features), vocab, select)}
    if baseline_videos:
        train_features = cache_features(model.encoder, baseline_cache)
        heads = fit_supervised_heads(baseline_videos, train_features, vocab)
        out["supervised head"] = evaluate(videos, lambda v: head_probs(heads, v, features), vocab, select)
    return out
