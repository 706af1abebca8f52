"""The interface every backbone shares (timm-style)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor, nn


class Backbone(nn.Module, ABC):
    """A 2D CNN with a feature-map output, global average pooling and an optional classifier.

    Attributes:
        feature_dims: channels at the end of each stage, shallow to deep.
        feature_dim: channels ``C`` of :meth:`forward_features` (``feature_dims[-1]``).
        stride: total downsampling factor of :meth:`forward_features`.
        num_classes: classifier outputs, or ``None`` when :meth:`forward` returns features.
    """

    feature_dims: tuple[int, ...]
    stride: int
    classifier: nn.Linear | None

    def __init__(self, feature_dims: tuple[int, ...], stride: int, num_classes: int | None) -> None:
        super().__init__()
        self.feature_dims = feature_dims
        self.stride = stride
        self.num_classes = num_classes

    def build_head(self) -> None:
        """Create the classifier; subclasses call this last, after their feature layers."""
        self.classifier = (
            None if self.num_classes is None else nn.Linear(self.feature_dim, self.num_classes)
        )

    @property
    def feature_dim(self) -> int:
        """Channels of the final feature map."""
        return self.feature_dims[-1]

    @abstractmethod
    def forward_features(self, x: Tensor) -> Tensor:
        """``(B, in_chans, H, W) -> (B, feature_dim, H', W')`` with ``H' ~ H / stride``."""

    def forward_head(self, features: Tensor) -> Tensor:
        """Pool a feature map ``(B, C, H', W')`` to ``(B, C)``, then classify to ``(B, K)``."""
        pooled = features.mean(dim=(2, 3))
        return pooled if self.classifier is None else self.classifier(pooled)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_chans, H, W)`` -> pooled features ``(B, C)`` or logits ``(B, num_classes)``."""
        return self.forward_head(self.forward_features(x))
