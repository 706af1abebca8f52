"""Simulated detector noise on proposals, to test and evaluate tracking on imperfect detections.

Ground-truth ids are removed (a tracker must not read them); each object's detections are
dropped for runs of 1..``max_drop`` frames, masks are shifted by up to ``jitter`` px and eroded
or dilated by one pixel, some detections get a wrong attribute at a low score, false positives
(small blobs with random attributes and low scores) are added, and every frame's detections are
shuffled. The same seed gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import binary_dilation, binary_erosion

from physreason.datasets.proposals import ProposalFrame, ProposalObject, Proposals
from physreason.datasets.rle import encode
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES

_VALUES = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}


@dataclass(frozen=True)
class NoiseConfig:
    """Noise levels: per object and frame, probability ``p_drop`` of starting a run of 1..``max_drop``
    missed frames; mask shift up to ``jitter`` px; probability ``p_morph`` of a one-pixel
    erosion or dilation; probability ``p_wrong`` of one wrong attribute (score then in
    ``wrong_score``); per frame, probability ``p_false`` of a false positive of ``false_size`` px
    square scoring in ``wrong_score``."""

    p_drop: float = 0.03
    max_drop: int = 3
    jitter: int = 1
    p_morph: float = 0.3
    p_wrong: float = 0.1
    wrong_score: tuple[float, float] = (0.2, 0.5)
    p_false: float = 0.05
    false_size: int = 6


def _jitter_mask(mask: np.ndarray, rng: np.random.Generator, config: NoiseConfig) -> np.ndarray:
    dv, du = (int(x) for x in rng.integers(-config.jitter, config.jitter + 1, size=2))
    h, w = mask.shape
    out = np.zeros_like(mask)
    out[max(dv, 0):h + min(dv, 0), max(du, 0):w + min(du, 0)] = mask[max(-dv, 0):h - max(dv, 0),
                                                                    max(-du, 0):w - max(du, 0)]
    if rng.random() < config.p_morph:
        morphed = binary_erosion(out) if rng.random() < 0.5 else binary_dilation(out)
        if morphed.any():
            out = morphed
    return out


def corrupt_proposals(proposals: Proposals, seed: int, config: NoiseConfig = NoiseConfig()) -> Proposals:
    """A noisy copy of ``proposals`` (see the module docstring); ``object_id`` is set to None."""
    rng = np.random.default_rng(seed)
    dropped_until: dict[tuple[str, str, str], int] = {}
    frames = []
    for fr in proposals.frames:
        objs: list[ProposalObject] = []
        for obj in fr.objects:
            key = (obj.color, obj.material, obj.shape)
            if fr.frame_index < dropped_until.get(key, -1):
                continue
            if rng.random() < config.p_drop:
                dropped_until[key] = fr.frame_index + int(rng.integers(1, config.max_drop + 1))
                continue
            noisy = replace(obj, mask_rle=encode(_jitter_mask(obj.mask(), rng, config)), object_id=None)
            if rng.random() < config.p_wrong:
                name = str(rng.choice(list(_VALUES)))
                wrong = [v for v in _VALUES[name] if v != getattr(obj, name)]
                noisy = replace(noisy, score=float(rng.uniform(*config.wrong_score)),
                                **{name: str(rng.choice(wrong))})
            objs.append(noisy)
        if objs and rng.random() < config.p_false:
            h, w = objs[0].mask_rle["size"]
            mask = np.zeros((h, w), bool)
            r, c = int(rng.integers(0, h - config.false_size)), int(rng.integers(0, w - config.false_size))
            mask[r:r + config.false_size, c:c + config.false_size] = True
            objs.append(ProposalObject(str(rng.choice(COLORS)), str(rng.choice(MATERIALS)), str(rng.choice(SHAPES)),
                                       float(rng.uniform(*config.wrong_score)), encode(mask)))
        order = rng.permutation(len(objs))
        frames.append(ProposalFrame(fr.frame_index, fr.frame_filename, tuple(objs[k] for k in order), dict(fr.extra)))
    return Proposals(tuple(frames), dict(proposals.extra))
