"""NetAug (Cai et al., ICLR 2022, arXiv 2110.08890): train a tiny model as the narrowest
sub-network of wider models that share its weights, so the tiny model gets extra supervision
from the wider ones ("augmenting the network" instead of the data) at no inference cost.

:class:`NetAugSupernet` works with any backbone factory that takes a ``width_mult`` keyword
(every registered backbone does). The supernet owns the weights of the widest model; a
narrower model uses the leading slice of every tensor (``weight[:out, :in, ...]``), so the
narrow model's channel ``i`` is the wide model's channel ``i`` in every layer. A forward at
width ``w`` runs a weight-less (meta-device) copy of the ``w`` model on those slices with
:func:`torch.func.functional_call`; gradients and BatchNorm running-stat updates reach the
shared tensors. :func:`netaug_step` is one step: base loss at the base width plus the loss at
one randomly drawn wider width, one optimiser step. After training, :meth:`NetAugSupernet.export`
returns the standalone base model (then call
:func:`~physreason.perception.training.bn_calibration.reset_bn_statistics` on it, as the paper
re-estimates BN statistics, since wide forwards also moved the shared running statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from physreason.errors import ConfigError
from physreason.perception.training.attacks import LossFn

WidthFactory = Callable[..., nn.Module]


def leading_slice(tensor: Tensor, shape: torch.Size) -> Tensor:
    """The view ``tensor[:shape[0], :shape[1], ...]`` (the narrow model's share of a tensor)."""
    return tensor[tuple(slice(0, size) for size in shape)]


class NetAugSupernet(nn.Module):
    """A width-multiplier supernet whose narrowest slice is the deployable model.

    Args:
        factory: ``factory(width_mult=w, **kwargs) -> nn.Module``, e.g. a registered
            backbone factory; models of different widths must have the same tensor names
            with sizes that grow with ``w``.
        base_width: the width multiplier of the deployable model.
        aug_widths: wider multipliers used for augmentation (NetAug uses up to ~2.6x).
        **kwargs: passed to every ``factory`` call (e.g. ``num_classes``).
    """

    def __init__(
        self,
        factory: WidthFactory,
        base_width: float = 1.0,
        aug_widths: Sequence[float] = (1.5, 2.0),
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not aug_widths or min(aug_widths) <= base_width:
            raise ConfigError(
                f"aug_widths must be non-empty and wider than base_width={base_width}, "
                f"got {tuple(aug_widths)}"
            )
        self.widths: tuple[float, ...] = (base_width, *sorted(aug_widths))
        self.base_width = base_width
        self._factory = factory
        self._kwargs = kwargs
        self.wide = factory(width_mult=self.widths[-1], **kwargs)
        with torch.device("meta"):
            self._skeletons = {w: factory(width_mult=w, **kwargs) for w in self.widths[:-1]}
        self._skeletons[self.widths[-1]] = self.wide
        self._check_nested()
        self.active_width = base_width

    def _check_nested(self) -> None:
        wide = self.wide.state_dict()
        for width, skeleton in self._skeletons.items():
            narrow = skeleton.state_dict()
            if narrow.keys() != wide.keys():
                raise ConfigError(f"the width {width} model has different layers than the widest")
            for name, tensor in narrow.items():
                big = wide[name].shape
                if len(tensor.shape) != len(big) or any(
                    s > b for s, b in zip(tensor.shape, big, strict=True)
                ):
                    raise ConfigError(
                        f"'{name}' has shape {tuple(tensor.shape)} at width {width}, not "
                        f"nested in {tuple(big)} at the widest width"
                    )

    def set_active(self, width: float) -> None:
        """Run subsequent forwards at ``width`` (one of :attr:`widths`)."""
        if width not in self._skeletons:
            raise ConfigError(f"width {width} is not one of the supernet widths {self.widths}")
        self.active_width = width

    def sample_aug_width(self, generator: torch.Generator | None = None) -> float:
        """A uniformly drawn augmentation width (any of :attr:`widths` but the base)."""
        index = int(torch.randint(1, len(self.widths), (), generator=generator))
        return self.widths[index]

    def sliced_tensors(self, width: float) -> dict[str, Tensor]:
        """Parameters and buffers of the ``width`` model, as views into the widest model's."""
        wide = dict(self.wide.named_parameters())
        wide.update(self.wide.named_buffers())
        skeleton = self._skeletons[width]
        shapes = {name: t.shape for name, t in skeleton.named_parameters()}
        shapes.update({name: t.shape for name, t in skeleton.named_buffers()})
        return {name: leading_slice(wide[name], shape) for name, shape in shapes.items()}

    def forward(self, x: Tensor) -> Tensor:
        """The active-width model's output for ``x`` (shapes as the wrapped backbone's)."""
        if self.active_width == self.widths[-1]:
            return self.wide(x)
        skeleton = self._skeletons[self.active_width]
        skeleton.train(self.training)
        return functional_call(skeleton, self.sliced_tensors(self.active_width), (x,))

    def export(self) -> nn.Module:
        """A standalone base-width model holding copies of the base slices of the weights."""
        model = self._factory(width_mult=self.base_width, **self._kwargs)
        state = {k: v.detach().clone() for k, v in self.sliced_tensors(self.base_width).items()}
        model.load_state_dict(state)
        return model.train(self.training)


@dataclass(frozen=True)
class NetAugStepResult:
    """Losses of one NetAug step: at the base width, and at the sampled wider ``aug_width``."""

    base_loss: float
    aug_loss: float
    aug_width: float


def netaug_step(
    supernet: NetAugSupernet,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    aug_weight: float = 1.0,
    loss_fn: LossFn = F.cross_entropy,
    generator: torch.Generator | None = None,
) -> NetAugStepResult:
    """One NetAug step: ``L = L(base) + aug_weight * L(random wider width)``, one update.

    Args:
        x: ``(B, C, H, W)`` images; y: ``(B,)`` class indices.
        generator: random source of the augmentation width.

    The supernet is left at its base width.
    """
    optimizer.zero_grad(set_to_none=True)
    supernet.set_active(supernet.base_width)
    base_loss = loss_fn(supernet(x), y)
    base_loss.backward()
    aug_width = supernet.sample_aug_width(generator)
    supernet.set_active(aug_width)
    aug_loss = loss_fn(supernet(x), y)
    (aug_weight * aug_loss).backward()
    optimizer.step()
    supernet.set_active(supernet.base_width)
    return NetAugStepResult(base_loss.item(), aug_loss.item(), aug_width)
