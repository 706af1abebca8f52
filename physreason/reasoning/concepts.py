"""Concept embeddings grounded on object features (NS-CL / DCL, reference notes §4.2).

Each attribute (color, material, shape) has its own learned projection of an object feature
into a concept space, and each concept word (``red``, ``metal``, ``cube``...) is an embedding in
its attribute's space. An object's score for a concept is DCL's margin-scaled cosine similarity

    logit = (cos(proj(f), c) - 1 + m) / (m * tau),   m = 0.85, tau = 0.25,

and its probability of each word of an attribute is the softmax of these logits over the
attribute's words (an object has exactly one color). These probabilities are what the soft
executor (:mod:`physreason.reasoning.soft_executor`) runs programs on.

New concepts can be added later (:meth:`ConceptSpace.add_concept`) and learned from a few
examples while everything else stays frozen (:meth:`ConceptSpace.freeze_except`).

This module works on feature tensors only: where the features come from is perception's
business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ConfigError

ATTRIBUTES: tuple[str, ...] = ("color", "material", "shape")
"""The static attributes, in :class:`~physreason.datasets.records.ObjectInfo` order."""

DEFAULT_VOCAB: dict[str, tuple[str, ...]] = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}
"""CLEVRER's concept words per attribute."""

MARGIN = 0.85
TAU = 0.25


class ConceptSpace(nn.Module):
    """Per-attribute projections and concept embeddings.

    ``feature_dim``: size of the object features; ``embed_dim``: size of each concept space;
    ``vocab``: the words per attribute (default CLEVRER's); ``hidden``: width of a hidden layer
    in each projection (0: linear, as NS-CL).
    """

    def __init__(self, feature_dim: int, embed_dim: int = 32,
                 vocab: Mapping[str, Sequence[str]] | None = None, hidden: int = 0,
                 margin: float = MARGIN, tau: float = TAU) -> None:
        super().__init__()
        vocab = dict(DEFAULT_VOCAB if vocab is None else vocab)
        if set(vocab) - set(ATTRIBUTES):
            raise ConfigError(f"unknown attribute(s) {sorted(set(vocab) - set(ATTRIBUTES))}; "
                              f"expected {', '.join(ATTRIBUTES)}")
        if feature_dim < 1 or embed_dim < 1 or hidden < 0:
            raise ConfigError(f"ConceptSpace needs feature_dim, embed_dim >= 1 and hidden >= 0, "
                              f"got {feature_dim}, {embed_dim}, {hidden}")
        self.feature_dim = feature_dim
        self.embed_dim = embed_dim
        self.hidden = hidden
        self.margin = margin
        self.tau = tau
        self.projections = nn.ModuleDict()
        self.embeddings = nn.ModuleDict()
        self._words: dict[str, list[str]] = {}
        for attr in ATTRIBUTES:
            if hidden:
                proj: nn.Module = nn.Sequential(nn.Linear(feature_dim, hidden), nn.GELU(), nn.Linear(hidden, embed_dim))
            else:
                proj = nn.Linear(feature_dim, embed_dim)
            self.projections[attr] = proj
            self.embeddings[attr] = nn.ParameterDict()
            self._words[attr] = []
            for word in vocab.get(attr, ()):
                self.add_concept(attr, word)

    # ------------------------------------------------------------ vocabulary
    @property
    def vocab(self) -> dict[str, tuple[str, ...]]:
        """The concept words per attribute, in score order."""
        return {attr: tuple(words) for attr, words in self._words.items()}

    def attribute_of(self, word: str) -> str | None:
        """The attribute a concept word belongs to, or None when it is not a known concept."""
        return next((attr for attr, words in self._words.items() if word in words), None)

    def add_concept(self, attribute: str, word: str, init: Tensor | None = None) -> nn.Parameter:
        """Add concept ``word`` to ``attribute`` (random unit embedding, or ``init``); returns it."""
        if attribute not in ATTRIBUTES:
            raise ConfigError(f"unknown attribute '{attribute}'; expected {', '.join(ATTRIBUTES)}")
        if self.attribute_of(word) is not None:
            raise ConfigError(f"concept '{word}' already exists (attribute {self.attribute_of(word)})")
        if not word.isidentifier():
            raise ConfigError(f"concept word '{word}' must be a single word of letters, digits or _")
        if init is None:
            gen = torch.Generator().manual_seed(sum(map(ord, f"{attribute}/{word}")))
            init = torch.randn(self.embed_dim, generator=gen)
        if init.shape != (self.embed_dim,):
            raise ConfigError(f"initial embedding of '{word}' must have shape ({self.embed_dim},), "
                              f"got {tuple(init.shape)}")
        param = nn.Parameter(init.detach().clone().float())
        self.embeddings[attribute][word] = param
        self._words[attribute].append(word)
        return param

    def freeze_except(self, words: Sequence[str]) -> list[nn.Parameter]:
        """Freeze every parameter but the embeddings of ``words``; returns those (to optimise)."""
        for p in self.parameters():
            p.requires_grad_(False)
        out = []
        for word in words:
            attr = self.attribute_of(word)
            if attr is None:
                raise ConfigError(f"no concept '{word}' to train")
            param = self.embeddings[attr][word]
            param.requires_grad_(True)
            out.append(param)
        return out

    # ------------------------------------------------------------ scores
    def project(self, attribute: str, features: Tensor) -> Tensor:
        """Unit vectors of ``features`` (N, feature_dim) in ``attribute``'s space: (N, embed_dim)."""
        return nn.functional.normalize(self.projections[attribute](features), dim=-1)

    def logits(self, attribute: str, features: Tensor) -> Tensor:
        """DCL's margin-scaled cosine logits of each object for each word: (N, K)."""
        words = self._words[attribute]
        if not words:
            raise ConfigError(f"attribute '{attribute}' has no concepts")
        table = torch.stack([self.embeddings[attribute][w] for w in words])
        cos = self.project(attribute, features) @ nn.functional.normalize(table, dim=-1).T
        return (cos - 1 + self.margin) / (self.margin * self.tau)

    def probabilities(self, features: Tensor) -> dict[str, Tensor]:
        """Per attribute, each object's probability of each word (rows sum to 1): (N, K)."""
        return {attr: self.logits(attr, features).softmax(-1) for attr in ATTRIBUTES if self._words[attr]}

    def describe(self, features: Tensor, distinct: bool = False) -> list[tuple[str, str, str]]:
        """The most likely (color, material, shape) of each object; with ``distinct`` (the objects
        of one video, where a triple is unique), the distinct triples of highest summed log
        probability (Hungarian assignment; attribute by attribute when there are more objects
        than triples or an attribute has no words)."""
        with torch.no_grad():
            probs = self.probabilities(features)
        n = features.shape[0]
        cols = [[self._words[a][int(i)] for i in probs[a].argmax(-1)] if a in probs else ["?"] * n
                for a in ATTRIBUTES]
        sizes = [len(self._words[a]) for a in ATTRIBUTES]
        if not distinct or len(probs) < len(ATTRIBUTES) or n > sizes[0] * sizes[1] * sizes[2]:
            return list(zip(*cols))
        logp = [probs[a].clamp_min(1e-6).log().numpy() for a in ATTRIBUTES]
        joint = logp[0][:, :, None, None] + logp[1][:, None, :, None] + logp[2][:, None, None, :]
        rows, flat = linear_sum_assignment(-joint.reshape(n, -1))
        out = [("?", "?", "?")] * n
        for i, k in zip(rows, flat):
            c, m, s = np.unravel_index(k, sizes)
            out[i] = (self._words["color"][c], self._words["material"][m], self._words["shape"][s])
        return out

    # ------------------------------------------------------------ saving
    def config(self) -> dict:
        """What :meth:`from_state` needs besides the weights."""
        return {"feature_dim": self.feature_dim, "embed_dim": self.embed_dim, "hidden": self.hidden,
                "margin": self.margin, "tau": self.tau, "vocab": {a: list(w) for a, w in self._words.items()}}

    def to_state(self) -> dict:
        """Config and weights as plain objects (for ``torch.save``)."""
        return {"config": self.config(), "weights": {k: v.detach().clone() for k, v in self.state_dict().items()}}

    @classmethod
    def from_state(cls, state: Mapping) -> ConceptSpace:
        """Rebuild a space saved with :meth:`to_state`."""
        cfg = dict(state["config"])
        space = cls(cfg["feature_dim"], cfg["embed_dim"], cfg["vocab"], cfg["hidden"], cfg["margin"], cfg["tau"])
        space.load_state_dict(state["weights"])
        return space
