"""Shared vision backbones: small CNNs behind one interface, created by name.

>>> from physreason.perception.backbones import create_backbone
>>> net = create_backbone("cropnet_small", num_classes=8)

Every backbone has ``forward_features(x) -> (B, C, H', W')``, ``forward(x) -> (B, C)``
(or ``(B, num_classes)`` logits), ``feature_dim``, ``feature_dims`` and ``stride``. Backbones
built with ``n_segments`` carry a Temporal Shift Module and take clips as ``(B*T, 3, H, W)``;
causal ones also stream frame by frame with ``forward_step``.
"""

from physreason.perception.backbones import zoo as _zoo  # noqa: F401  (registers the models)
from physreason.perception.backbones.activations import activation_names, create_activation
from physreason.perception.backbones.base import Backbone
from physreason.perception.backbones.blocks import (
    BasicResidualBlock,
    InvertedDepthwiseBlock,
    LayerScale,
    ResidualBlock,
)
from physreason.perception.backbones.cropnet import CropNet, Stage, StreamState, scale_width
from physreason.perception.backbones.registry import (
    backbone_factory,
    create_backbone,
    list_backbones,
    register_backbone,
)
from physreason.perception.backbones.stems import conv_stem, create_stem, downsample, patchify_stem
from physreason.perception.backbones.temporal_shift import (
    TemporalShift,
    temporal_shift,
    temporal_shift_step,
)

__all__ = [
    "Backbone",
    "BasicResidualBlock",
    "CropNet",
    "InvertedDepthwiseBlock",
    "LayerScale",
    "ResidualBlock",
    "Stage",
    "StreamState",
    "TemporalShift",
    "activation_names",
    "backbone_factory",
    "conv_stem",
    "create_activation",
    "create_backbone",
    "create_stem",
    "downsample",
    "list_backbones",
    "patchify_stem",
    "register_backbone",
    "scale_width",
    "temporal_shift",
    "temporal_shift_step",
]
