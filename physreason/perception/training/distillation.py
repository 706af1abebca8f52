"""MEAL-V2-style distillation (Shen and Savvides, arXiv 2009.08453): a student learns only
from the averaged soft predictions of a frozen teacher ensemble, with no one-hot labels, and
optionally a discriminator that tells student logits from teacher logits.

* :class:`TeacherEnsemble`: frozen teachers, always in eval mode; the soft target is the mean
  of the teachers' softmax outputs.
* :func:`soft_target_kl`: ``KL(p_teacher || p_student)``, batch-mean (equal, up to the
  teacher entropy, to MEAL-V2's soft cross-entropy, so it has the same gradients).
* :class:`LogitDiscriminator`: an MLP over logits (MEAL-V2 uses 1x1 convs, i.e. the same MLP).
* :class:`MealV2Distiller`: the combined loss. The discriminator learns to label teacher
  logits 1 and (detached) student logits 0; the student gets an adversarial term that pushes
  the frozen discriminator's verdict on its logits towards "teacher". Because each side's
  term only reaches its own parameters, one optimiser can step student and discriminator
  together, as in MEAL-V2's single SGD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from physreason.errors import ConfigError


@dataclass(frozen=True)
class TeacherOutput:
    """What the ensemble predicts for a batch: ``probs`` and ``logits``, both ``(B, K)``.

    ``probs`` is the mean of the teachers' softmax outputs (the soft target); ``logits`` is the
    mean of their logits (the "teacher" sample the discriminator sees).
    """

    probs: Tensor
    logits: Tensor


class TeacherEnsemble(nn.Module):
    """Frozen teacher classifiers whose softmax outputs are averaged.

    Args:
        teachers: models ``(B, C, H, W) -> (B, K)`` with the same ``K``. Their parameters are
            frozen and they stay in eval mode even when the ensemble is put in train mode.
    """

    def __init__(self, teachers: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(teachers) == 0:
            raise ConfigError("a teacher ensemble needs at least one teacher")
        self.teachers = nn.ModuleList(teachers)
        self.teachers.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> TeacherEnsemble:
        """Teachers never train: keep them (and their BatchNorm statistics) in eval mode."""
        super().train(False)
        return self

    @torch.no_grad()
    def forward(self, x: Tensor) -> TeacherOutput:
        """``(B, C, H, W)`` -> the ensemble's mean probabilities and mean logits, ``(B, K)``."""
        logits = torch.stack([teacher(x) for teacher in self.teachers])
        return TeacherOutput(probs=logits.softmax(dim=-1).mean(0), logits=logits.mean(0))


def soft_target_kl(student_logits: Tensor, teacher_probs: Tensor) -> Tensor:
    """``KL(teacher || student)`` averaged over the batch.

    Args:
        student_logits: ``(B, K)``; teacher_probs: ``(B, K)`` rows summing to one.
    """
    return F.kl_div(
        student_logits.log_softmax(dim=-1), teacher_probs, reduction="batchmean"
    )


class LogitDiscriminator(nn.Module):
    """MLP ``(B, K) logits -> (B,)`` score: positive for "teacher", negative for "student".

    Args:
        num_classes: ``K``.
        hidden_dims: hidden widths (MEAL-V2 uses ``K/8`` then ``K/64`` for ImageNet's 1000).
    """

    def __init__(self, num_classes: int, hidden_dims: Sequence[int] = (64, 16)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = num_classes
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, logits: Tensor) -> Tensor:
        """``(B, K) -> (B,)`` teacher-vs-student scores (logits of "is teacher")."""
        return self.mlp(logits).squeeze(-1)


@dataclass(frozen=True)
class DistillationLosses:
    """The loss terms of one batch (tensors, so ``total`` can be back-propagated).

    Attributes:
        kl: soft-target KL of the student to the ensemble.
        discriminator: the discriminator's BCE (zero without a discriminator).
        adversarial: the student's BCE for being judged "teacher" (zero without one).
        total: ``kl + discriminator + adversarial_weight * adversarial``.
    """

    kl: Tensor
    discriminator: Tensor
    adversarial: Tensor
    total: Tensor


class MealV2Distiller(nn.Module):
    """Teacher ensemble plus optional discriminator; computes the MEAL-V2 losses.

    Args:
        teachers: the frozen teacher ensemble.
        discriminator: optional :class:`LogitDiscriminator` (trainable).
        adversarial_weight: weight of the student's adversarial term.
    """

    def __init__(
        self,
        teachers: TeacherEnsemble,
        discriminator: LogitDiscriminator | None = None,
        adversarial_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if adversarial_weight < 0:
            raise ConfigError(f"adversarial_weight must be non-negative, got {adversarial_weight}")
        self.teachers = teachers
        self.discriminator = discriminator
        self.adversarial_weight = adversarial_weight

    def losses(self, student_logits: Tensor, x: Tensor) -> DistillationLosses:
        """The losses of the student's ``(B, K)`` logits on the ``(B, C, H, W)`` images ``x``."""
        target = self.teachers(x)
        kl = soft_target_kl(student_logits, target.probs)
        zero = torch.zeros((), device=student_logits.device)
        if self.discriminator is None:
            return DistillationLosses(kl, zero, zero, kl)
        ones = torch.ones(student_logits.shape[0], device=student_logits.device)
        d_loss = F.binary_cross_entropy_with_logits(
            self.discriminator(target.logits), ones
        ) + F.binary_cross_entropy_with_logits(
            self.discriminator(student_logits.detach()), torch.zeros_like(ones)
        )
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        judged = functional_call(self.discriminator, frozen, (student_logits,))
        adversarial = F.binary_cross_entropy_with_logits(judged, ones)
        total = kl + d_loss + self.adversarial_weight * adversarial
        return DistillationLosses(kl, d_loss, adversarial, total)


def distill_step(
    student: nn.Module,
    distiller: MealV2Distiller,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
) -> DistillationLosses:
    """One optimiser step of the student (and discriminator) on the images ``x``.

    ``optimizer`` must hold the student's parameters and, if there is one, the
    discriminator's. Returns the (detached) losses before the step.
    """
    losses = distiller.losses(student(x), x)
    optimizer.zero_grad(set_to_none=True)
    losses.total.backward()
    optimizer.step()
    return DistillationLosses(*(t.detach() for t in (
        losses.kl, losses.discriminator, losses.adversarial, losses.total
    )))
