"""Temporal Shift Module (TSM; Lin, Gan and Han, arXiv 1811.08383).

A clip of ``T`` frames goes through a 2D CNN as a batch of ``B*T`` frames ordered clip-major
(frame ``t`` of clip ``b`` is row ``b*T + t``). The shift moves a fraction of the channels one
frame along time, at zero parameters and zero FLOPs, so the 2D convolutions that follow mix
information across neighbouring frames.

* **bidirectional** (offline): channels ``[0, fold)`` take their value from frame ``t+1`` and
  channels ``[fold, 2*fold)`` from frame ``t-1``; the clip ends are zero-padded.
* **causal** (online): channels ``[0, fold)`` take their value from frame ``t-1`` only (zero at
  ``t = 0``), so an output never depends on a future frame. This is the shift that can run on a
  stream: :func:`temporal_shift_step` processes one frame and keeps the channels it shifted out
  as the state for the next frame.

Here ``fold = C // fold_div`` (``fold_div = 8`` in the paper).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from physreason.errors import ConfigError

ShiftDirection = Literal["bidirectional", "causal"]
SHIFT_DIRECTIONS: tuple[str, ...] = ("bidirectional", "causal")


def _check_fold(channels: int, fold_div: int) -> int:
    if fold_div < 2:
        raise ConfigError(f"temporal shift fold_div must be at least 2, got {fold_div}")
    return channels // fold_div


def temporal_shift(
    x: Tensor, n_segments: int, fold_div: int = 8, direction: ShiftDirection = "bidirectional"
) -> Tensor:
    """Shift channels of a batch of clips along time (out of place; gradients flow).

    Args:
        x: ``(B*T, C, H, W)`` frames, clip-major, with ``T = n_segments``.
        n_segments: frames per clip ``T``.
        fold_div: ``C // fold_div`` channels move in each shifted direction.
        direction: ``"bidirectional"`` (offline TSM) or ``"causal"`` (past frames only).

    Returns:
        ``(B*T, C, H, W)`` shifted frames, in the memory format of ``x``.
    """
    frames, channels, height, width = x.shape
    if n_segments < 1 or frames % n_segments:
        raise ConfigError(
            f"temporal shift expects a batch of whole clips: {frames} frames is not a multiple "
            f"of n_segments={n_segments}"
        )
    if direction not in SHIFT_DIRECTIONS:
        raise ConfigError(
            f"unknown shift direction '{direction}'; choose one of {SHIFT_DIRECTIONS}"
        )
    fold = _check_fold(channels, fold_div)
    clips = x.reshape(frames // n_segments, n_segments, channels, height, width)
    out = torch.zeros_like(clips)
    if direction == "bidirectional":
        out[:, :-1, :fold] = clips[:, 1:, :fold]
        out[:, 1:, fold : 2 * fold] = clips[:, :-1, fold : 2 * fold]
        out[:, :, 2 * fold :] = clips[:, :, 2 * fold :]
    else:
        out[:, 1:, :fold] = clips[:, :-1, :fold]
        out[:, :, fold:] = clips[:, :, fold:]
    return out.reshape(frames, channels, height, width)


def temporal_shift_step(
    x_t: Tensor, buffer: Tensor | None, fold_div: int = 8
) -> tuple[Tensor, Tensor]:
    """One frame of the causal shift, for streaming.

    Args:
        x_t: ``(B, C, H, W)`` the current frame of ``B`` independent streams.
        buffer: ``(B, C // fold_div, H, W)`` channels shifted out of the previous frame, or
            ``None`` at the first frame (treated as zeros, like the offline zero padding).
        fold_div: as in :func:`temporal_shift`.

    Returns:
        ``(out, new_buffer)``: ``out`` is ``(B, C, H, W)`` with the first ``C // fold_div``
        channels taken from ``buffer``; ``new_buffer`` holds the current frame's first
        ``C // fold_div`` channels for the next call.
    """
    fold = _check_fold(x_t.shape[1], fold_div)
    if buffer is None:
        buffer = torch.zeros_like(x_t[:, :fold])
    elif buffer.shape != x_t[:, :fold].shape:
        raise ConfigError(
            f"temporal shift state has shape {tuple(buffer.shape)}, expected "
            f"{tuple(x_t[:, :fold].shape)} for a frame of shape {tuple(x_t.shape)}"
        )
    out = torch.cat([buffer, x_t[:, fold:]], dim=1)
    return out, x_t[:, :fold]


class TemporalShift(nn.Module):
    """The shift as a layer, placed at the start of a residual branch ("blockres" placement).

    Args:
        n_segments: frames per clip ``T`` for the offline (batched-clip) forward.
        fold_div: ``C // fold_div`` channels move in each shifted direction.
        direction: ``"bidirectional"`` or ``"causal"``; only causal layers can :meth:`step`.
    """

    def __init__(
        self, n_segments: int, fold_div: int = 8, direction: ShiftDirection = "bidirectional"
    ) -> None:
        super().__init__()
        if direction not in SHIFT_DIRECTIONS:
            raise ConfigError(
                f"unknown shift direction '{direction}'; choose one of {SHIFT_DIRECTIONS}"
            )
        if n_segments < 1:
            raise ConfigError(f"temporal shift n_segments must be at least 1, got {n_segments}")
        self.n_segments = n_segments
        self.fold_div = fold_div
        self.direction: ShiftDirection = direction

    def forward(self, x: Tensor) -> Tensor:
        """``(B*T, C, H, W) -> (B*T, C, H, W)``, see :func:`temporal_shift`."""
        return temporal_shift(x, self.n_segments, self.fold_div, self.direction)

    def step(self, x_t: Tensor, buffer: Tensor | None) -> tuple[Tensor, Tensor]:
        """Streaming causal shift of one frame, see :func:`temporal_shift_step`."""
        if self.direction != "causal":
            raise ConfigError(
                "streaming needs a causal temporal shift; build the backbone with "
                "shift_direction='causal'"
            )
        return temporal_shift_step(x_t, buffer, self.fold_div)

    def extra_repr(self) -> str:
        return f"n_segments={self.n_segments}, fold_div={self.fold_div}, direction={self.direction}"
