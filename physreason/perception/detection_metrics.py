"""Detection average precision (VOC/COCO style) for instance masks or boxes.

Per frame, predictions are taken in decreasing score order and each is matched greedily to the
unmatched ground-truth instance it overlaps most, if that IoU is at least the threshold (a
true positive); otherwise it is a false positive. Over all frames, predictions are ranked by
score, and AP is the area under the precision–recall curve with precision made monotone
(every-point interpolation, as VOC 2010+ and COCO's per-threshold AP before their 101-point
sampling). Ties in score keep the order of insertion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physreason.errors import ConfigError


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Boxes ``(N, 4)`` = (x0, y0, x1, y1) px, ends exclusive, of ``masks`` (N, H, W); empty -> zeros."""
    out = np.zeros((len(masks), 4))
    for k, m in enumerate(masks):
        rows = np.flatnonzero(m.any(axis=1))
        cols = np.flatnonzero(m.any(axis=0))
        if rows.size:
            out[k] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(N, M)`` of bool masks ``a`` (N, H, W) and ``b`` (M, H, W) (0 where both are empty)."""
    if a.shape[1:] != b.shape[1:]:
        raise ConfigError(f"mask sizes differ: {a.shape[1:]} and {b.shape[1:]}")
    size = int(np.prod(a.shape[1:]))
    fa = a.reshape(len(a), size).astype(np.float32)
    fb = b.reshape(len(b), size).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``(N, M)`` of boxes ``a`` (N, 4) and ``b`` (M, 4), (x0, y0, x1, y1)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def match_frame(scores: np.ndarray, iou: np.ndarray, threshold: float) -> np.ndarray:
    """True-positive flags ``(N,)`` of one frame's predictions (``scores`` (N,), ``iou`` (N, M))."""
    scores = np.asarray(scores, float).reshape(-1)
    iou = np.asarray(iou, float)
    iou = iou.reshape(len(scores), iou.shape[-1] if iou.ndim else 0)
    tp = np.zeros(len(scores), bool)
    taken = np.zeros(iou.shape[1], bool)
    for i in np.argsort(-scores, kind="stable"):
        if iou.shape[1] == 0:
            break
        cand = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= threshold:
            tp[i] = True
            taken[j] = True
    return tp


def precision_recall_ap(scores: np.ndarray, tp: np.ndarray, n_truth: int) -> float:
    """Every-point interpolated AP of ranked predictions (``scores``, ``tp`` flags) over ``n_truth``
    ground-truth instances. With no ground truth: 1.0 if there are no predictions, else 0.0."""
    scores = np.asarray(scores, float)
    tp = np.asarray(tp, bool)
    if n_truth == 0:
        return 1.0 if len(scores) == 0 else 0.0
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = tp[order].astype(float)
    ctp = np.cumsum(hits)
    cfp = np.cumsum(1.0 - hits)
    recall = ctp / n_truth
    precision = ctp / (ctp + cfp)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum())


@dataclass
class APAccumulator:
    """Collects frames' predictions and ground truth, then gives AP at ``threshold`` IoU."""

    threshold: float = 0.5
    scores: list[np.ndarray] = field(default_factory=list)
    tps: list[np.ndarray] = field(default_factory=list)
    n_truth: int = 0

    def add(self, scores: np.ndarray, iou: np.ndarray) -> None:
        """One frame: prediction ``scores`` (N,) and their ``iou`` (N, M) with the M truths."""
        scores = np.asarray(scores, float).reshape(-1)
        iou = np.asarray(iou, float).reshape(len(scores), -1) if len(scores) else np.zeros((0, np.shape(iou)[-1]))
        self.scores.append(scores)
        self.tps.append(match_frame(scores, iou, self.threshold))
        self.n_truth += iou.shape[1]

    def add_masks(self, scores: np.ndarray, pred: np.ndarray, truth: np.ndarray, kind: str = "mask") -> None:
        """One frame from masks ``pred`` (N, H, W) and ``truth`` (M, H, W); ``kind`` mask or box IoU."""
        if kind == "mask":
            iou = mask_iou(pred, truth)
        elif kind == "box":
            iou = box_iou(masks_to_boxes(pred), masks_to_boxes(truth))
        else:
            raise ConfigError(f"unknown IoU kind '{kind}'; choose mask or box")
        self.add(scores, iou.reshape(len(pred), len(truth)))

    @property
    def ap(self) -> float:
        if not self.scores:
            return precision_recall_ap(np.zeros(0), np.zeros(0, bool), self.n_truth)
        return precision_recall_ap(np.concatenate(self.scores), np.concatenate(self.tps), self.n_truth)

    @property
    def recall(self) -> float:
        """Share of ground-truth instances matched at any score."""
        tp = sum(int(t.sum()) for t in self.tps)
        return tp / self.n_truth if self.n_truth else 1.0


def average_precision(scores: list[np.ndarray], predictions: list[np.ndarray], truths: list[np.ndarray],
                      threshold: float = 0.5, kind: str = "mask") -> float:
    """AP over frames: ``scores[t]`` (N_t,), ``predictions[t]`` (N_t, H, W) and ``truths[t]`` (M_t, H, W) masks."""
    if not len(scores) == len(predictions) == len(truths):
        raise ConfigError("scores, predictions and truths need one entry per frame")
    acc = APAccumulator(threshold)
    for s, p, g in zip(scores, predictions, truths):
        acc.add_masks(s, p, g, kind)
    return acc.ap
