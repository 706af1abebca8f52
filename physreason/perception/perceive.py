"""Perception from pixels: a video -> per-frame proposals -> an :class:`Observation`.

:func:`perceive_video` reads a video (mp4 or PNG folder), runs the detector on every frame
(:mod:`.detector`), classifies each detected object's color, material and shape from a crop
with context (:mod:`.attributes`), writes the result as :class:`Proposals` (masks as COCO RLE,
the detector's score) and hands it to :func:`.observe.observe` for tracking, lifting and events.
:func:`perceive_frames` does the same for frames already in memory, and :func:`detect_video`
stops at the proposals.

The models are loaded once per process and weight folder (module-level cache), from the
package's shipped weights (``physreason/perception/weights``) unless ``weights`` names another
folder holding ``detector.pt`` and ``attributes.pt`` (as ``physreason train perception`` writes).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from physreason.datasets.camera import CLEVRER_CAMERA, Camera
from physreason.datasets.proposals import ProposalFrame, ProposalObject, Proposals
from physreason.datasets.records import Observation
from physreason.datasets.rle import encode
from physreason.datasets.video import read_video
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ConfigError, FormatError, VideoError
from physreason.perception import attributes as attr
from physreason.perception.detector import DecodeConfig, DetectorNet, FrameDetections, decode
from physreason.perception.observe import PerceptionConfig, observe_with_ids

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""The shipped weights."""
FRAME_SIZE = (CLEVRER_CAMERA.width, CLEVRER_CAMERA.height)
"""(width, height) of the frames the models were trained on."""
DETECT_BATCH = 16
ATTRIBUTE_BATCH = 512


@dataclass(frozen=True)
class PerceptionModels:
    """The loaded detector (with its decoding settings) and attribute classifier, in eval mode."""

    detector: DetectorNet
    attributes: attr.AttributeNet
    decode: DecodeConfig
    folder: Path


_CACHE: dict[Path, PerceptionModels] = {}
_LOCK = threading.Lock()


def _read_weights(path: Path, kind: str) -> dict:
    if not path.exists():
        raise FormatError(path, "", f"weight file not found (train with 'physreason train perception')")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FormatError(path, "", f"not a readable weight file ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("kind") != kind or "state_dict" not in data:
        raise FormatError(path, "kind", f"expected a '{kind}' weight file")
    return data


def read_detector(path: str | os.PathLike[str]) -> tuple[DetectorNet, DecodeConfig]:
    """The detector of a ``detector.pt`` weight file (eval mode) and its decoding settings."""
    path = Path(path)
    det = _read_weights(path, "detector")
    try:
        detector = DetectorNet(det["config"]["width"])
        detector.load_state_dict(det["state_dict"])
        dec = DecodeConfig(**det.get("decode", {}))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise FormatError(path, "state_dict", f"weights do not fit the detector ({exc.__class__.__name__})") from None
    return detector.eval().to(memory_format=torch.channels_last), dec


def load_models(weights: str | os.PathLike[str] | None = None) -> PerceptionModels:
    """The models of the weight folder ``weights`` (default: the shipped ones), loaded once per process."""
    folder = Path(weights).resolve() if weights is not None else WEIGHTS_DIR
    with _LOCK:
        if folder in _CACHE:
            return _CACHE[folder]
        detector, dec = read_detector(folder / "detector.pt")
        att = _read_weights(folder / "attributes.pt", "attributes")
        try:
            attributes = attr.AttributeNet(**att["config"])
            attributes.load_state_dict(att["state_dict"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise FormatError(folder, "state_dict", f"weights do not fit the models ({exc.__class__.__name__})") from None
        models = PerceptionModels(detector, attributes.eval().to(memory_format=torch.channels_last), dec, folder)
        _CACHE[folder] = models
        return models


def _check_frames(frames: np.ndarray, source: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VideoError(f"{source}: expected uint8 RGB frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    if len(frames) == 0:
        raise VideoError(f"{source}: video has no frames")
    h, w = frames.shape[1:3]
    if (w, h) != FRAME_SIZE:
        raise VideoError(f"{source}: video is {w}x{h} but the perception models take "
                         f"{FRAME_SIZE[0]}x{FRAME_SIZE[1]} frames")
    return frames


@torch.inference_mode()
def detect_frames(frames: np.ndarray, detector: DetectorNet, config: DecodeConfig) -> list[FrameDetections]:
    """The instances found by ``detector`` (decoded with ``config``) in every frame of ``frames`` (T, H, W, 3) uint8."""
    out: list[FrameDetections] = []
    h, w = frames.shape[1:3]
    for start in range(0, len(frames), DETECT_BATCH):
        chunk = torch.from_numpy(frames[start : start + DETECT_BATCH]).permute(0, 3, 1, 2).float().div_(255)
        pred = detector(chunk.contiguous(memory_format=torch.channels_last))
        out.extend(decode(pred, h, w, config))
    return out


@torch.inference_mode()
def classify_detections(frames: np.ndarray, detections: list[FrameDetections],
                        models: PerceptionModels) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per frame, attribute class indices (N, 3) and probabilities (N, 13) of its detections
    (softmax per attribute, ``color | material | shape`` in vocabulary order)."""
    crops = []
    for frame, det in zip(frames, detections):
        if len(det):
            ft = torch.from_numpy(frame).permute(2, 0, 1).float().div_(255)
            crops.append(attr.crop_objects(ft, torch.from_numpy(det.masks), attr.mask_windows(det.masks)))
    if not crops:
        return [(np.zeros((0, 3), int), np.zeros((0, attr.N_OUTPUTS))) for _ in detections]
    x = torch.cat(crops)
    idx, prob = [], []
    for start in range(0, len(x), ATTRIBUTE_BATCH):
        logits = models.attributes(x[start : start + ATTRIBUTE_BATCH].contiguous(memory_format=torch.channels_last))
        i, _ = attr.predict(logits)
        idx.append(i)
        prob.append(torch.cat([logits[:, s].softmax(dim=1) for s in attr.SLICES.values()], dim=1))
    idx_all, prob_all = torch.cat(idx).numpy(), torch.cat(prob).numpy().astype(np.float64)
    out, k = [], 0
    for det in detections:
        out.append((idx_all[k : k + len(det)], prob_all[k : k + len(det)]))
        k += len(det)
    return out


def to_proposals(detections: list[FrameDetections], attributes: list[tuple[np.ndarray, np.ndarray]]) -> Proposals:
    """Proposals (CLEVRER proposal layout, RLE masks) of per-frame detections and attributes;
    each object also carries its ``attribute_probs`` (which the tracker votes with)."""
    frames = []
    for t, (det, (idx, prob)) in enumerate(zip(detections, attributes)):
        objects = tuple(
            ProposalObject(COLORS[idx[k, 0]], MATERIALS[idx[k, 1]], SHAPES[idx[k, 2]],
                           float(np.clip(det.scores[k], 0.0, 1.0)), encode(det.masks[k]),
                           extra={"attribute_probs": {a: [round(float(p), 4) for p in prob[k, s]]
                                                      for a, s in attr.SLICES.items()}})
            for k in range(len(det)))
        frames.append(ProposalFrame(t, f"frame_{t:05d}.png", objects))
    return Proposals(tuple(frames))


def detect_video(frames: np.ndarray, *, weights: str | os.PathLike[str] | None = None,
                 source: str = "<frames>") -> Proposals:
    """Per-frame proposals (masks, attributes, scores) of frames (T, H, W, 3) uint8."""
    frames = _check_frames(frames, source)
    models = load_models(weights)
    detections = detect_frames(frames, models.detector, models.decode)
    return to_proposals(detections, classify_detections(frames, detections, models))


def perceive_frames(frames: np.ndarray, *, camera: Camera | None = None, scene_index: int = 0,
                    weights: str | os.PathLike[str] | None = None, source: str = "<frames>",
                    config: PerceptionConfig = PerceptionConfig(),
                    concepts: str | os.PathLike[str] | None = None) -> Observation:
    """The Observation of frames (T, H, W, 3) uint8 RGB already in memory (see :func:`perceive_video`)."""
    frames = _check_frames(frames, source)
    camera = CLEVRER_CAMERA if camera is None else camera
    if (camera.width, camera.height) != (frames.shape[2], frames.shape[1]):
        raise ConfigError(f"camera is {camera.width}x{camera.height} but the frames of {source} are "
                          f"{frames.shape[2]}x{frames.shape[1]}")
    proposals = detect_video(frames, weights=weights, source=source)
    observation, ids = observe_with_ids(proposals, camera, len(frames), scene_index, config)
    if concepts is None:
        return observation
    from physreason.concepts.model import load_concepts

    return load_concepts(concepts).relabel(observation, frames, proposals, ids)


def perceive_video(video: str | Path, *, camera: Camera | None = None, scene_index: int = 0,
                   weights: str | Path | None = None, concepts: str | Path | None = None) -> Observation:
    """The Observation (objects, tracks, events, camera) perceived in a video file or PNG folder.

    ``camera`` defaults to CLEVRER's; ``weights`` to the shipped models; ``concepts``, a
    learned-concepts file (``physreason train concepts``, or ``"learned"`` for the shipped one),
    names the objects' color, material and shape in place of the supervised attribute net
    (tracking still uses the net's votes). A missing or corrupt
    video or a frame of the wrong size raises :class:`VideoError` naming the file (and frame);
    a scene with nothing detected gives an Observation with no objects.
    """
    frames = read_video(video)
    return perceive_frames(frames, camera=camera, scene_index=scene_index, weights=weights, source=str(video),
                           concepts=concepts)
