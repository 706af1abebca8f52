"""Learning concepts from question-answer pairs, without attribute labels (NS-CL / DCL).

Three steps, none of which reads an attribute word of the annotation:

1. :func:`pretrain_encoder` — a label-free objective for the object backbone: crops of the same
   tracked object in two frames must be closer to each other than to any other object's crop
   in the batch (InfoNCE on track identity; no two objects of a video share their look).
2. :func:`train_concepts` — the concept projections and embeddings (and, optionally, the
   backbone) are trained by the answer loss of descriptive questions run through the soft
   executor (:mod:`physreason.reasoning.soft_executor`).
3. :func:`learn_concept` — a new concept is added and learned from a few questions, everything
   else frozen.

:func:`evaluate` measures, with the annotation's words, concept classification accuracy and
descriptive accuracy (symbolic execution on the world relabelled with the learned words, and the
soft executor's most likely answer). :func:`fit_supervised_heads` is the label-supervised
baseline on the same features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from physreason.concepts.data import QA, CropCache, VideoExample
from physreason.datasets.records import ObjectInfo
from physreason.errors import ConfigError, ParseError
from physreason.perception.object_features import ObjectEncoder, to_tensor
from physreason.reasoning.concepts import ATTRIBUTES, ConceptSpace
from physreason.reasoning.executor import ExecutionError, execute
from physreason.reasoning.operators import COLOR, LITERAL_TYPES, MATERIAL, SHAPE
from physreason.reasoning.program import Node
from physreason.reasoning.soft_executor import ConceptWorld, mentions, soft_execute

Log = Callable[[str], None]


def _noop(_: str) -> None:
    pass


# ---------------------------------------------------------------- 1. label-free backbone
def _augment(x: Tensor, gen: torch.Generator, shift: int = 4) -> Tensor:
    """Random horizontal flips and translations of up to ``shift`` px (no color changes)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    pad = nn.functional.pad(x, (shift,) * 4)
    dy, dx = torch.randint(0, 2 * shift + 1, (2,), generator=gen).tolist()
    return pad[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


def pretrain_encoder(encoder: ObjectEncoder, cache: CropCache, steps: int = 200, batch: int = 128,
                     lr: float = 2e-3, temperature: float = 0.1, seed: int = 0, log: Log = _noop) -> list[float]:
    """Train ``encoder`` with the track-identity InfoNCE loss on ``cache``; returns the losses."""
    if len(cache) < 2 or cache.crops.shape[1] < 2:
        raise ConfigError("identity pretraining needs at least 2 objects with 2 crops each")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dim = encoder.feature_dim
    head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 64))
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    encoder.train()
    k = cache.crops.shape[1]
    losses = []
    for step in range(steps):
        idx = torch.randperm(len(cache), generator=gen)[:batch].numpy()
        i = torch.randint(0, k, (len(idx),), generator=gen)
        j = (i + torch.randint(1, k, (len(idx),), generator=gen)) % k
        a = to_tensor(cache.crops[idx, i.numpy()])
        b = to_tensor(cache.crops[idx, j.numpy()])
        z = nn.functional.normalize(head(encoder.crop_features(_augment(torch.cat([a, b]), gen))), dim=-1)
        za, zb = z[:len(idx)], z[len(idx):]
        logits = za @ zb.T / temperature
        target = torch.arange(len(idx))
        loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 25 == 0 or step == steps - 1:
            log(f"identity step {step + 1}/{steps}: loss {np.mean(losses[-25:]):.3f}")
    encoder.eval()
    return losses


def cache_features(encoder: ObjectEncoder, cache: CropCache, batch: int = 128) -> Tensor:
    """Object features (M, feature_dim) of every cache row, without gradients."""
    encoder.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(cache), batch):
            out.append(encoder(cache.crops[s:s + batch]))
    return torch.cat(out) if out else torch.zeros(0, encoder.feature_dim)


# ---------------------------------------------------------------- 2. concepts from answers
def video_probs(space: ConceptSpace, video: VideoExample, features: Tensor) -> dict[str, Tensor]:
    """Per attribute, the concept probabilities (N_all, K) of the video's objects (uniform for an
    object with no crop)."""
    rows = torch.from_numpy(video.rows)
    probs = space.probabilities(features[rows.clamp_min(0)])
    missing = rows < 0
    if missing.any():
        probs = {a: torch.where(missing[:, None], torch.full_like(p, 1.0 / p.shape[1]), p) for a, p in probs.items()}
    return probs


def usable(qa: QA, space: ConceptSpace, skip: Sequence[str] = ()) -> bool:
    """Whether a question only uses concepts of ``space`` and none of ``skip`` (in program or answer)."""
    known = {w for words in space.vocab.values() for w in words}
    words = _concept_words(qa.tree)
    if skip and (qa.answer in skip or words & set(skip)):
        return False
    return words <= known and (qa.answer in known or qa.answer not in _CONCEPT_WORDS)


_CONCEPT_WORDS = frozenset(w for w, t in LITERAL_TYPES.items() if t in (COLOR, MATERIAL, SHAPE))


def _concept_words(tree) -> set[str]:
    out = set()

    def walk(e) -> None:
        if isinstance(e, str):
            if e in _CONCEPT_WORDS:
                out.add(e)
        elif isinstance(e, Node):
            for a in e.args:
                walk(a)

    walk(tree)
    return out


def qa_loss(space: ConceptSpace, videos: Sequence[VideoExample], features: Tensor,
            select: Callable[[VideoExample, QA], bool]) -> tuple[Tensor, int]:
    """Summed answer loss of the selected questions of ``videos``, and how many there were."""
    total = features.new_zeros(())
    n = 0
    for video in videos:
        qas = [qa for qa in video.questions if select(video, qa)]
        if not qas:
            continue
        cw = ConceptWorld(video.world, video_probs(space, video, features), space.vocab)
        for qa in qas:
            try:
                total = total + soft_execute(qa.tree, cw).nll(qa.answer)
                n += 1
            except (ExecutionError, ParseError):
                continue
    return total, n


@dataclass(frozen=True)
class TrainConfig:
    """QA training: ``epochs`` over the videos in batches of ``batch`` videos, Adam at ``lr``;
    questions mentioning a word of ``skip`` (or answered by one) are left out. When an encoder
    is trained end to end, its learning rate is ``encoder_lr``."""

    epochs: int = 30
    batch: int = 8
    lr: float = 1e-2
    encoder_lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    skip: tuple[str, ...] = ()


def train_concepts(space: ConceptSpace, videos: Sequence[VideoExample], features: Tensor,
                   config: TrainConfig = TrainConfig(), log: Log = _noop,
                   on_epoch: Callable[[int], None] | None = None,
                   encoder: ObjectEncoder | None = None, cache: CropCache | None = None) -> list[float]:
    """Train ``space`` by the soft-executed answer loss; mean loss per epoch.

    Object features are read from ``features`` (one row per cache row); with ``encoder`` and
    ``cache``, the batch's objects are encoded from their crops instead and the encoder is
    trained end to end too (``features`` is then updated in place with the final ones).
    """
    groups = [{"params": [p for p in space.parameters() if p.requires_grad], "lr": config.lr}]
    if encoder is not None:
        if cache is None:
            raise ConfigError("end-to-end training needs the crop cache with the encoder")
        groups.append({"params": list(encoder.parameters()), "lr": config.encoder_lr})
    opt = torch.optim.Adam(groups, weight_decay=config.weight_decay)
    n_steps = config.epochs * max(1, -(-len(videos) // config.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [g["lr"] for g in groups], total_steps=n_steps, pct_start=0.1)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    history = []
    select = lambda _v, qa: usable(qa, space, config.skip)  # noqa: E731
    for epoch in range(config.epochs):
        order = rng.permutation(len(videos))
        total, count = 0.0, 0
        for s in range(0, len(order), config.batch):
            batch = [videos[i] for i in order[s:s + config.batch]]
            feats = features
            if encoder is not None:
                encoder.train()
                rows = np.unique(np.concatenate([v.rows[v.rows >= 0] for v in batch]))
                feats = features.detach().clone()
                feats[torch.from_numpy(rows)] = encoder(cache.crops[rows])
            loss, n = qa_loss(space, batch, feats, select)
            if n:
                opt.zero_grad()
                (loss / n).backward()
                opt.step()
                total += float(loss.detach())
                count += n
            sched.step()
        history.append(total / max(count, 1))
        if encoder is not None:
            features.copy_(cache_features(encoder, cache))
        log(f"concepts epoch {epoch + 1}/{config.epochs}: answer loss {history[-1]:.4f} ({count} questions)")
        if on_epoch:
            on_epoch(epoch)
    return history


# ---------------------------------------------------------------- 3. few-shot concepts
def few_shot_examples(videos: Sequence[VideoExample], word: str, shots: int = 5) -> list[tuple[VideoExample, QA]]:
    """The first ``shots`` descriptive questions (in video order) whose program or answer uses ``word``."""
    out = []
    for video in videos:
        for qa in video.questions:
            if qa.answer == word or mentions(qa.tree, [word]):
                out.append((video, qa))
                if len(out) == shots:
                    return out
    return out


def learn_concept(space: ConceptSpace, attribute: str, word: str, examples: Sequence[tuple[VideoExample, QA]],
                  features: Tensor, steps: int = 200, lr: float = 0.05, log: Log = _noop) -> list[float]:
    """Add concept ``word`` to ``attribute`` and learn its embedding from ``examples`` alone;
    every other parameter of ``space`` stays as it was. Returns the losses."""
    if not examples:
        raise ConfigError(f"no example question uses '{word}'")
    space.add_concept(attribute, word)
    params = space.freeze_except([word])
    opt = torch.optim.Adam(params, lr=lr)
    by_video: dict[int, list[QA]] = {}
    vids: dict[int, VideoExample] = {}
    for video, qa in examples:
        by_video.setdefault(video.index, []).append(qa)
        vids[video.index] = video
    chosen = {(i, id(qa)) for i, qas in by_video.items() for qa in qas}
    select = lambda v, qa: (v.index, id(qa)) in chosen  # noqa: E731
    losses = []
    for step in range(steps):
        loss, n = qa_loss(space, list(vids.values()), features, select)
        opt.zero_grad()
        (loss / max(n, 1)).backward()
        opt.step()
        losses.append(float(loss.detach()) / max(n, 1))
        if step % 50 == 0 or step == steps - 1:
            log(f"few-shot '{word}' step {step + 1}/{steps}: answer loss {losses[-1]:.4f} ({n} questions)")
    for p in space.parameters():
        p.requires_grad_(True)
    return losses


# ---------------------------------------------------------------- evaluation
def predicted_objects(labels: Sequence[ObjectInfo], probs: dict[str, Tensor],
                      vocab: dict[str, tuple[str, ...]]) -> tuple[ObjectInfo, ...]:
    """The objects with their attributes replaced by the most likely words."""
    words = {a: [vocab[a][int(i)] for i in probs[a].argmax(-1)] for a in ATTRIBUTES}
    return tuple(ObjectInfo(o.id, words["color"][o.id], words["material"][o.id], words["shape"][o.id]) for o in labels)


def relabelled_world(video: VideoExample, objects: Sequence[ObjectInfo]):
    """The video's world with its seen objects' attributes taken from ``objects``."""
    by_id = {o.id: o for o in objects}
    return replace(video.world, objects=tuple(by_id[o.id] for o in video.world.objects))


@dataclass
class Scores:
    """Concept accuracy per attribute (objects with crops) and descriptive accuracy (symbolic on
    the relabelled world, and the soft executor's most likely answer), over ``n_questions``."""

    concept: dict[str, float]
    descriptive: float
    soft_descriptive: float
    n_objects: int
    n_questions: int
    by_subtype: dict[str, float]

    def lines(self) -> list[str]:
        out = [f"concept accuracy ({self.n_objects} objects): "
               + ", ".join(f"{a} {100 * v:.2f} %" for a, v in self.concept.items())]
        out.append(f"descriptive accuracy ({self.n_questions} questions): {100 * self.descriptive:.2f} % "
                   f"(soft executor: {100 * self.soft_descriptive:.2f} %)")
        out.append("  by subtype: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in sorted(self.by_subtype.items())))
        return out


def evaluate(videos: Sequence[VideoExample], probs_of: Callable[[VideoExample], dict[str, Tensor]],
             vocab: dict[str, tuple[str, ...]], select: Callable[[VideoExample, QA], bool] | None = None,
             soft: bool = True) -> Scores:
    """Score per-video concept probabilities against the annotation's words and answers."""
    hits = {a: 0 for a in ATTRIBUTES}
    n_obj = 0
    right = soft_right = n_q = 0
    sub: dict[str, list[int]] = {}
    for video in videos:
        with torch.no_grad():
            probs = probs_of(video)
        pred = predicted_objects(video.labels, probs, vocab)
        for o, p in zip(video.labels, pred):
            if video.rows[o.id] >= 0:
                n_obj += 1
                for a in ATTRIBUTES:
                    hits[a] += getattr(o, a) == getattr(p, a)
        world = relabelled_world(video, pred)
        cw = ConceptWorld(video.world, probs, vocab) if soft else None
        for qa in video.questions:
            if select is not None and not select(video, qa):
                continue
            n_q += 1
            try:
                ok = execute(qa.tree, world).answer == qa.answer
            except (ExecutionError, ParseError):
                ok = False
            right += ok
            sub.setdefault(qa.subtype, []).append(int(ok))
            if cw is not None:
                try:
                    with torch.no_grad():
                        soft_right += soft_execute(qa.tree, cw).answer == qa.answer
                except (ExecutionError, ParseError):
                    pass
    return Scores({a: hits[a] / max(n_obj, 1) for a in ATTRIBUTES}, right / max(n_q, 1),
                  soft_right / max(n_q, 1) if soft else float("nan"), n_obj, n_q,
                  {k: float(np.mean(v)) for k, v in sub.items()})


def fit_supervised_heads(videos: Sequence[VideoExample], features: Tensor, vocab: dict[str, tuple[str, ...]],
                         steps: int = 500, lr: float = 1e-2, seed: int = 0) -> dict[str, nn.Linear]:
    """The label-supervised baseline: one linear classifier per attribute on the same features,
    trained on the annotation's words (cross-entropy, full batch)."""
    torch.manual_seed(seed)
    rows, labels = [], {a: [] for a in ATTRIBUTES}
    for video in videos:
        for o in video.labels:
            if video.rows[o.id] >= 0 and all(getattr(o, a) in vocab[a] for a in ATTRIBUTES):
                rows.append(int(video.rows[o.id]))
                for a in ATTRIBUTES:
                    labels[a].append(vocab[a].index(getattr(o, a)))
    x = features[torch.tensor(rows)]
    mean, std = x.mean(0), x.std(0) + 1e-6
    heads = {}
    for a in ATTRIBUTES:
        head = nn.Linear(x.shape[1], len(vocab[a]))
        opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=1e-4)
        y = torch.tensor(labels[a])
        for _ in range(steps):
            loss = nn.functional.cross_entropy(head((x - mean) / std), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():  # fold the standardisation into the layer
            w = head.weight / std
            head.bias -= (head.weight * (mean / std)).sum(1)
            head.weight.copy_(w)
        heads[a] = head
    return heads


def head_probs(heads: dict[str, nn.Linear], video: VideoExample, features: Tensor) -> dict[str, Tensor]:
    """Per attribute, the supervised heads' probabilities (N_all, K) of a video's objects."""
    rows = torch.from_numpy(video.rows).clamp_min(0)
    return {a: h(features[rows]).softmax(-1) for a, h in heads.items()}
