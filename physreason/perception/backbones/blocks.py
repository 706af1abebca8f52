"""Residual blocks of the crop backbones.

Both block types keep the identity path untouched and apply an optional
:class:`~physreason.perception.backbones.temporal_shift.TemporalShift` at the start of the
residual branch only (TSM's "blockres" placement), so spatial features survive the shift.

* :class:`InvertedDepthwiseBlock`: RobustCNN's "up-inverted" block (arXiv 2206.03452): a large
  depthwise kernel, then one BatchNorm, an expanding 1x1 conv, one activation and a projecting
  1x1 conv, scaled by a learned per-channel layer scale. One norm and one activation per block.
* :class:`BasicResidualBlock`: the conventional ResNet basic block (two 3x3 convs, two norms,
  activation after the sum), kept as the baseline the robust design is compared against.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.backbones.activations import create_activation
from physreason.perception.backbones.temporal_shift import TemporalShift


class LayerScale(nn.Module):
    """Per-channel learned scale ``gamma * x`` with ``gamma`` of shape ``(C, 1, 1)``."""

    def __init__(self, channels: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``."""
        return x * self.gamma


class ResidualBlock(nn.Module, ABC):
    """A residual block ``merge(x, branch(shift(x)))`` with an optional temporal shift.

    Subclasses define :meth:`branch` (and :meth:`merge` when it is not a plain sum).
    """

    def __init__(self, shift: TemporalShift | None) -> None:
        super().__init__()
        self.shift = shift

    @abstractmethod
    def branch(self, x: Tensor) -> Tensor:
        """The residual branch, ``(B, C, H, W) -> (B, C, H, W)``."""

    def merge(self, identity: Tensor, residual: Tensor) -> Tensor:
        """Combine the identity path and the branch output (both ``(B, C, H, W)``)."""
        return identity + residual

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``; with a shift, ``B`` is ``clips * n_segments``."""
        branch_in = x if self.shift is None else self.shift(x)
        return self.merge(x, self.branch(branch_in))

    def step(self, x_t: Tensor, buffer: Tensor | None) -> tuple[Tensor, Tensor]:
        """Process one frame of a stream with the causal shift.

        Args:
            x_t: ``(B, C, H, W)`` the current frame's features.
            buffer: the shift state from the previous frame, or ``None`` at the first frame.

        Returns:
            ``(out, new_buffer)``, ``out`` of shape ``(B, C, H, W)``.
        """
        if self.shift is None:
            raise ConfigError("this block has no temporal shift to stream with")
        shifted, new_buffer = self.shift.step(x_t, buffer)
        return self.merge(x_t, self.branch(shifted)), new_buffer


class InvertedDepthwiseBlock(ResidualBlock):
    """dw kxk -> BN -> 1x1 (expand) -> act -> 1x1 (project) -> layer scale, plus identity.

    Args:
        dim: channels ``C`` in and out.
        kernel_size: depthwise kernel (odd; RobustCNN uses 7 to 11).
        expand_ratio: hidden width of the 1x1 MLP is ``round(dim * expand_ratio)``.
        act: activation name, see :func:`create_activation`.
        layer_scale_init: initial layer scale, or ``None`` for no layer scale.
        shift: optional temporal shift applied to the branch input.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        expand_ratio: float = 4.0,
        act: str = "silu",
        layer_scale_init: float | None = 1e-6,
        shift: TemporalShift | None = None,
    ) -> None:
        super().__init__(shift)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"depthwise kernel_size must be odd and positive, got {kernel_size}")
        hidden = max(1, round(dim * expand_ratio))
        self.dwconv = nn.Conv2d(
            dim, dim, kernel_size, padding=kernel_size // 2, groups=dim, bias=False
        )
        self.norm = nn.BatchNorm2d(dim)
        self.expand = nn.Conv2d(dim, hidden, 1)
        self.act = create_activation(act)
        self.project = nn.Conv2d(hidden, dim, 1)
        self.scale = None if layer_scale_init is None else LayerScale(dim, layer_scale_init)

    def branch(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``."""
        y = self.project(self.act(self.expand(self.norm(self.dwconv(x)))))
        return y if self.scale is None else self.scale(y)


class BasicResidualBlock(ResidualBlock):
    """conv3x3 -> BN -> act -> conv3x3 -> BN, plus identity, then act.

    Args:
        dim: channels ``C`` in and out.
        act: activation name (``relu`` for the classic ResNet).
        shift: optional temporal shift applied to the branch input.
    """

    def __init__(self, dim: int, act: str = "relu", shift: TemporalShift | None = None) -> None:
        super().__init__(shift)
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(dim)
        self.act1 = create_activation(act)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(dim)
        self.act2 = create_activation(act)

    def branch(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, C, H, W)``."""
        return self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))

    def merge(self, identity: Tensor, residual: Tensor) -> Tensor:
        """``act(identity + residual)``."""
        return self.act2(identity + residual)
