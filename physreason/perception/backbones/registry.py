"""Backbones by name (timm-style): ``create_backbone("cropnet_small", num_classes=8)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from physreason.errors import ConfigError
from physreason.perception.backbones.base import Backbone

BackboneFactory = Callable[..., Backbone]
F = TypeVar("F", bound=BackboneFactory)

_REGISTRY: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[F], F]:
    """Decorator registering ``factory(**kw) -> Backbone`` under ``name``.

    Every factory accepts at least ``num_classes`` and ``width_mult`` keywords.
    """

    def decorate(factory: F) -> F:
        if name in _REGISTRY:
            raise ConfigError(f"backbone '{name}' is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorate


def list_backbones() -> list[str]:
    """Registered backbone names, sorted."""
    return sorted(_REGISTRY)


def backbone_factory(name: str) -> BackboneFactory:
    """The factory registered as ``name``; :class:`ConfigError` naming the choices if absent."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown backbone '{name}'; registered: {', '.join(list_backbones())}"
        ) from None


def create_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build the backbone ``name``; ``kwargs`` override its registered configuration."""
    return backbone_factory(name)(**kwargs)
