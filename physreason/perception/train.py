"""Training the detector and the attribute classifier on a generated dataset.

The generator writes, per video, the rendered mp4 and a proposal file with every frame's
ground-truth instance masks and attributes (``proposals/proposal_XXXXX.json``); that is all the
supervision used. :func:`prepare` reads every ``frame_step``-th frame of each video (offset by
the video index, so all phases are seen) into arrays cached in one ``.npz``: half-resolution
frames with the detector's targets, and object crops (RGB + mask, with random window jitter)
with their attribute labels. :func:`train_detector` and :func:`train_attributes` then train with
AdamW and a one-cycle schedule, show progress with tqdm, and write a checkpoint after every
epoch from which a re-run resumes. :func:`export` writes the shipped weight files.

Attribute training ``mode``: ``clean`` (cross-entropy), ``fgsm`` (FGSM adversarial training with
the bag of tricks: random init, pixel masking, first-layer weight penalty; see
:mod:`.training.fgsm`) or ``advprop`` (Fast AdvProp with auxiliary BatchNorm, :mod:`.training.advprop`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from physreason.datasets.layout import find_files
from physreason.datasets.proposals import read_proposals
from physreason.datasets.video import read_video
from physreason.errors import ConfigError, FormatError
from physreason.perception import attributes as attr
from physreason.perception.detection_metrics import mask_iou
from physreason.perception.detector import DecodeConfig, DetectorNet, detection_loss, detection_targets

MIN_CROP_AREA = 20
"""Objects with fewer visible pixels are not used as attribute training crops."""


@dataclass(frozen=True)
class PreparedData:
    """Training arrays: ``images`` (N, 3, H/2, W/2) uint8, ``targets`` (N, 5, H/4, W/4) float16,
    ``crops`` (M, 4, CROP, CROP) uint8, ``labels`` (M, 3) int64, ``crop_video`` (M,) int64."""

    images: np.ndarray
    targets: np.ndarray
    crops: np.ndarray
    labels: np.ndarray
    crop_video: np.ndarray


def dataset_files(root: str | Path, indices: list[int] | None = None) -> list[tuple[int, Path, Path]]:
    """(index, video, proposal) of every video of ``root`` that has both (or of ``indices``)."""
    videos, proposals = find_files(root, "video"), find_files(root, "proposal")
    both = sorted(set(videos) & set(proposals))
    if indices is not None:
        missing = sorted(set(indices) - set(both))
        if missing:
            raise FormatError(root, "", f"videos {missing[:5]} have no video or no proposal file")
        both = sorted(indices)
    if not both:
        raise FormatError(root, "", "no video with a proposal file (videos/…/video_XXXXX.mp4 + proposals/proposal_XXXXX.json)")
    return [(i, videos[i], proposals[i]) for i in both]


def frame_masks(proposal_frame) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Masks (N, H, W) bool and attribute labels of one proposal frame's non-empty objects."""
    masks, labels = [], []
    for o in proposal_frame.objects:
        m = o.mask()
        if m.any():
            masks.append(m)
            labels.append(attr.labels(o.color, o.material, o.shape))
    if not masks:
        h, w = proposal_frame.objects[0].mask_rle["size"] if proposal_frame.objects else (0, 0)
        return np.zeros((0, h, w), bool), []
    return np.stack(masks), labels


def _object_crops(frame: np.ndarray, masks: np.ndarray, labels: list[tuple[int, int, int]],
                  rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Jittered crops (K, 4, CROP, CROP) uint8 of the ``masks`` (N, H, W) of ``frame`` (H, W, 3)
    with at least ``MIN_CROP_AREA`` pixels, and their labels."""
    keep = [k for k in range(len(masks)) if masks[k].sum() >= MIN_CROP_AREA]
    if not keep:
        return np.zeros((0, 4, attr.CROP, attr.CROP), np.uint8), []
    jitter = np.column_stack([rng.uniform(-0.08, 0.08, (len(keep), 2)), rng.uniform(-0.15, 0.15, len(keep))])
    win = attr.mask_windows(masks[keep], jitter)
    ft = torch.from_numpy(frame).permute(2, 0, 1).float() / 255
    c = attr.crop_objects(ft, torch.from_numpy(masks[keep]), win)
    return (c * 255).round().clamp(0, 255).to(torch.uint8).numpy(), [labels[k] for k in keep]


def matched_detections(detected: np.ndarray, truth: np.ndarray, labels: list[tuple[int, int, int]],
                       min_iou: float = 0.5) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The detected masks (N, H, W) that overlap a ground-truth mask of ``truth`` (M, H, W) at IoU
    >= ``min_iou``, with that mask's labels: training crops as the detector will cut them."""
    if len(detected) == 0 or len(truth) == 0:
        return np.zeros((0,) + truth.shape[1:], bool), []
    iou = mask_iou(detected, truth)
    best = iou.argmax(axis=1)
    keep = [k for k in range(len(detected)) if iou[k, best[k]] >= min_iou]
    return detected[keep], [labels[best[k]] for k in keep]


def _stack(crops: list[np.ndarray], labels: list[tuple[int, int, int]], idx: int) -> tuple[np.ndarray, ...]:
    arr = np.concatenate(crops) if crops else np.zeros((0, 4, attr.CROP, attr.CROP), np.uint8)
    return arr, np.asarray(labels, np.int64).reshape(-1, 3), np.full(len(arr), idx, np.int64)


def prepare_video(idx: int, video: Path, proposal: Path, frame_step: int, rng: np.random.Generator) -> PreparedData:
    """The training arrays of one video (see :func:`prepare`)."""
    frames = read_video(video)
    props = {f.frame_index: f for f in read_proposals(proposal).frames}
    t_count, h, w, _ = frames.shape
    images, targets, crops, labels = [], [], [], []
    for t in range(idx % frame_step, t_count, frame_step):
        frame = frames[t]
        masks, labs = frame_masks(props[t]) if t in props else (np.zeros((0, h, w), bool), [])
        if masks.shape[0] == 0:
            masks = np.zeros((0, h, w), bool)
        images.append(frame.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8).transpose(2, 0, 1))
        targets.append(detection_targets(masks, h, w).astype(np.float16))
        c, lab = _object_crops(frame, masks, labs, rng)
        crops.append(c)
        labels.extend(lab)
    return PreparedData(np.stack(images), np.stack(targets), *_stack(crops, labels, idx))


def prepare_detector_crops_video(idx: int, video: Path, proposal: Path, frame_step: int, rng: np.random.Generator,
                                 detector: DetectorNet, decode_config: DecodeConfig) -> PreparedData:
    """Attribute crops of one video cut with ``detector``'s own masks (matched to ground truth,
    labelled with its attributes), from every ``frame_step``-th frame, half a step after the
    frames :func:`prepare_video` reads; no detector images."""
    from physreason.perception.perceive import detect_frames

    frames = read_video(video)
    props = {f.frame_index: f for f in read_proposals(proposal).frames}
    t_count, h, w, _ = frames.shape
    times = [t for t in range((idx + frame_step // 2) % frame_step, t_count, frame_step) if t in props]
    crops, labels = [], []
    for t, det in zip(times, detect_frames(frames[times], detector, decode_config)):
        masks, labs = frame_masks(props[t])
        c, lab = _object_crops(frames[t], *matched_detections(det.masks, masks.reshape(-1, h, w), labs), rng)
        crops.append(c)
        labels.extend(lab)
    empty = np.zeros((0, 3, h // 2, w // 2), np.uint8), np.zeros((0, 5, h // 4, w // 4), np.float16)
    return PreparedData(*empty, *_stack(crops, labels, idx))


def concat_prepared(parts: list[PreparedData]) -> PreparedData:
    """The arrays of several :class:`PreparedData` end to end."""
    return PreparedData(*(np.concatenate([getattr(p, f) for p in parts]) for f in PreparedData.__dataclass_fields__))


def prepare(root: str | Path, frame_step: int = 8, seed: int = 0, indices: list[int] | None = None,
            cache: str | Path | None = None, progress: bool = True,
            detector: str | Path | None = None) -> PreparedData:
    """Read a generated dataset into training arrays (see the module docstring).

    With ``cache`` (a folder), each video's arrays are kept in ``cache/prep_XXXXX_sS.npz`` and
    reused by later runs (an interrupted preparation resumes where it stopped). With
    ``detector`` (a ``detector.pt`` file), only attribute crops are made, cut with that
    detector's masks (:func:`prepare_detector_crops_video`); their cache names carry a digest of
    the weight file.
    """
    from tqdm import tqdm

    if frame_step < 1:
        raise ConfigError(f"frame_step must be >= 1, got {frame_step}")
    tag, net = "prep", None
    if detector is not None:
        from physreason.perception.perceive import read_detector

        net = read_detector(detector)
        tag = "detcrops_" + hashlib.sha1(Path(detector).read_bytes()).hexdigest()[:10]
    parts = []
    for idx, video, proposal in tqdm(dataset_files(root, indices), desc="reading videos", unit="video",
                                     disable=not progress):
        path = Path(cache) / f"{tag}_{idx:05d}_s{frame_step}_c{attr.CROP}_seed{seed}.npz" if cache is not None else None
        if path is not None and path.exists():
            parts.append(load_prepared(path))
            continue
        rng = np.random.default_rng([seed, idx])
        if net is None:
            part = prepare_video(idx, video, proposal, frame_step, rng)
        else:
            part = prepare_detector_crops_video(idx, video, proposal, frame_step, rng, *net)
        if path is not None:
            save_prepared(path, part)
        parts.append(part)
    return concat_prepared(parts)


def save_prepared(path: str | Path, data: PreparedData) -> None:
    """Write prepared arrays to an ``.npz`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **data.__dict__)
    os.replace(tmp, path)


def load_prepared(path: str | Path) -> PreparedData:
    with np.load(path) as z:
        return PreparedData(**{k: z[k] for k in PreparedData.__dataclass_fields__})


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file: say so, never a traceback
        raise FormatError(path, "", f"not a readable checkpoint ({exc.__class__.__name__}); delete it to start over") from None


def _schedule(optimizer: torch.optim.Optimizer, lr: float, total: int) -> torch.optim.lr_scheduler.OneCycleLR:
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total, 1), pct_start=0.15)


def _crop_batch(images: torch.Tensor, targets: torch.Tensor, crop: tuple[int, int],
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``crop`` (h, w) half-resolution windows of a batch and the matching target windows;
    most windows are placed around a random object's centre so that few are empty table."""
    ch, cw = crop
    _, _, h, w = images.shape
    xs, ys = [], []
    for i in range(len(images)):
        peaks = torch.nonzero(targets[i, 1] == 1.0)
        if len(peaks) and torch.rand((), generator=gen) < 0.85:
            r, c = peaks[torch.randint(len(peaks), (), generator=gen)].tolist()
            cy, cx = 2 * r + 1, 2 * c + 1  # half-resolution pixel of the centre cell
            y0 = cy - int(torch.randint(8, ch - 8, (), generator=gen))
            x0 = cx - int(torch.randint(8, cw - 8, (), generator=gen))
        else:
            y0 = int(torch.randint(0, h - ch + 1, (), generator=gen))
            x0 = int(torch.randint(0, w - cw + 1, (), generator=gen))
        y0 = min(max(y0, 0), h - ch) // 2 * 2
        x0 = min(max(x0, 0), w - cw) // 2 * 2
        xs.append(images[i, :, y0 : y0 + ch, x0 : x0 + cw])
        ys.append(targets[i, :, y0 // 2 : (y0 + ch) // 2, x0 // 2 : (x0 + cw) // 2])
    return torch.stack(xs), torch.stack(ys)


def train_detector(data: PreparedData, work: str | Path, epochs: int = 6, batch: int = 16, lr: float = 3e-3,
                   width: int = 12, crop: tuple[int, int] = (96, 128), seed: int = 0,
                   progress: bool = True) -> DetectorNet:
    """Train (or resume) the detector on ``data``; checkpoint ``work/detector.ckpt`` each epoch.

    Each sample is a random ``crop`` (half-resolution px, multiples of 8) of a frame, mostly
    around an object (the net is fully convolutional, so it then runs on whole frames)."""
    from tqdm import tqdm

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / "detector.ckpt"
    torch.manual_seed(seed)
    net = DetectorNet(width).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    n = len(data.images)
    steps = (n // batch) * epochs
    sched = _schedule(opt, lr, steps)
    start = 0
    ckpt = _load_checkpoint(ckpt_path)
    if ckpt is not None:
        if ckpt["config"] != {"width": width, "epochs": epochs, "batch": batch, "lr": lr, "n": n, "crop": list(crop)}:
            raise ConfigError(f"{ckpt_path} was made with other settings {ckpt['config']}; delete it or match them")
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start = ckpt["epoch"] + 1
    images = torch.from_numpy(data.images)
    targets = torch.from_numpy(data.targets)
    for epoch in range(start, epochs):
        net.train()
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(n, generator=gen)
        flips = torch.rand(n, generator=gen) < 0.5
        bar = tqdm(range(n // batch), desc=f"detector epoch {epoch + 1}/{epochs}", unit="batch", disable=not progress)
        for b in bar:
            idx = order[b * batch : (b + 1) * batch]
            x, y = _crop_batch(images[idx], targets[idx], crop, gen)
            x = x.float() / 255
            y = y.float()
            f = flips[idx]
            if f.any():
                x[f] = x[f].flip(-1)
                y[f] = y[f].flip(-1)
                y[f, 2] = -y[f, 2]
            x = x.contiguous(memory_format=torch.channels_last)
            loss, parts = detection_loss(net.forward_half(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", **{k: f"{v:.3f}" for k, v in parts.items()})
        _save_checkpoint(ckpt_path, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                                     "scheduler": sched.state_dict(), "epoch": epoch,
                                     "config": {"width": width, "epochs": epochs, "batch": batch, "lr": lr, "n": n, "crop": list(crop)}})
    return net.eval()


def train_attributes(data: PreparedData, work: str | Path, mode: str = "clean", epochs: int = 4, batch: int = 64,
                     lr: float = 3e-3, seed: int = 0, progress: bool = True,
                     train_mask: np.ndarray | None = None) -> attr.AttributeNet:
    """Train (or resume) the attribute net; checkpoint ``work/attributes_{mode}.ckpt`` each epoch.

    ``train_mask`` (M,) bool selects the crops used (default all).
    """
    from tqdm import tqdm

    from physreason.perception.training import (AdvPropConfig, FGSMAdversarialTrainer, FGSMConfig,
                                                convert_to_mix_bn, fast_advprop_step, remove_aux_bn)

    if mode not in ("clean", "fgsm", "advprop"):
        raise ConfigError(f"unknown attribute training mode '{mode}'; choose clean, fgsm or advprop")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    ckpt_path = work / f"attributes_{mode}.ckpt"
    torch.manual_seed(seed)
    model = attr.AttributeNet()
    if mode == "advprop":
        convert_to_mix_bn(model)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sel = np.flatnonzero(train_mask) if train_mask is not None else np.arange(len(data.crops))
    crops = torch.from_numpy(data.crops[sel])
    labels = torch.from_numpy(data.labels[sel])
    n = len(sel)
    steps = (n // batch) * epochs
    sched = _schedule(opt, lr, steps)
    config = {"mode": mode, "epochs": epochs, "batch": batch, "lr": lr, "n": n}
    start = 0
    ckpt = _load_checkpoint(ckpt_path)
    if ckpt is not None:
        if ckpt["config"] != config:
            raise ConfigError(f"{ckpt_path} was made with other settings {ckpt['config']}; delete it or match them")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start = ckpt["epoch"] + 1
    rgb_model = attr.RGBOnly(model)
    frozen = attr.FrozenMask(model)
    fgsm = FGSMAdversarialTrainer(rgb_model, opt, FGSMConfig(eps=4 / 255, mask_ratio=0.4, first_conv_l2=1e-4),
                                  seed=seed, loss_fn=attr.attribute_loss) if mode == "fgsm" else None
    for epoch in range(start, epochs):
        model.train()
        gen = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(n, generator=gen)
        flips = torch.rand(n, generator=gen) < 0.5
        bar = tqdm(range(n // batch), desc=f"attributes ({mode}) epoch {epoch + 1}/{epochs}", unit="batch",
                   disable=not progress)
        for b in bar:
            idx = order[b * batch : (b + 1) * batch]
            x = crops[idx].float() / 255
            f = flips[idx]
            x[f] = x[f].flip(-1)
            y = labels[idx]
            x = x.contiguous(memory_format=torch.channels_last)
            if mode == "clean":
                loss = attr.attribute_loss(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                value = loss.item()
            elif mode == "fgsm":
                rgb_model.mask = x[:, 3:]
                value = fgsm.step(x[:, :3].contiguous(), y).loss
            else:
                # the batch is split into clean and attacked parts: the mask channel travels with
                # the crops and gets no gradient (only AdvProp's random start, <= eps, touches it)
                r = fast_advprop_step(frozen, opt, x, y, AdvPropConfig(eps=2 / 255),
                                      loss_fn=attr.attribute_loss, generator=gen)
                value = r.clean_loss
            sched.step()
            bar.set_postfix(loss=f"{value:.3f}")
        _save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "scheduler": sched.state_dict(), "epoch": epoch, "config": config})
    if mode == "advprop":
        remove_aux_bn(model)
    return model.eval()


def export(path: str | Path, model: torch.nn.Module, kind: str, config: dict) -> None:
    """Write a shipped weight file: ``{"kind", "config", "state_dict"}`` (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    _save_checkpoint(path, {"kind": kind, "config": config, "state_dict": state})
