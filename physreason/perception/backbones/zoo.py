"""The registered backbone configurations.

Parameter counts below are for ``num_classes=None`` and 3 input channels.

=====================  ========  ======  =========================================================
name                   params    stride  design
=====================  ========  ======  =========================================================
``cropnet_tiny``       ~3.0 k    8       robust blocks, dims (8, 16); for tests and smoke runs
``cropnet_small``      ~0.91 M   16      robust blocks, dims (48, 96, 192); 64x64 crops -> 4x4
``resnet_small``       ~0.80 M   8       basic blocks, conv stem, ReLU: the conventional baseline
``tsm_cropnet_tiny``   ~3.0 k    8       ``cropnet_tiny`` + temporal shift, 8-frame clips
``tsm_cropnet_small``  ~0.91 M   16      ``cropnet_small`` + temporal shift, 8-frame clips
=====================  ========  ======  =========================================================

Any :class:`~physreason.perception.backbones.cropnet.CropNet` argument can be overridden,
e.g. ``create_backbone("tsm_cropnet_small", n_segments=4, shift_direction="causal")``.
"""

from __future__ import annotations

import inspect
from typing import Any

from physreason.errors import ConfigError
from physreason.perception.backbones.cropnet import CropNet
from physreason.perception.backbones.registry import register_backbone

_CROPNET_TINY: dict[str, Any] = dict(
    dims=(8, 16), depths=(1, 1), stem_stride=4, kernel_size=5, expand_ratio=2.0,
    layer_scale_init=0.1,
)
_CROPNET_SMALL: dict[str, Any] = dict(
    dims=(48, 96, 192), depths=(2, 2, 2), stem_stride=4, kernel_size=7, expand_ratio=4.0
)
_RESNET_SMALL: dict[str, Any] = dict(
    dims=(32, 64, 128), depths=(1, 2, 2), block="basic", stem="conv", stem_stride=2, act="relu"
)
_TSM: dict[str, Any] = dict(n_segments=8, shift_direction="bidirectional", shift_fold_div=8)


def _cropnet(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> CropNet:
    """Build a CropNet from ``defaults`` updated with ``overrides`` (``ConfigError`` on typos)."""
    known = [p for p in inspect.signature(CropNet.__init__).parameters if p != "self"]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(
            f"backbone '{name}' has no option(s) {', '.join(unknown)}; options: {', '.join(known)}"
        )
    return CropNet(**{**defaults, **overrides})


@register_backbone("cropnet_tiny")
def cropnet_tiny(**kwargs: Any) -> CropNet:
    """A few-thousand-parameter robust CropNet for tests."""
    return _cropnet("cropnet_tiny", _CROPNET_TINY, kwargs)


@register_backbone("cropnet_small")
def cropnet_small(**kwargs: Any) -> CropNet:
    """The ~0.91 M parameter robust CropNet for 64x64 object crops."""
    return _cropnet("cropnet_small", _CROPNET_SMALL, kwargs)


@register_backbone("resnet_small")
def resnet_small(**kwargs: Any) -> CropNet:
    """A conventional small ResNet (ReLU, two norms per block), the non-robust baseline."""
    return _cropnet("resnet_small", _RESNET_SMALL, kwargs)


@register_backbone("tsm_cropnet_tiny")
def tsm_cropnet_tiny(**kwargs: Any) -> CropNet:
    """``cropnet_tiny`` with a temporal shift in every block (clips of ``n_segments`` frames)."""
    return _cropnet("tsm_cropnet_tiny", {**_CROPNET_TINY, **_TSM}, kwargs)


@register_backbone("tsm_cropnet_small")
def tsm_cropnet_small(**kwargs: Any) -> CropNet:
    """``cropnet_small`` with a temporal shift in every block (clips of ``n_segments`` frames)."""
    return _cropnet("tsm_cropnet_small", {**_CROPNET_SMALL, **_TSM}, kwargs)
