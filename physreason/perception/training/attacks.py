"""L-infinity attacks and robust-accuracy evaluation for image classifiers.

Images are in ``[0, 1]`` (normalisation belongs inside the model), perturbations are bounded
by ``eps`` in the max norm, and the adversarial image is clipped back to ``[0, 1]``. The
attacks differentiate with respect to the input only (``torch.autograd.grad``), so they never
touch the parameters' ``.grad``; they do not change the model's train/eval mode, use
:func:`evaluation_mode` (as :func:`robust_accuracy` does) to attack a model in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.training.modes import evaluation_mode

LossFn = Callable[[Tensor, Tensor], Tensor]


def check_budget(eps: float, step_size: float, steps: int) -> None:
    """Raise :class:`ConfigError` unless ``eps >= 0``, ``step_size > 0`` and ``steps >= 1``."""
    if eps < 0 or step_size <= 0 or steps < 1:
        raise ConfigError(
            f"attack needs eps >= 0, step_size > 0 and steps >= 1, got eps={eps}, "
            f"step_size={step_size}, steps={steps}"
        )


def project(x: Tensor, delta: Tensor, eps: float) -> Tensor:
    """Clip ``delta`` to ``[-eps, eps]`` and so that ``x + delta`` stays in ``[0, 1]``."""
    delta = delta.clamp(-eps, eps)
    return (x + delta).clamp(0.0, 1.0) - x


def input_gradient(model: nn.Module, x_adv: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
    """``d loss(model(x_adv), y) / d x_adv`` with shape of ``x_adv``, parameters untouched."""
    x_adv = x_adv.detach().requires_grad_(True)
    loss = loss_fn(model(x_adv), y)
    (grad,) = torch.autograd.grad(loss, x_adv)
    return grad


def fgsm_attack(
    model: nn.Module, x: Tensor, y: Tensor, eps: float, loss_fn: LossFn = F.cross_entropy
) -> Tensor:
    """One signed-gradient step of size ``eps`` from ``x`` (Goodfellow et al.).

    Args:
        x: ``(B, C, H, W)`` images in ``[0, 1]``; y: ``(B,)`` class indices.

    Returns:
        ``(B, C, H, W)`` adversarial images, detached.
    """
    if eps < 0:
        raise ConfigError(f"FGSM needs eps >= 0, got {eps}")
    grad = input_gradient(model, x, y, loss_fn)
    return (x + project(x, eps * grad.sign(), eps)).detach()


def pgd_attack(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    step_size: float,
    steps: int,
    restarts: int = 1,
    random_start: bool = True,
    loss_fn: LossFn = F.cross_entropy,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent in the ``eps`` max-norm ball (Madry et al.).

    Each restart starts from a uniform point of the ball (or from ``x``), takes ``steps``
    signed-gradient steps of ``step_size`` and projects back. Across restarts, a sample keeps
    the first perturbation that fools the model (the last one if none does).

    Args:
        x: ``(B, C, H, W)`` images in ``[0, 1]``; y: ``(B,)`` class indices.
        generator: random source of the starting points (for reproducible attacks).

    Returns:
        ``(B, C, H, W)`` adversarial images, detached.
    """
    check_budget(eps, step_size, steps)
    if restarts < 1:
        raise ConfigError(f"PGD needs at least one restart, got {restarts}")
    x = x.detach()
    best = x.clone()
    fooled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(restarts):
        delta = torch.zeros_like(x)
        if random_start:
            delta.uniform_(-eps, eps, generator=generator)
        delta = project(x, delta, eps)
        for _ in range(steps):
            grad = input_gradient(model, x + delta, y, loss_fn)
            delta = project(x, delta + step_size * grad.sign(), eps)
        with torch.no_grad():
            wrong = model(x + delta).argmax(dim=1) != y
        take = ~fooled
        best[take] = (x + delta)[take]
        fooled |= wrong
    return best


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``(B, C, H, W)`` images whose arg-max class equals ``y`` ``(B,)``."""
    return (model(x).argmax(dim=1) == y).float().mean().item()


def robust_accuracy(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    step_size: float | None = None,
    steps: int = 10,
    restarts: int = 1,
    generator: torch.Generator | None = None,
) -> float:
    """Accuracy in eval mode under :func:`pgd_attack` (``step_size`` defaults to ``eps / 4``).

    ``eps = 0`` gives the clean accuracy. The model's modes are restored afterwards.
    """
    with evaluation_mode(model):
        if eps == 0:
            return accuracy(model, x, y)
        step = eps / 4 if step_size is None else step_size
        x_adv = pgd_attack(model, x, y, eps, step, steps, restarts, generator=generator)
        return accuracy(model, x_adv, y)
