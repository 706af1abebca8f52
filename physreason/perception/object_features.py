"""Object crops and backbone features of tracked objects (input of concept learning).

Each object of a video is cut out of a few frames using its instance masks (the ``proposals/``
file: per-frame masks, with the generator's ``object_id`` or perception's track ids): frames
where the object is seen nearly whole (mask area at least ``min_area_share`` of its largest)
are picked evenly over the video, each crop is the square around the mask (plus a margin),
pixels outside the mask (grown by ``dilate`` px, so that the object's own edges against the
table show, not the mask's: a detector's masks are rounder than the generator's) set to zero,
resized to ``size`` x ``size``. A backbone from
:mod:`physreason.perception.backbones` turns every crop into a pooled feature vector and an
object's feature is the mean over its crops.

No attribute words are read here: the proposal's color/material/shape fields are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import Tensor, nn

from physreason.datasets import rle
from physreason.datasets.proposals import Proposals
from physreason.errors import ConfigError, FormatError
from physreason.perception.backbones import create_backbone

CROP_SIZE = 64
N_CROPS = 4


@dataclass(frozen=True)
class CropConfig:
    """``n_crops`` crops per object of ``size`` px, from frames whose mask area is at least
    ``min_area_share`` of the object's largest; the square is ``margin`` times the mask's larger side;
    the mask is grown by ``dilate`` px (in frame pixels) before the pixels outside it are zeroed."""

    n_crops: int = N_CROPS
    size: int = CROP_SIZE
    min_area_share: float = 0.6
    margin: float = 1.25
    dilate: int = 0

    def __post_init__(self) -> None:
        if (self.n_crops < 1 or self.size < 8 or not 0 < self.min_area_share <= 1 or self.margin < 1
                or self.dilate < 0):
            raise ConfigError(f"bad CropConfig: n_crops {self.n_crops} (>= 1), size {self.size} (>= 8), "
                              f"min_area_share {self.min_area_share} (0..1], margin {self.margin} (>= 1), "
                              f"dilate {self.dilate} (>= 0)")


def object_masks(proposals: Proposals, ids: Mapping[tuple[int, int], int] | None = None
                 ) -> dict[int, list[tuple[int, dict]]]:
    """Per object, its ``(frame, mask RLE)`` pairs in frame order.

    Objects are keyed by the proposal's ``object_id``; for proposals without one, give ``ids``
    mapping ``(frame_index, index in the frame)`` to an object (e.g. from a tracker).
    """
    out: dict[int, list[tuple[int, dict]]] = {}
    for fr in proposals.frames:
        for j, obj in enumerate(fr.objects):
            key = ids.get((fr.frame_index, j)) if ids is not None else obj.object_id
            if key is None:
                if ids is None:
                    raise FormatError("<proposals>", f"frame {fr.frame_index} objects[{j}].object_id",
                                      "no object_id: pass ids from a tracker")
                continue
            out.setdefault(int(key), []).append((fr.frame_index, obj.mask_rle))
    for masks in out.values():
        masks.sort(key=lambda fm: fm[0])
    return out


def pick_frames(masks: Sequence[tuple[int, dict]], config: CropConfig = CropConfig()) -> list[tuple[int, dict]]:
    """The ``n_crops`` masks (evenly over time) among those of nearly full area."""
    areas = np.array([rle.area(m) for _, m in masks], dtype=float)
    if len(areas) == 0 or areas.max() <= 0:
        return []
    good = [i for i, a in enumerate(areas) if a >= config.min_area_share * areas.max()]
    picks = np.linspace(0, len(good) - 1, num=min(config.n_crops, len(good))).round().astype(int)
    chosen = [masks[good[i]] for i in picks]
    while len(chosen) < config.n_crops:  # repeat when there are fewer good frames than crops
        chosen.append(chosen[len(chosen) % max(1, len(picks))])
    return chosen


def crop_object(frame: np.ndarray, mask: np.ndarray, config: CropConfig = CropConfig()) -> np.ndarray:
    """The masked square crop (size, size, 3) uint8 of one object in one frame."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return np.zeros((config.size, config.size, 3), dtype=np.uint8)
    cy, cx = (rows[0] + rows[-1] + 1) / 2, (cols[0] + cols[-1] + 1) / 2
    side = max(8, int(np.ceil(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) * config.margin)))
    y0, x0 = int(round(cy - side / 2)), int(round(cx - side / 2))
    h, w = mask.shape
    out = np.zeros((side, side, 3), dtype=np.uint8)
    ys, xs = slice(max(0, y0), min(h, y0 + side)), slice(max(0, x0), min(w, x0 + side))
    keep = mask[ys, xs]
    if config.dilate:
        keep = ndimage.binary_dilation(keep, _disk(config.dilate))
    patch = frame[ys, xs] * keep[..., None]
    out[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = patch
    return np.asarray(Image.fromarray(out).resize((config.size, config.size), Image.BILINEAR))


def _disk(radius: int) -> np.ndarray:
    """A disk of ``radius`` px as a (2r+1, 2r+1) bool structuring element."""
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return yy ** 2 + xx ** 2 <= radius ** 2


def video_object_crops(frames: np.ndarray, proposals: Proposals, config: CropConfig = CropConfig(),
                       ids: Mapping[tuple[int, int], int] | None = None) -> dict[int, np.ndarray]:
    """Per object, ``n_crops`` masked crops (n_crops, size, size, 3) uint8 from a video's frames (T, H, W, 3)."""
    out = {}
    for key, masks in sorted(object_masks(proposals, ids).items()):
        chosen = pick_frames(masks, config)
        if not chosen:
            continue
        crops = []
        for f, m in chosen:
            if f >= len(frames):
                raise FormatError("<proposals>", f"frame {f}", f"outside a video of {len(frames)} frames")
            mask = rle.decode(m)
            if mask.shape != frames.shape[1:3]:
                raise FormatError("<proposals>", f"frame {f} mask.size",
                                  f"mask is {mask.shape} but frames are {frames.shape[1:3]}")
            crops.append(crop_object(frames[f], mask, config))
        out[key] = np.stack(crops)
    return out


def to_tensor(crops: np.ndarray) -> Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [-0.5, 0.5]."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).float().div_(255.0).sub_(0.5)
    return x.movedim(-1, -3)


class ObjectEncoder(nn.Module):
    """A backbone turning crops into object features: (N, K, H, W, 3) uint8 or (N, K, 3, H, W)
    float -> (N, feature_dim), the mean over each object's K crops of the pooled features.
    ``input_size``: crops are resized to this many pixels before the backbone (None: as given);
    ``pool``: ``mean`` (global average) or ``meanmax`` (average and max pooling side by side)."""

    def __init__(self, backbone: str = "cropnet_small", input_size: int | None = None, pool: str = "mean",
                 **kwargs) -> None:
        super().__init__()
        if input_size is not None and input_size < 8:
            raise ConfigError(f"input_size must be >= 8 px, got {input_size}")
        if pool not in ("mean", "meanmax"):
            raise ConfigError(f"pool must be 'mean' or 'meanmax', got '{pool}'")
        self.backbone_name = backbone
        self.input_size = input_size
        self.pool = pool
        self.backbone_kwargs = dict(kwargs)
        self.backbone = create_backbone(backbone, num_classes=None, **kwargs)

    @property
    def feature_dim(self) -> int:
        return self.backbone.feature_dim * (2 if self.pool == "meanmax" else 1)

    def crop_features(self, x: Tensor) -> Tensor:
        """Per-crop features: (B, 3, H, W) -> (B, feature_dim) (crops resized to ``input_size`` first)."""
        if self.input_size is not None and x.shape[-1] != self.input_size:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="area")
        fmap = self.backbone.forward_features(x.contiguous(memory_format=torch.channels_last))
        if self.pool == "meanmax":  # max pooling keeps small bright spots (specular highlights)
            return torch.cat([fmap.mean((2, 3)), fmap.amax((2, 3))], 1)
        return fmap.mean((2, 3))

    def forward(self, crops: Tensor | np.ndarray) -> Tensor:
        x = to_tensor(crops) if isinstance(crops, np.ndarray) else crops
        n, k = x.shape[:2]
        return self.crop_features(x.flatten(0, 1)).view(n, k, -1).mean(1)

    def to_state(self) -> dict:
        return {"backbone": self.backbone_name, "input_size": self.input_size, "pool": self.pool,
                "kwargs": self.backbone_kwargs,
                "weights": {k: v.detach().clone() for k, v in self.state_dict().items()}}

    @classmethod
    def from_state(cls, state: Mapping) -> ObjectEncoder:
        enc = cls(state["backbone"], state.get("input_size"), state.get("pool", "mean"), **state["kwargs"])
        enc.load_state_dict(state["weights"])
        return enc


def encode_objects(encoder: ObjectEncoder, crops: Iterable[np.ndarray], batch: int = 64) -> Tensor:
    """Features (N, feature_dim) of many objects' crops (each (K, H, W, 3)), without gradients."""
    items = list(crops)
    if not items:
        return torch.zeros(0, encoder.feature_dim)
    was = encoder.training
    encoder.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(items), batch):
            outs.append(encoder(np.stack(items[i:i + batch])))
    encoder.train(was)
    return torch.cat(outs)
