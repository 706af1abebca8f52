"""Instance detector: RGB frame -> object masks with scores, a small fully-convolutional net.

The net (:class:`DetectorNet`) sees the frame at half resolution and predicts, on a grid of
stride 4 (in full-resolution pixels), three maps in the manner of CenterNet / Panoptic-DeepLab:

* ``fg``: foreground logit (object vs table and shadows);
* ``heat``: object-centre heatmap logit, peaked at each instance's visible-mask centroid;
* ``offset`` (2 channels): for a foreground cell, the vector (px / ``OFFSET_SCALE``) to the
  centroid of the object it belongs to.

Decoding (:func:`decode`): centres are the heatmap's local maxima (3×3 max-pool NMS, plain
torch) above ``peak_threshold``, refined to sub-cell precision by the heat-weighted mean of
their 3×3 neighbourhood; the foreground and offset maps are upsampled bilinearly to full
resolution, and every foreground pixel joins the centre nearest to its vote (pixel + offset)
if it is at most ``max_vote_distance`` px away. An instance's score is its peak's heat.

Targets (:func:`detection_targets`) are built from full-resolution ground-truth instance masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from physreason.errors import ConfigError

STRIDE = 4
"""Output grid stride in full-resolution pixels."""
OFFSET_SCALE = 16.0
"""Offsets are predicted in units of this many pixels."""
HEAT_SIGMA = 1.0
"""Std of the target centre Gaussian, in output cells."""
MEAN = (0.6, 0.6, 0.6)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DetectorNet(nn.Module):
    """Encoder-decoder on a half-resolution frame; outputs ``(B, 4, H/4, W/4)`` for a full
    ``(B, 3, H, W)`` frame in ``[0, 1]``: fg logit, heat logit, offset x, offset y.

    The input is the *full-resolution* frame (``H``, ``W`` multiples of 16); the net halves it
    itself (2×2 average), so callers never resize.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        if width < 4:
            raise ConfigError(f"DetectorNet width must be >= 4, got {width}")
        c1, c2, c3 = width, 2 * width, 4 * width
        self.width = width
        self.stem = _conv(3, c1, stride=2)
        self.enc1 = _conv(c1, c1)
        self.down2 = _conv(c1, c2, stride=2)
        self.enc2 = _conv(c2, c2)
        self.down3 = _conv(c2, c3, stride=2)
        self.enc3 = nn.Sequential(_conv(c3, c3, dilation=2), _conv(c3, c3, dilation=4))
        self.lat2 = nn.Conv2d(c3, c2, 1)
        self.dec2 = _conv(c2, c2)
        self.lat1 = nn.Conv2d(c2, c1, 1)
        self.dec1 = _conv(c1, c1)
        self.head = nn.Sequential(_conv(c1, c1), nn.Conv2d(c1, 4, 1))
        with torch.no_grad():
            self.head[-1].bias.zero_()
            self.head[-1].bias[0] = -2.5  # about 8 % of the table is covered by objects
            self.head[-1].bias[1] = -2.19  # heat prior 0.1 (CenterNet)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ConfigError(f"DetectorNet needs H and W multiples of 16, got {tuple(x.shape[-2:])}")
        return self.forward_half(F.avg_pool2d(x, 2))

    def forward_half(self, x: Tensor) -> Tensor:
        """The same on a frame already halved (2×2 average), ``(B, 3, H/2, W/2)``."""
        x = x - self.mean
        e1 = self.enc1(self.stem(x))
        e2 = self.enc2(self.down2(e1))
        e3 = self.enc3(self.down3(e2))
        d2 = self.dec2(e2 + F.interpolate(self.lat2(e3), size=e2.shape[-2:], mode="bilinear", align_corners=False))
        d1 = self.dec1(e1 + F.interpolate(self.lat1(d2), size=e1.shape[-2:], mode="bilinear", align_corners=False))
        return self.head(d1)


# ------------------------------------------------------------------------------- targets


def cell_centres(n: int) -> np.ndarray:
    """Full-resolution pixel coordinate of the centre of each of ``n`` output cells."""
    return STRIDE * np.arange(n) + (STRIDE - 1) / 2 + 0.5


def detection_targets(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Training targets ``(5, H/4, W/4)`` float32 of one frame's instance masks.

    ``masks`` (N, H, W) bool full-resolution visible masks (N may be 0). Channels: foreground
    coverage in [0, 1], centre heatmap in [0, 1] (1 exactly at each centre's cell), offset x and
    y (units of ``OFFSET_SCALE`` px) to the centroid of the cell's main instance, and the
    offset weight (the cell's coverage by that instance).
    """
    gh, gw = height // STRIDE, width // STRIDE
    out = np.zeros((5, gh, gw), np.float32)
    if len(masks) == 0:
        return out
    cov = masks.reshape(len(masks), gh, STRIDE, gw, STRIDE).mean(axis=(2, 4))  # (N, gh, gw)
    out[0] = np.clip(cov.sum(axis=0), 0.0, 1.0)
    main = cov.argmax(axis=0)
    weight = cov.max(axis=0)
    cy, cx = cell_centres(gh), cell_centres(gw)
    gy, gx = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    for k, m in enumerate(masks):
        rows, cols = np.nonzero(m)
        if rows.size == 0:
            continue
        u, v = cols.mean() + 0.5, rows.mean() + 0.5  # centroid, px
        ju, jv = (u - 0.5 - (STRIDE - 1) / 2) / STRIDE, (v - 0.5 - (STRIDE - 1) / 2) / STRIDE  # cell coords
        ju_i, jv_i = int(np.clip(round(ju), 0, gw - 1)), int(np.clip(round(jv), 0, gh - 1))
        g = np.exp(-((gx - ju_i) ** 2 + (gy - jv_i) ** 2) / (2 * HEAT_SIGMA**2))
        out[1] = np.maximum(out[1], g)
        out[1, jv_i, ju_i] = 1.0
        sel = (main == k) & (weight > 0)
        out[2][sel] = (u - cx[gx[sel]]) / OFFSET_SCALE
        out[3][sel] = (v - cy[gy[sel]]) / OFFSET_SCALE
    out[4] = np.where(weight > 0, weight, 0.0)
    return out


def detection_loss(pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Loss of ``pred`` (B, 4, h, w) against ``target`` (B, 5, h, w): foreground BCE (soft
    targets), CenterNet's penalty-reduced focal loss on the heatmap (per object) and masked L1
    on the offsets. Returns the total and its parts."""
    fg = F.binary_cross_entropy_with_logits(pred[:, 0], target[:, 0])
    heat = pred[:, 1].sigmoid().clamp(1e-4, 1 - 1e-4)
    gt = target[:, 1]
    pos = gt.eq(1.0).float()
    pos_loss = -(torch.log(heat) * (1 - heat) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - heat) * heat**2 * (1 - gt) ** 4 * (1 - pos)).sum()
    n = pos.sum().clamp(min=1.0)
    focal = (pos_loss + neg_loss) / n
    w = target[:, 4]
    off = ((pred[:, 2:4] - target[:, 2:4]).abs().sum(dim=1) * w).sum() / w.sum().clamp(min=1.0)
    total = fg + focal + off
    return total, {"fg": fg.item(), "heat": focal.item(), "offset": off.item()}


# ------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class DecodeConfig:
    """Decoding settings: ``peak_threshold`` on the centre heat, ``fg_threshold`` on the
    foreground probability, at most ``max_objects`` per frame, ``max_vote_distance`` px between a
    pixel's vote and its centre, ``min_area`` px of a kept mask."""

    peak_threshold: float = 0.15
    fg_threshold: float = 0.4
    max_objects: int = 12
    max_vote_distance: float = 14.0
    min_area: int = 8


@dataclass(frozen=True)
class FrameDetections:
    """One frame's instances: ``masks`` (N, H, W) bool, ``scores`` (N,), ``centres`` (N, 2) px (u, v)."""

    masks: np.ndarray
    scores: np.ndarray
    centres: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def find_peaks(heat: Tensor, threshold: float, max_objects: int) -> list[tuple[Tensor, Tensor]]:
    """Local maxima of ``heat`` (B, h, w) probabilities above ``threshold`` (3×3 max-pool NMS).

    Returns per frame ``(scores (K,), centres (K, 2) px (u, v))``, at most ``max_objects`` of the
    highest, each centre refined by the heat-weighted mean of its 3×3 neighbourhood.
    """
    b, h, w = heat.shape
    pooled = F.max_pool2d(heat[:, None], 3, stride=1, padding=1)[:, 0]
    keep = (heat == pooled) & (heat > threshold)
    padded = F.pad(heat, (1, 1, 1, 1))
    out = []
    for i in range(b):
        ys, xs = torch.nonzero(keep[i], as_tuple=True)
        scores = heat[i, ys, xs]
        order = torch.argsort(scores, descending=True)[:max_objects]
        ys, xs, scores = ys[order], xs[order], scores[order]
        centres = torch.zeros(len(ys), 2)
        for k in range(len(ys)):
            patch = padded[i, ys[k] : ys[k] + 3, xs[k] : xs[k] + 3]
            wsum = patch.sum()
            dy = (patch.sum(dim=1) * torch.tensor([-1.0, 0.0, 1.0])).sum() / wsum
            dx = (patch.sum(dim=0) * torch.tensor([-1.0, 0.0, 1.0])).sum() / wsum
            centres[k, 0] = STRIDE * (xs[k] + dx) + (STRIDE - 1) / 2 + 0.5
            centres[k, 1] = STRIDE * (ys[k] + dy) + (STRIDE - 1) / 2 + 0.5
        out.append((scores, centres))
    return out


def decode(pred: Tensor, height: int, width: int, config: DecodeConfig = DecodeConfig()) -> list[FrameDetections]:
    """Instances of each frame from the net's output ``pred`` (B, 4, h, w) for ``height``×``width`` frames.

    Only the window of cells around the foreground (plus a one-cell margin, so bilinear
    interpolation inside it equals that of the whole map) is upsampled to pixels.
    """
    pred = pred.float()
    peaks = find_peaks(pred[:, 1].sigmoid(), config.peak_threshold, config.max_objects)
    fg_logit = float(np.log(config.fg_threshold / (1 - config.fg_threshold)))
    near = F.max_pool2d((pred[:, :1] > fg_logit).float(), 3, stride=1, padding=1)[:, 0] > 0
    gh, gw = pred.shape[-2:]
    out: list[FrameDetections] = []
    for i, (scores, centres) in enumerate(peaks):
        cells = torch.nonzero(near[i])
        if len(scores) == 0 or len(cells) == 0:
            out.append(_empty(height, width))
            continue
        r0, c0 = (cells.min(dim=0).values - 1).clamp(min=0).tolist()
        r1, c1 = (cells.max(dim=0).values + 2).tolist()
        r1, c1 = min(r1, gh), min(c1, gw)
        # Cell j's centre is pixel STRIDE*j + (STRIDE-1)/2: bilinear with align_corners=False.
        up = F.interpolate(pred[i : i + 1, [0, 2, 3], r0:r1, c0:c1], scale_factor=STRIDE, mode="bilinear",
                           align_corners=False)[0]
        rows, cols = torch.nonzero(up[0] > fg_logit, as_tuple=True)
        off_r, off_c = rows, cols
        rows, cols = rows + STRIDE * r0, cols + STRIDE * c0
        inside = (rows < height) & (cols < width)
        rows, cols, off_r, off_c = rows[inside], cols[inside], off_r[inside], off_c[inside]
        votes = torch.stack([cols.float() + 0.5 + OFFSET_SCALE * up[1, off_r, off_c],
                             rows.float() + 0.5 + OFFSET_SCALE * up[2, off_r, off_c]], dim=1)
        if len(votes) == 0:
            out.append(_empty(height, width))
            continue
        best_d, best = torch.cdist(votes, centres).min(dim=1)
        ok = best_d <= config.max_vote_distance
        rows_np, cols_np, best_np = rows[ok].numpy(), cols[ok].numpy(), best[ok].numpy()
        masks, keep = [], []
        for k in range(len(scores)):
            sel = best_np == k
            if sel.sum() < config.min_area:
                continue
            m = np.zeros((height, width), bool)
            m[rows_np[sel], cols_np[sel]] = True
            masks.append(m)
            keep.append(k)
        if not keep:
            out.append(_empty(height, width))
            continue
        out.append(FrameDetections(np.stack(masks), scores[keep].numpy().astype(np.float64),
                                   centres[keep].numpy().astype(np.float64)))
    return out


def _empty(height: int, width: int) -> FrameDetections:
    return FrameDetections(np.zeros((0, height, width), bool), np.zeros(0), np.zeros((0, 2)))
