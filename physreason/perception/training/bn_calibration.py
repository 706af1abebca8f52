"""Re-estimating BatchNorm running statistics after training (used after NetAug)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.training.modes import evaluation_mode


@torch.no_grad()
def reset_bn_statistics(model: nn.Module, batches: Iterable[Tensor]) -> int:
    """Replace every BatchNorm's running mean and variance by their average over ``batches``.

    The statistics are reset, then accumulated as an equal-weight (cumulative) average over
    the ``(B, C, H, W)`` batches with the BatchNorms in train mode; nothing else changes
    (parameters, momentum, and every module's train/eval mode are restored).

    Returns:
        The number of batches used.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ConfigError(f"{type(model).__name__} has no BatchNorm layers to re-estimate")
    momenta = [norm.momentum for norm in norms]
    count = 0
    with evaluation_mode(model):
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        for batch in batches:
            model(batch)
            count += 1
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    if count == 0:
        raise ConfigError("reset_bn_statistics needs at least one batch")
    return count
