"""Object attributes (color, material, shape) from crops with image context.

Each detected object is cut out of the full-resolution frame as a square window around its
mask's bounding box, ``CONTEXT`` times its larger side (so the table, shadow and neighbours
around it are seen), resampled to ``CROP`` × ``CROP`` pixels by bilinear ROI sampling in plain
torch (:func:`crop_objects`). A fourth channel holds the object's mask in the same window, so
the net knows which object of the crop is meant. The classifier is a registry backbone
(``cropnet_small`` at half width, a robust CropNet) whose single linear head outputs the three
attributes' logits side by side (``COLOR | MATERIAL | SHAPE``, 8 + 2 + 3).

For attacks and corruptions only the RGB channels are perturbed: :class:`RGBOnly` holds a
batch's mask channel and presents the net as a function of the RGB crop (:class:`FrozenMask`
blocks the mask channel's gradient instead, for training steps that split the batch), and
:class:`AttributeView` exposes one attribute's logits as a plain classifier.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ConfigError
from physreason.perception.backbones import create_backbone

CROP = 48
"""Side of a crop in pixels."""
CONTEXT = 1.6
"""Crop window side / the mask box's larger side."""
MIN_WINDOW = 16.0
"""Smallest crop window side, px."""
VOCABS: tuple[tuple[str, tuple[str, ...]], ...] = (("color", COLORS), ("material", MATERIALS), ("shape", SHAPES))
SLICES: dict[str, slice] = {}
_start = 0
for _name, _vocab in VOCABS:
    SLICES[_name] = slice(_start, _start + len(_vocab))
    _start += len(_vocab)
N_OUTPUTS = _start


def mask_windows(masks: np.ndarray, jitter: np.ndarray | None = None) -> np.ndarray:
    """Crop windows ``(N, 3)`` = (centre u, centre v, side) px of ``masks`` (N, H, W) bool.

    ``jitter`` (N, 3) optionally adds (du, dv) in units of the side and multiplies the side by
    ``exp(jitter[:, 2])`` (training augmentation). An empty mask gets a window of the minimum size
    at the image centre.
    """
    n, h, w = masks.shape
    out = np.zeros((n, 3))
    for k in range(n):
        rows = np.flatnonzero(masks[k].any(axis=1))
        cols = np.flatnonzero(masks[k].any(axis=0))
        if rows.size == 0:
            out[k] = (w / 2, h / 2, MIN_WINDOW)
            continue
        u = (cols[0] + cols[-1] + 1) / 2
        v = (rows[0] + rows[-1] + 1) / 2
        side = max(CONTEXT * max(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1), MIN_WINDOW)
        out[k] = (u, v, side)
    if jitter is not None:
        out[:, 0] += jitter[:, 0] * out[:, 2]
        out[:, 1] += jitter[:, 1] * out[:, 2]
        out[:, 2] *= np.exp(jitter[:, 2])
    return out


def crop_objects(frame: Tensor, masks: Tensor, windows: np.ndarray, size: int = CROP) -> Tensor:
    """ROI-sample crops ``(N, 4, size, size)`` in [0, 1]: RGB of ``frame`` (3, H, W) float in [0, 1]
    and the mask channel of ``masks`` (N, H, W) bool/float, over ``windows`` (N, 3) (u, v, side) px.
    Outside the image is zero."""
    n = masks.shape[0]
    _, h, w = frame.shape
    if n == 0:
        return torch.zeros(0, 4, size, size)
    win = torch.as_tensor(windows, dtype=torch.float32)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = win[:, 2] / w
    theta[:, 1, 1] = win[:, 2] / h
    theta[:, 0, 2] = 2 * win[:, 0] / w - 1
    theta[:, 1, 2] = 2 * win[:, 1] / h - 1
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    rgb = F.grid_sample(frame[None].expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    msk = F.grid_sample(masks[:, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return torch.cat([rgb, msk], dim=1)


class AttributeNet(nn.Module):
    """Registry backbone on ``(B, 4, CROP, CROP)`` crops -> ``(B, 13)`` logits (color | material | shape).

    ``backbone`` names a registered backbone and ``options`` override its settings; the default
    is ``resnet_small`` at half width (~0.2 M parameters, stride-2 conv stem: the specular
    highlights that tell metal from rubber are only a few pixels wide, so no patchify stem).
    """

    def __init__(self, backbone: str = "resnet_small", **options) -> None:
        super().__init__()
        options = {"width_mult": 0.5, **options}
        self.config = {"backbone": backbone, **options}
        self.net = create_backbone(backbone, in_chans=4, num_classes=N_OUTPUTS, **options)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != 4:
            raise ConfigError(f"AttributeNet takes 4-channel crops (RGB + mask), got {x.shape[1]} channels")
        return self.net(x - 0.5)


def attribute_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Sum over the three attributes of the cross-entropy; ``y`` (B, 3) class indices."""
    return sum(F.cross_entropy(logits[:, s], y[:, i]) for i, s in enumerate(SLICES.values()))


def predict(logits: Tensor) -> tuple[Tensor, Tensor]:
    """Class indices (B, 3) and their probabilities (B, 3) of ``logits`` (B, 13)."""
    idx, prob = [], []
    for s in SLICES.values():
        p = logits[:, s].softmax(dim=1)
        conf, arg = p.max(dim=1)
        idx.append(arg)
        prob.append(conf)
    return torch.stack(idx, 1), torch.stack(prob, 1)


def labels(color: str, material: str, shape: str) -> tuple[int, int, int]:
    """Class indices of an attribute triple."""
    return COLORS.index(color), MATERIALS.index(material), SHAPES.index(shape)


class RGBOnly(nn.Module):
    """``model`` as a function of the RGB channels (B, 3, h, w), with the mask channel fixed to ``mask`` (B, 1, h, w)."""

    def __init__(self, model: nn.Module, mask: Tensor | None = None) -> None:
        super().__init__()
        self.model = model
        self.mask = mask

    def forward(self, rgb: Tensor) -> Tensor:
        if self.mask is None or self.mask.shape[0] != rgb.shape[0]:
            raise ConfigError("RGBOnly: set .mask to the batch's (B, 1, h, w) mask channel first")
        return self.model(torch.cat([rgb, self.mask], dim=1))


class FrozenMask(nn.Module):
    """``model`` on 4-channel crops with no gradient through the mask channel, so gradient-sign
    attacks leave it alone (used where a batch is split, as Fast AdvProp does)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(torch.cat([x[:, :3], x[:, 3:].detach()], dim=1))


class AttributeView(nn.Module):
    """One attribute's logits of ``model`` (a plain classifier for attacks and accuracy)."""

    def __init__(self, model: nn.Module, attribute: str) -> None:
        super().__init__()
        if attribute not in SLICES:
            raise ConfigError(f"unknown attribute '{attribute}'; choose one of {', '.join(SLICES)}")
        self.model = model
        self.slice = SLICES[attribute]

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[:, self.slice]
