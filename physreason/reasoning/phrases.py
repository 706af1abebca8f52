"""Meanings of question phrases (object descriptions, events) and the program trees they build.

Token orders follow CLEVRER's released programs: an object description filters ``objects``
by color, then material, then shape (in the order the words are written) and, when it names
one object, ends in ``unique``; an event is picked out of an events list by its objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from physreason.reasoning.program import Expr, Node


@dataclass(frozen=True)
class Desc:
    """An object description such as "green metal cube"; ``None`` where a word is absent."""

    color: str | None = None
    material: str | None = None
    shape: str | None = None

    @property
    def bare(self) -> bool:
        """True for plain "object(s)", which matches every object."""
        return self.color is None and self.material is None and self.shape is None


@dataclass(frozen=True)
class EventSpec:
    """An event phrase: kind ``in``/``out``/``collision``/``start``/``end`` and its objects."""

    kind: str
    objects: tuple[Desc, ...] = ()


_FILTERS = (("color", "filter_color"), ("material", "filter_material"), ("shape", "filter_shape"))


def objects_of(desc: Desc) -> Node:
    """All objects matching a description: ``objects <color> filter_color ...``."""
    tree = Node("objects")
    for field, op in _FILTERS:
        value = getattr(desc, field)
        if value is not None:
            tree = Node(op, (tree, value))
    return tree


def the(desc: Desc) -> Node:
    """The one object matching a description: ``objects ... unique``."""
    return Node("unique", (objects_of(desc),))


def event_of(spec: EventSpec, source: str = "events") -> Node:
    """The one event an event phrase names, taken from the events list ``source``."""
    if spec.kind in ("start", "end"):
        return Node(spec.kind)
    tree = Node(source)
    op = {"in": "filter_in", "out": "filter_out", "collision": "filter_collision"}[spec.kind]
    for desc in spec.objects:
        tree = Node(op, (tree, the(desc)))
    return Node("unique", (tree,))


def frame_of(spec: EventSpec | None) -> Expr:
    """The frame of "when <event>", or ``null`` (the whole video) without a when-clause."""
    return "null" if spec is None else Node("get_frame", (event_of(spec),))


def in_motion(desc: Desc, motion: str, when: EventSpec | None) -> Node:
    """Objects matching a description that are moving/stationary (at the when-clause's frame)."""
    return Node(f"filter_{motion}", (objects_of(desc), frame_of(when)))


def timed(events: Node, timing: tuple[str, EventSpec] | None) -> Node:
    """Restrict an events list to those before/after an event, if a timing clause is given."""
    if timing is None:
        return events
    word, spec = timing
    return Node(f"filter_{word}", (events, event_of(spec)))


def crossings(desc: Desc, kind: str) -> Node:
    """The ``in`` or ``out`` events of the objects matching a description."""
    return Node(f"filter_{kind}", (Node("events"), objects_of(desc)))


def collisions_with(subject: Desc, other: Desc) -> Node:
    """Collisions of objects matching ``subject`` with the object ``other``.

    A bare subject ("object") adds no filter: ``events <other> filter_collision``.
    """
    events = Node("events")
    if not subject.bare:
        events = Node("filter_collision", (events, objects_of(subject)))
    return Node("filter_collision", (events, the(other)))
