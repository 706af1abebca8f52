"""Detector pieces: AP on hand-made cases, target construction, decoding, crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physreason.errors import ConfigError
from physreason.perception import attributes as attr
from physreason.perception.detection_metrics import (
    APAccumulator,
    average_precision,
    box_iou,
    mask_iou,
    masks_to_boxes,
    match_frame,
    precision_recall_ap,
)
from physreason.perception.detector import (
    OFFSET_SCALE,
    STRIDE,
    DecodeConfig,
    DetectorNet,
    decode,
    detection_targets,
)


def square(h: int, w: int, r0: int, c0: int, size: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[r0 : r0 + size, c0 : c0 + size] = True
    return m


def test_iou_by_hand():
    a = square(10, 10, 0, 0, 4)  # 16 px
    b = square(10, 10, 2, 2, 4)  # overlap 2x2 = 4
    assert mask_iou(a[None], b[None])[0, 0] == pytest.approx(4 / 28)
    assert box_iou([[0, 0, 4, 4]], [[2, 2, 6, 6]])[0, 0] == pytest.approx(4 / 28)
    assert masks_to_boxes(np.stack([a, b])).tolist() == [[0, 0, 4, 4], [2, 2, 6, 6]]
    assert mask_iou(np.zeros((1, 3, 3), bool), np.zeros((1, 3, 3), bool))[0, 0] == 0.0


def test_match_is_greedy_by_score_and_one_to_one():
    iou = np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.4]])
    tp = match_frame(np.array([0.5, 0.9, 0.7]), iou, 0.5)
    # prediction 1 (score 0.9) takes truth 0 first; prediction 0 is then a duplicate
    assert tp.tolist() == [False, True, False]


def test_ap_perfect_and_hand_computed():
    assert precision_recall_ap(np.array([0.9, 0.8]), np.array([True, True]), 2) == 1.0
    # ranked: TP, FP, TP over 3 truths -> recall steps 1/3 at p=1, 1/3 at p=2/3 -> AP = 1/3 + 2/9
    assert precision_recall_ap(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 3) == pytest.approx(1 / 3 + 2 / 9)
    # a false positive ranked first: envelope is 1/2 then 2/3 -> AP = 1/2*(2/3)... computed by hand
    ap = precision_recall_ap(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]), 2)
    assert ap == pytest.approx(0.5 * (2 / 3) + 0.5 * (2 / 3))
    assert precision_recall_ap(np.zeros(0), np.zeros(0, bool), 0) == 1.0
    assert precision_recall_ap(np.array([0.5]), np.array([False]), 0) == 0.0
    assert precision_recall_ap(np.zeros(0), np.zeros(0, bool), 4) == 0.0


def test_average_precision_over_frames_with_masks():
    h, w = 20, 20
    g1, g2 = square(h, w, 0, 0, 5), square(h, w, 10, 10, 5)
    shifted = square(h, w, 1, 0, 5)  # IoU 20/30 = 0.67 with g1
    far = square(h, w, 0, 12, 4)
    frames_truth = [np.stack([g1, g2]), np.zeros((0, h, w), bool)]
    frames_pred = [np.stack([shifted, far]), np.stack([far])]
    scores = [np.array([0.9, 0.3]), np.array([0.2])]
    # ranked 0.9 TP, 0.3 FP, 0.2 FP over 2 truths: AP = 0.5
    assert average_precision(scores, frames_pred, frames_truth) == pytest.approx(0.5)
    assert average_precision(scores, frames_pred, frames_truth, threshold=0.7) == 0.0
    acc = APAccumulator(0.5)
    acc.add_masks(np.array([1.0, 0.9]), np.stack([g1, g2]), np.stack([g1, g2]), kind="box")
    assert acc.ap == 1.0 and acc.recall == 1.0
    with pytest.raises(ConfigError):
        acc.add_masks(np.array([1.0]), g1[None], g2[None], kind="polygon")
    # frames with no predictions (missed truths) or no truths (false positives) count too
    acc.add_masks(np.zeros(0), np.zeros((0, h, w), bool), np.stack([g1]))
    acc.add_masks(np.array([0.95]), np.stack([far]), np.zeros((0, h, w), bool))
    assert acc.n_truth == 3 and acc.recall == pytest.approx(2 / 3)
    assert acc.ap == pytest.approx(1 / 3 + (2 / 3) * (1 / 3))


def test_targets_and_decode_round_trip():
    h, w = 64, 96
    masks = np.stack([square(h, w, 8, 8, 12), square(h, w, 30, 50, 16)])
    t = detection_targets(masks, h, w)
    assert t.shape == (5, h // STRIDE, w // STRIDE)
    assert (t[1] == 1.0).sum() == 2
    # A perfect prediction made from the targets decodes back to the two masks
    eps = 1e-4
    fg = np.log(np.clip(t[0], eps, 1 - eps) / (1 - np.clip(t[0], eps, 1 - eps)))
    heat = np.where(t[1] == 1.0, 5.0, -5.0)
    pred = torch.from_numpy(np.stack([fg, heat, t[2], t[3]])[None].astype(np.float32))
    (det,) = decode(pred, h, w, DecodeConfig(peak_threshold=0.5))
    assert len(det) == 2
    iou = mask_iou(det.masks, masks)
    assert iou.max(axis=1).min() > 0.8
    centroid = np.array([[14.0, 14.0], [58.0, 38.0]])  # (u, v) px of the masks' centroids
    found = det.centres[np.argsort(det.centres[:, 0])]
    assert np.abs(found - centroid).max() <= STRIDE
    assert np.abs(t[2:4]).max() * OFFSET_SCALE < 20


def test_decode_empty_and_net_shapes():
    net = DetectorNet(4).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 64, 96))
    assert out.shape == (2, 4, 16, 24)
    (det,) = decode(torch.full((1, 4, 16, 24), -10.0), 64, 96)
    assert len(det) == 0 and det.masks.shape == (0, 64, 96)
    with pytest.raises(ConfigError):
        net(torch.rand(1, 3, 60, 96))


def test_crops_follow_the_window():
    frame = torch.zeros(3, 64, 96)
    frame[0, 10:20, 30:40] = 1.0  # a red square
    mask = torch.zeros(1, 64, 96, dtype=torch.bool)
    mask[0, 10:20, 30:40] = True
    win = attr.mask_windows(mask.numpy())
    assert win[0].tolist() == pytest.approx([35.0, 15.0, max(attr.CONTEXT * 10, attr.MIN_WINDOW)])
    crop = attr.crop_objects(frame, mask, win)
    assert crop.shape == (1, 4, attr.CROP, attr.CROP)
    c = attr.CROP // 2
    assert crop[0, 0, c, c] > 0.9 and crop[0, 3, c, c] > 0.9 and crop[0, 0, 0, 0] < 0.1
    logits = attr.AttributeNet()(crop)
    assert logits.shape == (1, attr.N_OUTPUTS)
    y = torch.tensor([[1, 0, 2]])
    assert attr.attribute_loss(logits, y).item() > 0
    assert attr.AttributeView(attr.RGBOnly(attr.AttributeNet(), crop[:, 3:]), "shape")(crop[:, :3]).shape == (1, 3)


def test_soft_attribute_votes_and_interior_gaps():
    from physreason.perception.lifting import smooth_track
    from physreason.perception.tracking import Detection, Tracklet

    def probs(material_metal: float) -> dict[str, np.ndarray]:
        color = np.zeros(8)
        color[1] = 1.0
        return {"color": color, "material": np.array([material_metal, 1 - material_metal]),
                "shape": np.array([0.0, 0.0, 1.0])}

    tr = Tracklet(0)
    # two uncertain "rubber" labels lose to one confident "metal" once probabilities are voted
    tr.add(Detection(0, np.zeros(2), "red", "metal", "cube", 1.0, probs=probs(0.95)), 0.6, 1.0)
    tr.add(Detection(1, np.zeros(2), "red", "rubber", "cube", 1.0, probs=probs(0.4)), 0.6, 1.0)
    tr.add(Detection(2, np.zeros(2), "red", "rubber", "cube", 1.0, probs=probs(0.4)), 0.6, 1.0)
    assert tr.key == ("red", "metal", "cube")
    # an object missed for 30 frames in mid-table stays visible when both ends are interior
    frames = np.array([0, 1, 2, 33, 34, 35])
    xy = np.zeros((6, 2))
    hidden = smooth_track(frames, xy, 36, max_gap=10)
    bridged = smooth_track(frames, xy, 36, max_gap=10, interior=np.ones(6, bool))
    assert not hidden.seen[10:25].any() and bridged.seen.all()
    # a gap of 8 frames is bridged, but not when the measurement before it lies outside the
    # image (the object had left: what is detected after it is something else)
    frames = np.array([0, 1, 2, 11, 12, 13])
    assert smooth_track(frames, xy, 14, max_gap=10).seen.all()
    left = smooth_track(frames, xy, 14, max_gap=10, outside=np.array([0, 0, 1, 0, 0, 0], bool))
    assert not left.seen[3:11].any() and left.seen[[2, 11]].all()
    short = smooth_track(np.array([0, 1, 2, 5, 6]), xy[:5], 7, max_gap=10, outside=np.array([0, 0, 1, 0, 0], bool))
    assert short.seen.all()  # two missed frames: bridged
