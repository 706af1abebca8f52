"""Catastrophic-overfitting (CO) monitor for fast adversarial training.

CO (Wong et al. 2020; Li et al. 2209.02684): within a few iterations of single-step training,
accuracy under a multi-step PGD attack collapses towards zero while accuracy under FGSM jumps,
because the model learns a locally non-linear loss surface that the single step no longer
explores. The guard of Wong et al.: after each epoch, run a short PGD (5 steps, 1 restart) on
a fixed training batch; if robust accuracy falls by more than 0.2 from the previous check,
stop and go back to the previous weights. :class:`CatastrophicOverfittingMonitor` does this
check, reports FGSM accuracy next to PGD accuracy (the CO signature is the gap between them),
and reacts by restoring the last healthy weights when ``restore=True``.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.training.attacks import accuracy, fgsm_attack, pgd_attack
from physreason.perception.training.modes import evaluation_mode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OverfittingCheck:
    """The result of one monitor check.

    Attributes:
        pgd_accuracy: accuracy on the check batch under PGD.
        fgsm_accuracy: accuracy on the check batch under FGSM (same ``eps``).
        reference_accuracy: PGD accuracy of the previous healthy check (``None`` at first).
        collapsed: PGD accuracy fell by more than the threshold since that check.
        restored: the monitor loaded the previous healthy weights back into the model.
    """

    pgd_accuracy: float
    fgsm_accuracy: float
    reference_accuracy: float | None
    collapsed: bool
    restored: bool


class CatastrophicOverfittingMonitor:
    """Detect (and optionally undo) catastrophic overfitting with a PGD check.

    Args:
        model: the model being trained.
        x: ``(B, C, H, W)`` fixed check batch in ``[0, 1]`` (e.g. the first training batch).
        y: ``(B,)`` its labels.
        eps: attack radius (the training ``eps``).
        step_size: PGD step, default ``eps / 4``.
        steps: PGD steps (5 in Wong et al.).
        drop_threshold: a fall in PGD accuracy larger than this is a collapse (0.2).
        restore: on a collapse, load the weights of the last healthy check back.
        seed: seed of the PGD starting points, so successive checks are comparable.
    """

    def __init__(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        eps: float,
        step_size: float | None = None,
        steps: int = 5,
        drop_threshold: float = 0.2,
        restore: bool = True,
        seed: int = 0,
    ) -> None:
        if not 0.0 < drop_threshold <= 1.0:
            raise ConfigError(f"drop_threshold must be in (0, 1], got {drop_threshold}")
        self.model = model
        self.x = x.detach()
        self.y = y.detach()
        self.eps = eps
        self.step_size = eps / 4 if step_size is None else step_size
        self.steps = steps
        self.drop_threshold = drop_threshold
        self.restore = restore
        self.seed = seed
        self.history: list[OverfittingCheck] = []
        self._healthy_accuracy: float | None = None
        self._healthy_state: dict[str, Tensor] | None = None

    @property
    def collapsed(self) -> bool:
        """Whether any check so far found a collapse (the signal to stop training)."""
        return any(check.collapsed for check in self.history)

    def check(self) -> OverfittingCheck:
        """Measure PGD and FGSM accuracy on the check batch, compare, and react."""
        generator = torch.Generator(device=self.x.device).manual_seed(self.seed)
        with evaluation_mode(self.model):
            x_pgd = pgd_attack(
                self.model, self.x, self.y, self.eps, self.step_size, self.steps,
                generator=generator,
            )
            pgd_acc = accuracy(self.model, x_pgd, self.y)
            x_fgsm = fgsm_attack(self.model, self.x, self.y, self.eps)
            fgsm_acc = accuracy(self.model, x_fgsm, self.y)
        reference = self._healthy_accuracy
        collapsed = reference is not None and reference - pgd_acc > self.drop_threshold
        restored = False
        if collapsed:
            log.warning(
                "catastrophic overfitting: PGD accuracy fell from %.3f to %.3f (FGSM accuracy "
                "%.3f)", reference, pgd_acc, fgsm_acc,
            )
            if self.restore and self._healthy_state is not None:
                self.model.load_state_dict(self._healthy_state)
                restored = True
        else:
            self._healthy_accuracy = pgd_acc
            self._healthy_state = copy.deepcopy(self.model.state_dict())
        result = OverfittingCheck(pgd_acc, fgsm_acc, reference, collapsed, restored)
        self.history.append(result)
        return result
