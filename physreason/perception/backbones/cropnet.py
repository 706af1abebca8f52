"""CropNet: the small configurable CNN for object crops and frames.

One class covers the design space of the seed papers:

* ``stem="patchify"`` (RobustCNN) or ``stem="conv"`` (classic overlapping stem);
* ``block="robust"`` (large depthwise kernel, one norm and one activation per block) or
  ``block="basic"`` (ResNet basic block, the baseline);
* ``n_segments=T`` adds a temporal shift (TSM) to every block's residual branch, turning the
  frame CNN into a clip encoder for batches of ``B*T`` frames; with
  ``shift_direction="causal"`` the same weights can also run frame by frame on a stream
  (:meth:`CropNet.forward_step`), keeping the shifted-out channels as :class:`StreamState`;
* ``width_mult`` scales every width (used by NetAug to build the wider supernet).

Stage ``i > 0`` starts with a 2x2 stride-2 downsample, so ``stride = stem_stride *
2 ** (len(dims) - 1)``. All layers are convolutions, BatchNorm and pointwise ops, which run
in ``torch.channels_last`` without copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from physreason.errors import ConfigError
from physreason.perception.backbones.base import Backbone
from physreason.perception.backbones.blocks import (
    BasicResidualBlock,
    InvertedDepthwiseBlock,
    ResidualBlock,
)
from physreason.perception.backbones.stems import StemKind, create_stem, downsample
from physreason.perception.backbones.temporal_shift import ShiftDirection, TemporalShift

BlockKind = Literal["robust", "basic"]


def scale_width(channels: int, width_mult: float, divisor: int = 4) -> int:
    """``channels * width_mult`` rounded to the nearest multiple of ``divisor`` (at least one)."""
    scaled = int(channels * width_mult + divisor / 2) // divisor * divisor
    return max(divisor, scaled)


@dataclass(frozen=True)
class StreamState:
    """Per-stream state of an online (causal TSM) backbone between frames.

    Attributes:
        buffers: one ``(B, C_block // fold_div, H_block, W_block)`` tensor per shifted block,
            the channels each block shifted out of the previous frame.
    """

    buffers: tuple[Tensor, ...]


class Stage(nn.Module):
    """An optional downsample followed by residual blocks at one resolution."""

    def __init__(self, downsampler: nn.Module | None, blocks: Sequence[ResidualBlock]) -> None:
        super().__init__()
        self.downsample = downsampler
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W) -> (B, C, H', W')``."""
        if self.downsample is not None:
            x = self.downsample(x)
        for block in self.blocks:
            x = block(x)
        return x

    def step(
        self, x_t: Tensor, buffers: Sequence[Tensor | None]
    ) -> tuple[Tensor, list[Tensor]]:
        """One frame through the stage; ``buffers`` holds one shift state per block."""
        if self.downsample is not None:
            x_t = self.downsample(x_t)
        new_buffers = []
        for block, buffer in zip(self.blocks, buffers, strict=True):
            x_t, new_buffer = block.step(x_t, buffer)
            new_buffers.append(new_buffer)
        return x_t, new_buffers


class CropNet(Backbone):
    """Small CNN for crops and frames; see the module docstring for the options.

    Args:
        dims: channels of each stage (before ``width_mult``).
        depths: residual blocks per stage.
        in_chans: input channels.
        num_classes: add a linear classifier with this many outputs (``None``: features).
        block: ``"robust"`` or ``"basic"``.
        stem: ``"patchify"`` or ``"conv"``.
        stem_stride: stride (= patch size for the patchify stem) of the stem.
        kernel_size: depthwise kernel of robust blocks.
        expand_ratio: MLP expansion of robust blocks.
        act: activation name.
        layer_scale_init: initial layer scale of robust blocks (``None`` to disable).
        width_mult: multiplies every stage width (rounded to a multiple of 4).
        n_segments: frames per clip for the temporal shift (``None``: no shift).
        shift_direction: ``"bidirectional"`` (offline TSM) or ``"causal"`` (streamable).
        shift_fold_div: ``C // shift_fold_div`` channels move per shifted direction.
    """

    def __init__(
        self,
        dims: Sequence[int] = (48, 96, 192),
        depths: Sequence[int] = (2, 2, 2),
        in_chans: int = 3,
        num_classes: int | None = None,
        block: BlockKind = "robust",
        stem: StemKind = "patchify",
        stem_stride: int = 4,
        kernel_size: int = 7,
        expand_ratio: float = 4.0,
        act: str = "silu",
        layer_scale_init: float | None = 1e-6,
        width_mult: float = 1.0,
        n_segments: int | None = None,
        shift_direction: ShiftDirection = "bidirectional",
        shift_fold_div: int = 8,
    ) -> None:
        if len(dims) == 0 or len(dims) != len(depths):
            raise ConfigError(
                f"dims and depths must be non-empty and of equal length, got {tuple(dims)} "
                f"and {tuple(depths)}"
            )
        if min(dims) < 1 or min(depths) < 0 or width_mult <= 0:
            raise ConfigError(
                f"dims must be positive, depths non-negative and width_mult positive, got "
                f"dims={tuple(dims)}, depths={tuple(depths)}, width_mult={width_mult}"
            )
        if num_classes is not None and num_classes < 1:
            raise ConfigError(f"num_classes must be positive, got {num_classes}")
        if block not in ("robust", "basic"):
            raise ConfigError(f"unknown block '{block}'; choose 'robust' or 'basic'")
        widths = tuple(scale_width(d, width_mult) for d in dims)
        super().__init__(
            feature_dims=widths,
            stride=stem_stride * 2 ** (len(widths) - 1),
            num_classes=num_classes,
        )
        self.n_segments = n_segments
        self.stem = create_stem(stem, in_chans, widths[0], stem_stride, act)

        def make_block(dim: int) -> ResidualBlock:
            shift = (
                None
                if n_segments is None
                else TemporalShift(n_segments, shift_fold_div, shift_direction)
            )
            if block == "robust":
                return InvertedDepthwiseBlock(
                    dim, kernel_size, expand_ratio, act, layer_scale_init, shift
                )
            return BasicResidualBlock(dim, act, shift)

        stages = []
        for i, (dim, depth) in enumerate(zip(widths, depths, strict=True)):
            downsampler = None if i == 0 else downsample(widths[i - 1], dim)
            stages.append(Stage(downsampler, [make_block(dim) for _ in range(depth)]))
        self.stages = nn.ModuleList(stages)
        self.build_head()

    def forward_features(self, x: Tensor) -> Tensor:
        """``(N, in_chans, H, W) -> (N, feature_dim, H / stride, W / stride)``.

        With a temporal shift, ``N = clips * n_segments`` frames ordered clip-major.
        """
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x

    @property
    def n_shift_blocks(self) -> int:
        """Number of blocks carrying a temporal shift (the length of a stream state)."""
        if self.n_segments is None:
            return 0
        return sum(len(stage.blocks) for stage in self.stages)

    def forward_features_step(
        self, x_t: Tensor, state: StreamState | None = None
    ) -> tuple[Tensor, StreamState]:
        """Online (causal TSM) features of one frame of ``B`` streams.

        Run in eval mode: in train mode BatchNorm would use per-frame batch statistics.

        Args:
            x_t: ``(B, in_chans, H, W)`` the current frame.
            state: the state returned for the previous frame, or ``None`` at the first frame.

        Returns:
            ``(features, state)``: ``(B, feature_dim, H', W')`` features equal to the offline
            causal forward's output at this frame, and the state for the next frame.
        """
        if self.n_segments is None:
            raise ConfigError("streaming needs a backbone built with n_segments (temporal shift)")
        if state is not None and len(state.buffers) != self.n_shift_blocks:
            raise ConfigError(
                f"stream state has {len(state.buffers)} buffers, this backbone has "
                f"{self.n_shift_blocks} shifted blocks"
            )
        previous: list[Tensor | None] = (
            [None] * self.n_shift_blocks if state is None else list(state.buffers)
        )
        x = self.stem(x_t)
        new_buffers: list[Tensor] = []
        for stage in self.stages:
            count = len(stage.blocks)
            x, stage_buffers = stage.step(x, previous[:count])
            previous = previous[count:]
            new_buffers.extend(stage_buffers)
        return x, StreamState(tuple(new_buffers))

    def forward_step(
        self, x_t: Tensor, state: StreamState | None = None
    ) -> tuple[Tensor, StreamState]:
        """Like :meth:`forward_features_step`, then the head: ``(B, C)`` or ``(B, K)``."""
        features, state = self.forward_features_step(x_t, state)
        return self.forward_head(features), state
