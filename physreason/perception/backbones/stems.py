"""Stems (image -> first feature map) and the downsampling layers between stages."""

from __future__ import annotations

from typing import Literal

from torch import nn

from physreason.errors import ConfigError
from physreason.perception.backbones.activations import create_activation

StemKind = Literal["patchify", "conv"]


def patchify_stem(in_chans: int, dim: int, patch_size: int) -> nn.Sequential:
    """Non-overlapping ``patch_size`` x ``patch_size`` conv with equal stride, then BN.

    RobustCNN's ViT-like stem (arXiv 2206.03452): ``(B, in_chans, H, W) ->
    (B, dim, H // patch_size, W // patch_size)``. A large first-layer stride is also one of the
    FGSM-AT tricks against catastrophic overfitting.
    """
    if patch_size < 1:
        raise ConfigError(f"patch_size must be positive, got {patch_size}")
    return nn.Sequential(
        nn.Conv2d(in_chans, dim, patch_size, stride=patch_size, bias=False), nn.BatchNorm2d(dim)
    )


def conv_stem(in_chans: int, dim: int, stride: int, act: str) -> nn.Sequential:
    """Overlapping 3x3 conv with ``stride``, then BN and activation (the classic stem).

    ``(B, in_chans, H, W) -> (B, dim, ceil(H / stride), ceil(W / stride))``.
    """
    if stride < 1:
        raise ConfigError(f"stem stride must be positive, got {stride}")
    return nn.Sequential(
        nn.Conv2d(in_chans, dim, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(dim),
        create_activation(act),
    )


def create_stem(kind: StemKind, in_chans: int, dim: int, stride: int, act: str) -> nn.Sequential:
    """Build the stem ``kind`` (``"patchify"`` or ``"conv"``) with total stride ``stride``."""
    if kind == "patchify":
        return patchify_stem(in_chans, dim, stride)
    if kind == "conv":
        return conv_stem(in_chans, dim, stride, act)
    raise ConfigError(f"unknown stem '{kind}'; choose 'patchify' or 'conv'")


def downsample(in_dim: int, out_dim: int) -> nn.Sequential:
    """Halve the resolution and change width: 2x2 conv with stride 2, then BN.

    ``(B, in_dim, H, W) -> (B, out_dim, H // 2, W // 2)``.
    """
    return nn.Sequential(
        nn.Conv2d(in_dim, out_dim, 2, stride=2, bias=False), nn.BatchNorm2d(out_dim)
    )
