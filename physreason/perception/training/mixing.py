"""CutMix and MixUp through kornia, and the mixed-label loss.

kornia's ``RandomCutMixV2`` pastes a random box from a paired image of the batch (Yun et al.,
CutMix) and ``RandomMixUpV2`` blends two images (Zhang et al., MixUp); both return, per image,
the two labels and a mixing coefficient. :class:`BatchMixer` wraps them and normalises their
output to one :class:`MixedBatch`: labels ``a`` (the image's own) and ``b`` (its partner's) and
``weight_b``, the share of the image that comes from the partner (the pasted box's area for
CutMix, the blend factor for MixUp). The loss is
``(1 - weight_b) * CE(logits, a) + weight_b * CE(logits, b)``, which equals the cross-entropy
against the soft label :meth:`MixedBatch.soft_targets`.

kornia draws its randomness from torch's global generator: seed with ``torch.manual_seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from kornia.augmentation import RandomCutMixV2, RandomMixUpV2
from torch import Tensor

from physreason.errors import ConfigError

MixKind = Literal["cutmix", "mixup"]


@dataclass(frozen=True)
class MixedBatch:
    """A mixed batch.

    Attributes:
        images: ``(B, C, H, W)`` mixed images.
        labels_a: ``(B,)`` long, each image's own label.
        labels_b: ``(B,)`` long, the label of the image mixed into it.
        weight_b: ``(B,)`` float in ``[0, 1]``, the share of the image from ``labels_b``.
    """

    images: Tensor
    labels_a: Tensor
    labels_b: Tensor
    weight_b: Tensor

    def soft_targets(self, num_classes: int) -> Tensor:
        """``(B, num_classes)`` label distribution of each mixed image (rows sum to one)."""
        weight_b = self.weight_b.unsqueeze(1)
        one_hot_a = F.one_hot(self.labels_a, num_classes).to(weight_b.dtype)
        one_hot_b = F.one_hot(self.labels_b, num_classes).to(weight_b.dtype)
        return (1 - weight_b) * one_hot_a + weight_b * one_hot_b


def mixed_cross_entropy(logits: Tensor, batch: MixedBatch, label_smoothing: float = 0.0) -> Tensor:
    """Batch-mean ``(1 - w) * CE(logits, a) + w * CE(logits, b)`` for ``(B, K)`` logits."""
    smoothing = label_smoothing
    loss_a = F.cross_entropy(logits, batch.labels_a, reduction="none", label_smoothing=smoothing)
    loss_b = F.cross_entropy(logits, batch.labels_b, reduction="none", label_smoothing=smoothing)
    weight_b = batch.weight_b.to(logits.dtype)
    return ((1 - weight_b) * loss_a + weight_b * loss_b).mean()


class BatchMixer:
    """Mix a labelled batch with kornia's CutMix or MixUp.

    Args:
        kind: ``"cutmix"`` or ``"mixup"``.
        p: probability that an image is mixed (an unmixed image has ``labels_b == labels_a``,
            so its loss and soft target are its own label's whatever ``weight_b`` is).
        beta: CutMix's Beta(beta, beta) parameter for the kept area (1.0 in the paper).
        mixup_range: MixUp's ``(min, max)`` of the uniformly drawn blend factor.
    """

    def __init__(
        self,
        kind: MixKind = "cutmix",
        p: float = 1.0,
        beta: float = 1.0,
        mixup_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"mixing probability p must be in [0, 1], got {p}")
        if kind == "cutmix":
            if beta <= 0:
                raise ConfigError(f"CutMix beta must be positive, got {beta}")
            self.augment: RandomCutMixV2 | RandomMixUpV2 = RandomCutMixV2(
                num_mix=1, beta=beta, p=p, use_correct_lambda=True, data_keys=["input", "class"]
            )
        elif kind == "mixup":
            low, high = mixup_range
            if not 0.0 <= low <= high <= 1.0:
                raise ConfigError(
                    f"mixup_range must satisfy 0 <= min <= max <= 1, got {mixup_range}"
                )
            self.augment = RandomMixUpV2(
                lambda_val=torch.tensor(mixup_range), p=p, data_keys=["input", "class"]
            )
        else:
            raise ConfigError(f"unknown mixing kind '{kind}'; choose 'cutmix' or 'mixup'")
        self.kind: MixKind = kind

    def __call__(self, images: Tensor, labels: Tensor) -> MixedBatch:
        """Mix ``(B, C, H, W)`` images with ``(B,)`` integer labels into a :class:`MixedBatch`."""
        if images.ndim != 4 or labels.shape != images.shape[:1]:
            raise ConfigError(
                f"expected images (B, C, H, W) and labels (B,), got {tuple(images.shape)} and "
                f"{tuple(labels.shape)}"
            )
        mixed, table = self.augment(images, labels)
        if self.kind == "cutmix":
            # (num_mix=1, B, 3) rows (a, b, kept area): the partner covers 1 - kept area.
            table = table[0]
            weight_b = 1 - table[:, 2]
        else:
            # (B, 3) rows (a, b, blend): image = (1 - blend) * a + blend * b.
            weight_b = table[:, 2]
        return MixedBatch(
            images=mixed,
            labels_a=table[:, 0].long(),
            labels_b=table[:, 1].long(),
            weight_b=weight_b,
        )
