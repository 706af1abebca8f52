"""Activation layers chosen by name, so backbones can take ``act="silu"`` from a config."""

from __future__ import annotations

from torch import nn

from physreason.errors import ConfigError

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
}


def activation_names() -> list[str]:
    """Return the activation names accepted by :func:`create_activation`, sorted."""
    return sorted(_ACTIVATIONS)


def create_activation(name: str) -> nn.Module:
    """Build the activation layer called ``name`` (one of :func:`activation_names`).

    Smooth activations (``silu``, ``gelu``, ``elu``, ``softplus``) are one of the FGSM-AT
    "bag of tricks" against catastrophic overfitting; ``relu`` is the conventional baseline.
    """
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(
            f"unknown activation '{name}'; choose one of {', '.join(activation_names())}"
        ) from None
