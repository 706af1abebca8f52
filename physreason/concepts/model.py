"""Learned concepts: an object encoder plus a concept space, saved in one small file.

:meth:`LearnedConcepts.relabel` is what the pipeline calls for ``--concepts learned``: it reads
a video's frames and per-frame masks into attribute words per object, in place of the
supervised attribute heads, and writes them into the Observation with the concept
probabilities (``attribute_probs``, which the soft executor answers from when a program cannot
run on the words alone).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from physreason.datasets.fileio import atomic_write_bytes
from physreason.datasets.proposals import Proposals
from physreason.datasets.records import ObjectInfo, Observation
from physreason.errors import ConfigError, FormatError
from physreason.perception.object_features import CropConfig, ObjectEncoder, encode_objects, video_object_crops
from physreason.reasoning.concepts import ConceptSpace

FORMAT = "physreason-concepts-1"
SHIPPED = Path(__file__).resolve().parent / "weights" / "concepts.pt"
"""The learned concepts shipped with the package (``"learned"`` in :func:`load_concepts`)."""
READ_CROPS = 8
"""Crops per object when a video is described (training uses fewer, for speed): the mean over
more views is steadier. On tracked objects with detector masks (held-out 0-49), shape is read
right on 95.6 % of objects from 4 crops, 97.2 % from 8."""
_LOADED: dict[Path, LearnedConcepts] = {}


@dataclass
class LearnedConcepts:
    """An :class:`ObjectEncoder` (crops -> features), a :class:`ConceptSpace` (features -> concept
    probabilities) and the :class:`CropConfig` the crops are cut with."""

    encoder: ObjectEncoder
    space: ConceptSpace
    crops: CropConfig = CropConfig()

    def save(self, path: str | Path, meta: Mapping | None = None) -> None:
        """Write the model to ``path`` atomically (``meta``: e.g. the command that trained it)."""
        state = {"format": FORMAT, "encoder": self.encoder.to_state(), "space": self.space.to_state(),
                 "crops": vars(self.crops).copy(), "meta": dict(meta or {})}
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))

    @classmethod
    def load(cls, path: str | Path) -> LearnedConcepts:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a bad file
            raise FormatError(str(path), "concepts", f"cannot read learned concepts: {exc}") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise FormatError(str(path), "format", f"not a learned-concepts file (expected '{FORMAT}')")
        return cls(ObjectEncoder.from_state(state["encoder"]), ConceptSpace.from_state(state["space"]),
                   CropConfig(**state["crops"]))

    def read_crops(self, crops: Mapping[int, np.ndarray]) -> tuple[dict[int, tuple[str, str, str]],
                                                                    dict[int, dict[str, np.ndarray]]]:
        """Per object of one video, from its crops (K, S, S, 3) uint8: the words (color, material,
        shape), distinct objects getting distinct triples (:meth:`ConceptSpace.describe`), and per
        attribute the concept probabilities (len(vocab[attribute]),)."""
        keys = sorted(crops)
        if not keys:
            return {}, {}
        feats = encode_objects(self.encoder, [crops[k] for k in keys])
        with torch.no_grad():
            probs = {a: p.numpy() for a, p in self.space.probabilities(feats).items()}
        words = dict(zip(keys, self.space.describe(feats, distinct=True)))
        return words, {k: {a: p[i] for a, p in probs.items()} for i, k in enumerate(keys)}

    def read_video(self, frames: np.ndarray, proposals: Proposals, ids: Mapping[tuple[int, int], int] | None = None
                   ) -> tuple[dict[int, tuple[str, str, str]], dict[int, dict[str, np.ndarray]]]:
        """:meth:`read_crops` of a video's objects: frames (T, H, W, 3) and per-frame masks.

        Objects are the proposals' ``object_id`` values, or, with ``ids``, the objects that
        ``ids`` assigns each ``(frame_index, index in the frame)`` detection to (e.g. track ids).
        Each object is read from at least ``READ_CROPS`` crops (its feature is their mean).
        """
        config = replace(self.crops, n_crops=max(self.crops.n_crops, READ_CROPS))
        return self.read_crops(video_object_crops(frames, proposals, config, ids))

    def describe_video(self, frames: np.ndarray, proposals: Proposals,
                       ids: Mapping[tuple[int, int], int] | None = None) -> dict[int, tuple[str, str, str]]:
        """The words of :meth:`read_video`."""
        return self.read_video(frames, proposals, ids)[0]

    def relabel(self, observation: Observation, frames: np.ndarray, proposals: Proposals,
                ids: Mapping[tuple[int, int], int] | None = None) -> Observation:
        """The observation with its objects' words and ``attribute_probs`` read by these concepts."""
        return relabel_observation(observation, *self.read_video(frames, proposals, ids), vocab=self.space.vocab)


def load_concepts(path: str | Path) -> LearnedConcepts:
    """The learned concepts of a file, or the shipped ones for ``"learned"``; loaded once per process."""
    file = SHIPPED if str(path) == "learned" else Path(path).resolve()
    if not file.is_file():
        raise ConfigError(f"{file}: learned-concepts file not found (make one with 'physreason train concepts')")
    if file not in _LOADED:
        model = LearnedConcepts.load(file)
        check_vocab(model.space)
        _LOADED[file] = model
    return _LOADED[file]


def relabel_observation(observation: Observation, words: Mapping[int, tuple[str, str, str]],
                        probs: Mapping[int, Mapping[str, np.ndarray]] | None = None,
                        vocab: Mapping[str, tuple[str, ...]] | None = None) -> Observation:
    """The observation with each object's attributes replaced by ``words[object id]`` (objects
    without an entry keep theirs). With ``probs`` (per object id and attribute, probabilities over
    ``vocab[attribute]``), also its ``attribute_probs`` (objects without an entry: uniform)."""
    objects = tuple(ObjectInfo(o.id, *words[o.id]) if o.id in words else o for o in observation.objects)
    if probs is None:
        return replace(observation, objects=objects)
    if vocab is None:
        raise ConfigError("relabel_observation: probs need their vocab")
    table = {}
    for attr, names in vocab.items():
        p = np.full((len(objects), len(names)), 1.0 / max(len(names), 1))
        for o in objects:
            if o.id in probs:
                p[o.id] = probs[o.id][attr]
        table[attr] = {w: p[:, j] for j, w in enumerate(names)}
    return replace(observation, objects=objects, attribute_probs=table)


def check_vocab(space: ConceptSpace) -> None:
    """Raise ConfigError when an attribute has no concept (the model cannot describe objects)."""
    empty = [a for a, words in space.vocab.items() if not words]
    if empty:
        raise ConfigError(f"learned concepts have no words for {', '.join(empty)}")
