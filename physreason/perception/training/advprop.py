"""Fast AdvProp (Mei et al., ICLR 2022, arXiv 2204.09838): adversarial examples as a
regulariser, with auxiliary BatchNorm so their statistics never mix with the clean ones.

* :class:`MixBatchNorm2d` replaces every ``BatchNorm2d``: a ``main`` BN for clean images and an
  ``aux`` BN (own statistics and affine parameters) for adversarial ones, chosen by
  :func:`bn_route`. Evaluation uses ``main``; :func:`remove_aux_bn` returns the deployable model.
* :func:`fast_advprop_step` is one training step: the last ``adv_fraction`` of the batch (20%,
  the paper's 4:1 split) is attacked with a single step of ``eps`` through the aux BNs; the
  backward of that attack also accumulates the parameter gradients (no extra pass), then the
  adversarial images get their own forward/backward through the aux BNs. Loss weights
  default to clean 1, attack 0.5, adversarial 0.5, and every parameter's gradient is divided
  by the weighted number of samples that reached it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.training.attacks import LossFn, project

BNRoute = Literal["clean", "adv"]


class MixBatchNorm2d(nn.Module):
    """A BatchNorm2d pair: ``main`` for clean inputs, ``aux`` for adversarial ones.

    Args:
        bn: the BatchNorm to wrap; it becomes ``main`` and a copy of it becomes ``aux``.
    """

    def __init__(self, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.main = bn
        self.aux = copy.deepcopy(bn)
        self.route: BNRoute = "clean"

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)`` through ``main`` (route clean) or ``aux`` (adv)."""
        return self.main(x) if self.route == "clean" else self.aux(x)


def convert_to_mix_bn(model: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` of ``model`` (in place) by a :class:`MixBatchNorm2d`."""
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, MixBatchNorm2d(child))
        elif not isinstance(child, MixBatchNorm2d):
            convert_to_mix_bn(child)
    return model


def remove_aux_bn(model: nn.Module) -> nn.Module:
    """Replace every :class:`MixBatchNorm2d` (in place) by its ``main`` BN, dropping ``aux``."""
    for name, child in model.named_children():
        if isinstance(child, MixBatchNorm2d):
            setattr(model, name, child.main)
        else:
            remove_aux_bn(child)
    return model


def mix_bn_layers(model: nn.Module) -> list[MixBatchNorm2d]:
    """All :class:`MixBatchNorm2d` layers of ``model``; :class:`ConfigError` if there are none."""
    layers = [m for m in model.modules() if isinstance(m, MixBatchNorm2d)]
    if not layers:
        raise ConfigError(
            f"{type(model).__name__} has no MixBatchNorm2d; call convert_to_mix_bn(model) first"
        )
    return layers


@contextmanager
def bn_route(model: nn.Module, route: BNRoute) -> Iterator[nn.Module]:
    """Route every :class:`MixBatchNorm2d` of ``model`` to ``route`` for the block."""
    if route not in ("clean", "adv"):
        raise ConfigError(f"unknown BN route '{route}'; choose 'clean' or 'adv'")
    layers = mix_bn_layers(model)
    previous = [layer.route for layer in layers]
    for layer in layers:
        layer.route = route
    try:
        yield model
    finally:
        for layer, old in zip(layers, previous, strict=True):
            layer.route = old


@dataclass(frozen=True)
class AdvPropConfig:
    """Fast AdvProp settings (images in ``[0, 1]``).

    Attributes:
        eps: max-norm radius of the one-step attack (1/255, one pixel level, in the paper).
        adv_fraction: share of each batch that is attacked (0.2 = the 4:1 split).
        random_start_prob: probability that a batch's attack starts from uniform noise in the
            ball rather than from the clean image (about 0.42 in the paper's script).
        clean_weight, attack_weight, adv_weight: loss weights of the three passes.
    """

    eps: float = 1 / 255
    adv_fraction: float = 0.2
    random_start_prob: float = 0.42
    clean_weight: float = 1.0
    attack_weight: float = 0.5
    adv_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.eps <= 0 or not 0.0 < self.adv_fraction < 1.0:
            raise ConfigError(
                f"AdvProp needs eps > 0 and adv_fraction in (0, 1), got eps={self.eps}, "
                f"adv_fraction={self.adv_fraction}"
            )
        if not 0.0 <= self.random_start_prob <= 1.0:
            raise ConfigError(f"random_start_prob must be in [0, 1], got {self.random_start_prob}")
        if min(self.attack_weight, self.adv_weight) < 0 or self.clean_weight <= 0:
            raise ConfigError(
                "AdvProp needs a positive clean_weight and non-negative attack and adv weights"
            )
        if self.attack_weight + self.adv_weight == 0:
            raise ConfigError("AdvProp needs a positive attack_weight or adv_weight")


@dataclass(frozen=True)
class AdvPropStepResult:
    """Mean per-sample losses of one step: clean, during the attack, on adversarial images."""

    clean_loss: float
    attack_loss: float
    adv_loss: float


def _rebalance_gradients(
    model: nn.Module, clean_count: float, adv_count: float
) -> None:
    """Divide gradients by the weighted number of samples that reached each parameter."""
    layers = mix_bn_layers(model)
    main = {id(p) for layer in layers for p in layer.main.parameters()}
    aux = {id(p) for layer in layers for p in layer.aux.parameters()}
    for param in model.parameters():
        if param.grad is None:
            continue
        if id(param) in main:
            param.grad.div_(clean_count)
        elif id(param) in aux:
            param.grad.div_(adv_count)
        else:
            param.grad.div_(clean_count + adv_count)


def fast_advprop_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    config: AdvPropConfig = AdvPropConfig(),
    loss_fn: LossFn = F.cross_entropy,
    generator: torch.Generator | None = None,
) -> AdvPropStepResult:
    """One Fast AdvProp step on a batch (the model must hold :class:`MixBatchNorm2d` layers).

    Args:
        model: classifier in train mode, converted with :func:`convert_to_mix_bn`.
        optimizer: optimiser over all its parameters (main and aux BN included).
        x: ``(B, C, H, W)`` images in ``[0, 1]``; the first ``B - n_adv`` are used clean,
            the last ``n_adv = max(1, round(B * adv_fraction))`` are attacked.
        y: ``(B,)`` class indices.
        loss_fn: per-sample-mean loss ``loss_fn(logits, y)``.
        generator: random source of the attack's start, on the device of ``x``.
    """
    batch = x.shape[0]
    n_adv = max(1, round(batch * config.adv_fraction))
    if n_adv >= batch:
        raise ConfigError(f"a batch of {batch} is too small to split off adversarial samples")
    x_clean, y_clean = x[: batch - n_adv], y[: batch - n_adv]
    x_src, y_src = x[batch - n_adv :].detach(), y[batch - n_adv :]
    optimizer.zero_grad(set_to_none=True)

    with bn_route(model, "clean"):
        clean_loss = loss_fn(model(x_clean), y_clean)
    (clean_loss * config.clean_weight * x_clean.shape[0]).backward()

    delta = torch.zeros_like(x_src)
    start = torch.rand((), generator=generator, device=x.device)
    if start.item() < config.random_start_prob:
        delta.uniform_(-config.eps, config.eps, generator=generator)
    x_start = (x_src + project(x_src, delta, config.eps)).requires_grad_(True)
    with bn_route(model, "adv"):
        attack_loss = loss_fn(model(x_start), y_src)
        if config.attack_weight > 0:  # the attack's backward also trains (reused gradients)
            (attack_loss * config.attack_weight * n_adv).backward()
            input_grad = x_start.grad
        else:
            (input_grad,) = torch.autograd.grad(attack_loss, x_start)
        step = config.eps * input_grad.sign()
        x_adv = (x_src + project(x_src, x_start.detach() - x_src + step, config.eps)).detach()
        adv_loss = loss_fn(model(x_adv), y_src)
        (adv_loss * config.adv_weight * n_adv).backward()

    _rebalance_gradients(
        model,
        clean_count=config.clean_weight * x_clean.shape[0],
        adv_count=(config.attack_weight + config.adv_weight) * n_adv,
    )
    optimizer.step()
    return AdvPropStepResult(clean_loss.item(), attack_loss.item(), adv_loss.item())
