"""The causal event graph of a video (reference notes §2.2, "Causal ancestors").

Each object's trace is its in/out/collision events sorted by frame (start/end pseudo-events take
no part). The parents of an event are, for each object taking part in it, that object's previous
event; an event's causal ancestors are the transitive closure of its parents. An object's ``in``
event is therefore an ancestor of its first collision.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol, TypeVar

import networkx as nx

_PSEUDO = ("start", "end")


class EventLike(Hashable, Protocol):
    """What the graph needs of an event: its kind, frame and participating object ids."""

    @property
    def kind(self) -> str: ...

    @property
    def frame(self) -> int | None: ...

    @property
    def objects(self) -> tuple[int, ...]: ...


E = TypeVar("E", bound=EventLike)


def causal_graph(events: Iterable[EventLike]) -> nx.DiGraph:
    """A DAG over the events with an edge parent -> child for each object's consecutive events.

    Pseudo-events and events without a frame are left out. Events of one frame keep their input
    order within an object's trace.
    """
    graph = nx.DiGraph()
    real = [e for e in events if e.kind not in _PSEUDO and e.frame is not None]
    graph.add_nodes_from(real)
    last: dict[int, EventLike] = {}
    for event in sorted(real, key=lambda e: e.frame):  # type: ignore[arg-type, return-value]  # frames checked above
        for obj in event.objects:
            if obj in last:
                graph.add_edge(last[obj], event)
            last[obj] = event
    return graph


def ancestors(graph: nx.DiGraph, event: EventLike) -> set[EventLike]:
    """Every causal ancestor of an event of the graph (not the event itself)."""
    return set(nx.ancestors(graph, event))


def ancestors_in(graph: nx.DiGraph, event: EventLike, candidates: Sequence[E]) -> tuple[E, ...]:
    """The candidates that are causal ancestors of ``event``, in the candidates' order."""
    found = ancestors(graph, event)
    return tuple(c for c in candidates if c in found)
