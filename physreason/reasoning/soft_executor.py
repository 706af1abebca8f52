"""A differentiable (soft) executor: CLEVRER programs run on concept probabilities.

The symbolic executor (:mod:`physreason.reasoning.executor`) reads each object's attributes as
words; this one reads, per object, a probability of each concept word (from
:class:`~physreason.reasoning.concepts.ConceptSpace`, or one-hot from the words) and carries
probabilities through the program, NS-CL style, so that the answer's probability can be
trained by gradient descent. Motion and events are read from the world as in the symbolic
executor (they come from tracks, not from concepts), so they are 0/1 weights.

Soft values:

===================  ==========================================================================
objects (a set)      membership probability per seen object, (N,)
object               a distribution over the seen objects, (N,)
events (a set)       a domain of events (the world's list) and a membership weight per event
event                a distribution over a domain of events
frame                a distribution over the frames of a domain of events
int (count)          the distribution of the count (Poisson-binomial of the memberships)
bool                 the probability of 'yes'
word                 a distribution over words
===================  ==========================================================================

Filters multiply memberships; ``unique`` is the distribution of the only member given that
there is exactly one (the softmax of the membership log-odds, as NS-CL); ``exist`` is
``1 - prod(1 - m)``; ``filter_order`` is the exact probability that an event is the first,
second or last member. When every probability is 0 or 1 the most likely answer is the symbolic
executor's answer (on programs that run symbolically).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from physreason.datasets.questions import Answer, Question
from physreason.datasets.records import ObjectInfo
from physreason.errors import ParseError
from physreason.reasoning.causal import ancestors_in
from physreason.reasoning.concepts import ATTRIBUTES
from physreason.reasoning.executor import ExecutionError, Program, answer_question, program_tree
from physreason.reasoning.operators import BOOL
from physreason.reasoning.program import Expr, Node, Slot, fill_slot, to_nested
from physreason.reasoning.typecheck import check, check_program
from physreason.reasoning.world import ReasoningWorld, WorldEvent

EPS = 1e-6


# ---------------------------------------------------------------- soft values
@dataclass
class SoftObjects:
    """A soft set of the seen objects: membership (N,)."""

    m: Tensor


@dataclass
class SoftObject:
    """A distribution over the seen objects (N,)."""

    p: Tensor


@dataclass
class SoftEvents:
    """A soft set of events of ``domain``: membership (E,)."""

    domain: tuple[WorldEvent, ...]
    m: Tensor


@dataclass
class SoftEvent:
    """A distribution over the events of ``domain`` (E,)."""

    domain: tuple[WorldEvent, ...]
    p: Tensor


@dataclass
class SoftFrame:
    """A distribution over frames (``None``: a frameless event)."""

    frames: tuple[int | None, ...]
    p: Tensor


@dataclass
class SoftCount:
    """The distribution of a count: ``p[n]`` = P(count = n)."""

    p: Tensor


@dataclass
class SoftBool:
    """The probability of 'yes' (0-d tensor)."""

    p: Tensor


@dataclass
class SoftWord:
    """A distribution over words."""

    words: tuple[str, ...]
    p: Tensor


@dataclass(frozen=True)
class SoftResult:
    """The answer distribution of a program: ``answers[i]`` has probability ``probs[i]``."""

    answers: tuple[str, ...]
    probs: Tensor

    @property
    def answer(self) -> str:
        """The most likely answer."""
        return self.answers[int(self.probs.argmax())]

    def prob(self, answer: str) -> Tensor:
        """The probability of ``answer`` (0 when it is not a possible answer)."""
        if answer in self.answers:
            return self.probs[self.answers.index(answer)]
        return self.probs.sum() * 0.0

    def nll(self, answer: str) -> Tensor:
        """The answer loss: -log P(answer)."""
        return -torch.log(self.prob(answer).clamp_min(EPS))


# ---------------------------------------------------------------- the world's concepts
class ConceptWorld:
    """A :class:`ReasoningWorld` whose objects' attributes are probabilities.

    ``probs[attr]`` is (N_all, K): row ``k`` for object id ``k`` (all objects of the
    observation, seen or not), column ``j`` for ``vocab[attr][j]``.
    """

    def __init__(self, world: ReasoningWorld, probs: Mapping[str, Tensor],
                 vocab: Mapping[str, Sequence[str]]) -> None:
        self.world = world
        self.vocab = {a: tuple(vocab[a]) for a in probs}
        ids = torch.tensor([o.id for o in world.objects], dtype=torch.long)
        self.probs = {a: p.index_select(0, ids) if len(ids) else p[:0] for a, p in probs.items()}
        self.ids = [o.id for o in world.objects]
        self.index = {k: i for i, k in enumerate(self.ids)}
        ref = next(iter(self.probs.values()), None)
        self.dtype = ref.dtype if ref is not None else torch.float32

    @classmethod
    def from_labels(cls, world: ReasoningWorld, vocab: Mapping[str, Sequence[str]] | None = None,
                    objects: Sequence[ObjectInfo] | None = None) -> ConceptWorld:
        """One-hot probabilities from the objects' words (the world's own, or ``objects``')."""
        from physreason.reasoning.concepts import DEFAULT_VOCAB

        vocab = dict(DEFAULT_VOCAB if vocab is None else vocab)
        objects = world.objects if objects is None else objects
        n = max((o.id for o in objects), default=-1) + 1
        probs = {}
        for attr in ATTRIBUTES:
            words = tuple(vocab[attr])
            p = torch.zeros(n, len(words), dtype=torch.float64)
            for o in objects:
                word = getattr(o, attr)
                if word in words:
                    p[o.id, words.index(word)] = 1.0
            probs[attr] = p
        return cls(world, probs, vocab)

    @classmethod
    def from_probs(cls, world: ReasoningWorld,
                   attribute_probs: Mapping[str, Mapping[str, np.ndarray]] | None) -> ConceptWorld:
        """The concept world of an observation's ``attribute_probs`` (``[attribute][word]`` -> (N,)
        over the objects), or, when it has none, one-hot from the world's words."""
        if attribute_probs is None:
            return cls.from_labels(world)
        vocab = {a: tuple(attribute_probs[a]) for a in ATTRIBUTES}
        probs = {a: torch.from_numpy(np.stack([np.asarray(attribute_probs[a][w], dtype=np.float64) for w in vocab[a]],
                                              axis=1)) for a in ATTRIBUTES}
        return cls(world, probs, vocab)

    def ones(self) -> Tensor:
        return torch.ones(len(self.ids), dtype=self.dtype)

    def concept(self, word: str) -> Tensor:
        """Each seen object's probability of concept ``word``: (N,)."""
        for attr, words in self.vocab.items():
            if word in words:
                return self.probs[attr][:, words.index(word)]
        raise ExecutionError("filter", f"no learned concept '{word}'")

    def onehot_object(self, object_id: int) -> Tensor:
        out = torch.zeros(len(self.ids), dtype=self.dtype)
        if object_id in self.index:
            out[self.index[object_id]] = 1.0
        return out


# ---------------------------------------------------------------- helpers
def _any(m: Tensor, rows: Sequence[int]) -> Tensor:
    """P(at least one of ``rows`` is a member)."""
    if not rows:
        return m.sum() * 0.0
    return 1 - torch.prod(1 - m[list(rows)])


def _poisson_binomial(m: Tensor) -> Tensor:
    """P(exactly n members), n = 0..len(m)."""
    dist = torch.ones(1, dtype=m.dtype)
    for q in m:
        dist = torch.cat([dist * (1 - q), dist.new_zeros(1)]) + torch.cat([dist.new_zeros(1), dist * q])
    return dist


def _logit(m: Tensor) -> Tensor:
    m = m.clamp(EPS, 1 - EPS)
    return torch.log(m) - torch.log1p(-m)


def _involve(cw: ConceptWorld, objects: SoftObjects | SoftObject, event: WorldEvent) -> Tensor:
    rows = [cw.index[k] for k in event.objects if k in cw.index]
    if isinstance(objects, SoftObject):
        return objects.p[rows].sum() if rows else objects.p.sum() * 0.0
    return _any(objects.m, rows)


def _frame_mask(cw: ConceptWorld, frame: SoftFrame, fn) -> Tensor:
    """sum_f P(frame f) * fn(object, f) per seen object."""
    out = torch.zeros(len(cw.ids), dtype=cw.dtype)
    for f, q in zip(frame.frames, frame.p):
        if f is None:
            continue
        hard = torch.tensor([float(fn(o, f)) for o in cw.world.objects], dtype=cw.dtype)
        out = out + q * hard
    return out


# ---------------------------------------------------------------- operators
def _filter_attr(cw: ConceptWorld, objects: SoftObjects, word: str) -> SoftObjects:
    return SoftObjects(objects.m * cw.concept(word))


def _filter_motion(stationary: bool):
    def run(cw: ConceptWorld, objects: SoftObjects, frame: SoftFrame | str) -> SoftObjects:
        w = cw.world
        if isinstance(frame, str):  # null: the whole video
            fn = w.never_moving if stationary else w.ever_moving
            hard = torch.tensor([float(fn(o)) for o in w.objects], dtype=cw.dtype)
            return SoftObjects(objects.m * hard)
        return SoftObjects(objects.m * _frame_mask(cw, frame, w.is_stationary if stationary else w.is_moving))

    return run


def _filter_kind(kind: str):
    def run(cw: ConceptWorld, events: SoftEvents, objects: SoftObjects | SoftObject) -> SoftEvents:
        weights = [_involve(cw, objects, e) if e.kind == kind else events.m.new_zeros(()) for e in events.domain]
        return SoftEvents(events.domain, events.m * _stack(weights, events.m))

    return run


def _stack(values: list[Tensor], like: Tensor) -> Tensor:
    return torch.stack(values) if values else like.new_zeros(0)


def _filter_time(before: bool):
    def run(cw: ConceptWorld, events: SoftEvents, event: SoftEvent) -> SoftEvents:
        frames = [e.frame for e in event.domain]
        out = []
        for e in events.domain:
            hard = torch.tensor([float(e.frame is not None and f is not None and (e.frame < f if before else e.frame > f))
                                 for f in frames], dtype=event.p.dtype)
            out.append((event.p * hard).sum())
        return SoftEvents(events.domain, events.m * _stack(out, events.m))

    return run


def _filter_order(cw: ConceptWorld, events: SoftEvents, order: str) -> SoftEvent:
    m = events.m
    n = len(m)
    if order == "last":
        probs = [m[i] * torch.prod(1 - m[i + 1:]) for i in range(n)]
    else:
        rank = {"first": 0, "second": 1}[order]
        probs = []
        before = torch.ones(1, dtype=m.dtype)  # P(exactly r members among the earlier events)
        for i in range(n):
            probs.append(m[i] * before[rank] if rank < len(before) else m[i] * 0.0)
            before = torch.cat([before * (1 - m[i]), before.new_zeros(1)]) + torch.cat([before.new_zeros(1), before * m[i]])
    return SoftEvent(events.domain, _stack(probs, m))


def _filter_ancestor(cw: ConceptWorld, events: SoftEvents, event: SoftEvent) -> SoftEvents:
    graph = cw.world.causal_graph
    out = torch.zeros(len(events.domain), dtype=events.m.dtype)
    position = {e: i for i, e in enumerate(events.domain)}
    for e, q in zip(event.domain, event.p):
        if e not in graph:
            continue
        hard = torch.zeros(len(events.domain), dtype=events.m.dtype)
        for a in ancestors_in(graph, e, events.domain):
            hard[position[a]] = 1.0
        out = out + q * hard
    return SoftEvents(events.domain, events.m * out)


def _get_frame(cw: ConceptWorld, event: SoftEvent) -> SoftFrame:
    return SoftFrame(tuple(e.frame for e in event.domain), event.p)


def _get_object(cw: ConceptWorld, event: SoftEvent) -> SoftObject:
    out = torch.zeros(len(cw.ids), dtype=event.p.dtype)
    for e, q in zip(event.domain, event.p):
        if e.kind in ("in", "out"):
            out = out + q * cw.onehot_object(e.objects[0]).to(event.p.dtype)
    return SoftObject(out)


def _get_col_partner(cw: ConceptWorld, event: SoftEvent, obj: SoftObject) -> SoftObject:
    out = torch.zeros(len(cw.ids), dtype=obj.p.dtype)
    for e, q in zip(event.domain, event.p):
        if e.kind != "collision" or len(e.objects) != 2:
            continue
        a, b = e.objects
        pa = obj.p[cw.index[a]] if a in cw.index else obj.p.sum() * 0
        pb = obj.p[cw.index[b]] if b in cw.index else obj.p.sum() * 0
        out = out + q * (pa * cw.onehot_object(b).to(out.dtype) + pb * cw.onehot_object(a).to(out.dtype))
    return SoftObject(out)


def _get_counterfact(cw: ConceptWorld, events: SoftEvents, obj: SoftObject) -> SoftEvents:
    cf = cw.world.counterfactual
    if cf is None:
        raise ExecutionError("get_counterfact", "no counterfactual outcomes were given")
    out = torch.zeros(len(events.domain), dtype=events.m.dtype)
    for k, q in zip(cw.ids, obj.p):
        pairs = cf.get(k)
        if pairs is None:
            continue
        hard = torch.tensor([float(e.kind == "collision" and frozenset(e.objects) in pairs) for e in events.domain],
                            dtype=events.m.dtype)
        out = out + q * hard
    return SoftEvents(events.domain, events.m * out)


def _unique(cw: ConceptWorld, items: SoftObjects | SoftEvents) -> SoftObject | SoftEvent:
    if len(items.m) == 0:
        raise ExecutionError("unique", "expected exactly one item, got an empty list")
    p = _logit(items.m).softmax(0)
    if isinstance(items, SoftObjects):
        return SoftObject(p)
    return SoftEvent(items.domain, p)


def _count(cw: ConceptWorld, items: SoftObjects | SoftEvents) -> SoftCount:
    return SoftCount(_poisson_binomial(items.m))


def _exist(cw: ConceptWorld, items: SoftObjects | SoftEvents) -> SoftBool:
    return SoftBool(_any(items.m, range(len(items.m))))


def _query(attr: str):
    def run(cw: ConceptWorld, obj: SoftObject) -> SoftWord:
        return SoftWord(cw.vocab[attr], obj.p @ cw.probs[attr].to(obj.p.dtype))

    return run


def _belong_to(cw: ConceptWorld, item: SoftObject | SoftEvent, events: SoftEvents) -> SoftBool:
    real = [i for i, e in enumerate(events.domain) if e.is_real]
    if isinstance(item, SoftObject):
        total = item.p.sum() * 0.0
        for k, q in zip(cw.ids, item.p):
            total = total + q * _any(events.m, [i for i in real if k in events.domain[i].objects])
        return SoftBool(total)
    total = item.p.sum() * 0.0
    for e, q in zip(item.domain, item.p):
        total = total + q * _any(events.m, [i for i in real if events.domain[i].kind == e.kind
                                            and events.domain[i].objects == e.objects])
    return SoftBool(total)


def _events(name: str):
    def run(cw: ConceptWorld) -> SoftEvents:
        w = cw.world
        if name == "events":
            domain = w.events
        elif name == "all_events":
            domain = w.all_events()
        else:
            if w.unseen is None:
                raise ExecutionError("unseen_events", "no future world was given (predictive questions need one)")
            domain = w.unseen
        return SoftEvents(domain, torch.ones(len(domain), dtype=cw.dtype))

    return run


def _pseudo(kind: str):
    def run(cw: ConceptWorld) -> SoftEvent:
        domain = cw.world.events
        p = torch.tensor([float(e.kind == kind) for e in domain], dtype=cw.dtype)
        return SoftEvent(domain, p)

    return run


_SOFT_OPS: dict[str, Any] = {
    "objects": lambda cw: SoftObjects(cw.ones()),
    "events": _events("events"),
    "unseen_events": _events("unseen_events"),
    "all_events": _events("all_events"),
    "start": _pseudo("start"),
    "end": _pseudo("end"),
    "filter_color": _filter_attr,
    "filter_material": _filter_attr,
    "filter_shape": _filter_attr,
    "filter_moving": _filter_motion(stationary=False),
    "filter_stationary": _filter_motion(stationary=True),
    "filter_in": _filter_kind("in"),
    "filter_out": _filter_kind("out"),
    "filter_collision": _filter_kind("collision"),
    "filter_before": _filter_time(before=True),
    "filter_after": _filter_time(before=False),
    "filter_order": _filter_order,
    "filter_ancestor": _filter_ancestor,
    "get_frame": _get_frame,
    "get_object": _get_object,
    "get_col_partner": _get_col_partner,
    "get_counterfact": _get_counterfact,
    "unique": _unique,
    "count": _count,
    "exist": _exist,
    "query_color": _query("color"),
    "query_material": _query("material"),
    "query_shape": _query("shape"),
    "belong_to": _belong_to,
    "negate": lambda cw, value: SoftBool(1 - value.p),
}
"""Every GT-dialect operator: (concept world, *soft arguments) -> soft value."""


def _eval(expr: Expr, cw: ConceptWorld) -> Any:
    if isinstance(expr, str):
        return expr
    if isinstance(expr, Slot):
        raise ParseError("a multiple-choice question program needs a choice to run")
    args = [_eval(arg, cw) for arg in expr.args]
    return _SOFT_OPS[expr.op](cw, *args)


def _result(value: Any) -> SoftResult:
    if isinstance(value, SoftBool):
        p = value.p.clamp(0, 1)
        return SoftResult(("yes", "no"), torch.stack([p, 1 - p]))
    if isinstance(value, SoftCount):
        return SoftResult(tuple(str(n) for n in range(len(value.p))), value.p)
    if isinstance(value, SoftWord):
        return SoftResult(value.words, value.p)
    raise ExecutionError("answer", f"a program ending in {type(value).__name__} has no soft answer")


def soft_execute(program: Program, cw: ConceptWorld) -> SoftResult:
    """Run a program softly; the result is a distribution over its answers (yes/no, counts, words)."""
    tree = program_tree(program)
    check(tree)
    return _result(_eval(tree, cw))


def soft_execute_choice(question: Program, choice: Program, cw: ConceptWorld) -> SoftResult:
    """Run a multiple-choice option softly: a distribution over 'correct' and 'wrong'."""
    question_tree = program_tree(question, slot=True)
    tree = fill_slot(question_tree, program_tree(choice))
    if tree == question_tree:
        raise ParseError(f"question program {to_nested(question_tree)} has no slot for the choice")
    check_program(tree, BOOL)
    value = _eval(tree, cw)
    p = value.p.clamp(0, 1)
    return SoftResult(("correct", "wrong"), torch.stack([p, 1 - p]))


def soft_answer_question(question: Question, cw: ConceptWorld) -> Answer:
    """The soft executor's most likely answer to a question (see :func:`answer_question`). It
    answers programs the symbolic executor cannot run, such as a ``unique`` with no object
    having every asked-for word: the probabilities then say which object is meant most likely."""
    return answer_question(question, cw, soft_execute, soft_execute_choice)


def mentions(program: Program | Node, words: Sequence[str]) -> bool:
    """Whether a program uses any of ``words`` as a literal."""
    tree = program if isinstance(program, Node) else program_tree(program)
    targets = set(words)

    def walk(expr: Expr) -> bool:
        if isinstance(expr, str):
            return expr in targets
        if isinstance(expr, Node):
            return any(walk(a) for a in expr.args)
        return False

    return walk(tree)
