"""Fast adversarial training with single-step FGSM and the "bag of tricks" against
catastrophic overfitting (Li et al., arXiv 2209.02684; random init from Wong et al. 2020).

Tricks available here (each off by default except the random init):

* **random init**: start the FGSM step from a uniform point of the ``eps`` ball and take a
  step of ``1.25 * eps`` (RS-FGSM), then project back to the ball;
* **pixel masking** (data init): a fraction ``mask_ratio`` of pixels is masked while crafting:
  they are zeroed in the image whose gradient is taken and receive no perturbation. The mask
  is drawn per sample, or once and reused (``fixed_mask``; the paper reports that even a fixed
  mask prevents catastrophic overfitting). This is our reading of the paper's abstract; the
  authors' code was not released, so the ratio is a hyperparameter to sweep (0.2 to 0.6);
* **first-layer weight penalty**: ``first_conv_l2 * ||W_1||^2`` on the first conv's weights.

The structural tricks (a larger first-layer stride, smooth activations) are backbone options:
``create_backbone(..., stem="patchify", act="silu")``. Pair the trainer with
:class:`~physreason.perception.training.overfitting_monitor.CatastrophicOverfittingMonitor`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.training.attacks import LossFn, input_gradient, project


@dataclass(frozen=True)
class FGSMConfig:
    """FGSM adversarial-training settings (images in ``[0, 1]``).

    Attributes:
        eps: max-norm radius of the perturbation.
        step_size: FGSM step; ``None`` means ``1.25 * eps`` with random init, else ``eps``.
        random_init: start from a uniform point of the ball instead of the clean image.
        mask_ratio: fraction of pixels masked while crafting, in ``[0, 1)``.
        fixed_mask: draw the pixel mask once (per image size) and reuse it for every batch.
        first_conv_l2: weight of the squared L2 penalty on the first conv's weights.
    """

    eps: float = 4 / 255
    step_size: float | None = None
    random_init: bool = True
    mask_ratio: float = 0.0
    fixed_mask: bool = False
    first_conv_l2: float = 0.0

    def __post_init__(self) -> None:
        if self.eps < 0 or (self.step_size is not None and self.step_size <= 0):
            raise ConfigError(
                f"FGSM needs eps >= 0 and a positive step_size, got eps={self.eps}, "
                f"step_size={self.step_size}"
            )
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ConfigError(f"mask_ratio must be in [0, 1), got {self.mask_ratio}")
        if self.first_conv_l2 < 0:
            raise ConfigError(f"first_conv_l2 must be non-negative, got {self.first_conv_l2}")

    @property
    def step(self) -> float:
        """The FGSM step actually taken."""
        if self.step_size is not None:
            return self.step_size
        return 1.25 * self.eps if self.random_init else self.eps


@dataclass(frozen=True)
class FGSMStepResult:
    """Losses of one training step: ``loss`` on the adversarial batch, ``penalty`` added."""

    loss: float
    penalty: float


def first_conv_weight(model: nn.Module) -> Tensor:
    """The weight of the first :class:`torch.nn.Conv2d` in ``model.modules()`` order."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.weight
    raise ConfigError(f"{type(model).__name__} has no Conv2d layer to regularise")


class FGSMAdversarialTrainer:
    """Train ``model`` on FGSM examples crafted on the fly from each batch.

    Args:
        model: any classifier ``(B, C, H, W) -> (B, K)`` on ``[0, 1]`` images.
        optimizer: optimiser over the model's parameters.
        config: the FGSM settings and tricks.
        seed: seed of the random init and the pixel masks.
        loss_fn: training (and crafting) loss ``loss_fn(logits, y)``.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        config: FGSMConfig = FGSMConfig(),
        seed: int = 0,
        loss_fn: LossFn = F.cross_entropy,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.config = config
        self.loss_fn = loss_fn
        self._seed = seed
        self._generator: torch.Generator | None = None
        self._fixed_masks: dict[tuple[int, int], Tensor] = {}

    def _random(self, x: Tensor) -> torch.Generator:
        if self._generator is None or self._generator.device != x.device:
            self._generator = torch.Generator(device=x.device).manual_seed(self._seed)
        return self._generator

    def pixel_mask(self, x: Tensor) -> Tensor:
        """Keep-mask for crafting: 1 where a pixel may be perturbed, 0 where it is masked.

        Shape ``(B, 1, H, W)`` (per-sample masks) or ``(1, 1, H, W)`` (fixed mask), dtype of ``x``.
        """
        batch, _, height, width = x.shape
        if self.config.mask_ratio == 0.0:
            return torch.ones(1, 1, height, width, dtype=x.dtype, device=x.device)
        if self.config.fixed_mask and (height, width) in self._fixed_masks:
            return self._fixed_masks[(height, width)]
        rows = 1 if self.config.fixed_mask else batch
        draw = torch.rand(rows, 1, height, width, generator=self._random(x), device=x.device)
        mask = (draw >= self.config.mask_ratio).to(x.dtype)
        if self.config.fixed_mask:
            self._fixed_masks[(height, width)] = mask
        return mask

    def craft(self, x: Tensor, y: Tensor) -> Tensor:
        """FGSM example of ``(B, C, H, W)`` images ``x`` in ``[0, 1]`` with labels ``(B,)``.

        Returns detached ``(B, C, H, W)`` images with ``|x_adv - x| <= eps`` everywhere and
        ``x_adv == x`` on masked pixels. Uses the model in its current mode.
        """
        eps = self.config.eps
        delta = torch.zeros_like(x)
        if self.config.random_init:
            delta.uniform_(-eps, eps, generator=self._random(x))
        delta = project(x, delta, eps)
        keep = self.pixel_mask(x)
        grad = input_gradient(self.model, (x + delta) * keep, y, self.loss_fn)
        delta = project(x, delta + self.config.step * grad.sign(), eps) * keep
        return (x + delta).detach()

    def step(self, x: Tensor, y: Tensor) -> FGSMStepResult:
        """Craft FGSM examples for the batch and take one optimiser step on them."""
        x_adv = self.craft(x, y)
        loss = self.loss_fn(self.model(x_adv), y)
        penalty = torch.zeros((), device=x.device)
        if self.config.first_conv_l2 > 0:
            penalty = self.config.first_conv_l2 * first_conv_weight(self.model).pow(2).sum()
        self.optimizer.zero_grad(set_to_none=True)
        (loss + penalty).backward()
        self.optimizer.step()
        return FGSMStepResult(loss=loss.item(), penalty=penalty.item())
