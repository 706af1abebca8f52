"""Simulated trajectories of a batch of scenes, sampled at video frames, and their collision events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physreason.datasets.records import Event
from physreason.datasets.vocab import OBJECT_RADIUS

COLLISION_GAP_FRAMES = 2
"""A pair must be apart for more than this many frames before a new contact is a new collision
(the reference engine's ``collision_gap_frames``)."""


@dataclass(frozen=True, eq=False)
class State:
    """B scenes of N objects at F frames (frame f at time f / 25 s).

    ``position`` (B, F, N, 2) units; ``velocity`` (B, F, N, 2) units/s; ``yaw`` (B, F, N) rad;
    ``active`` (B, N) bool (rows of inactive objects are NaN); ``collisions[b]``: scene b's
    collision events, sorted by frame then pair, one per contact episode of a pair;
    ``contact`` (B, F, N, N) bool, symmetric, or None: pair (i, j) touched during a step ending
    in (f - 1, f] (frame 0: False), as the engine's rollout reports it.
    """

    position: np.ndarray
    velocity: np.ndarray
    yaw: np.ndarray
    active: np.ndarray
    collisions: tuple[tuple[Event, ...], ...]
    contact: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.position.shape[1])


def collision_events(hits: np.ndarray, position: np.ndarray, substeps: int,
                     gap_frames: int = COLLISION_GAP_FRAMES) -> tuple[Event, ...]:
    """Collision events of one scene from per-step contact flags.

    ``hits`` (T, N, N) bool: pair (i, j) collided during step t (ending at step t + 1);
    ``position`` (F, N, 2) frame positions, for the event locations (midpoint of the two centres
    at the event's frame, at the centres' height). A pair's event starts at the first contact
    after more than ``gap_frames`` frames apart; its frame is the contact's end time rounded to
    the nearest frame.
    """
    steps, i_idx, j_idx = np.nonzero(np.triu(hits | np.swapaxes(hits, 1, 2), k=1))
    gap_steps = gap_frames * substeps
    last: dict[tuple[int, int], int] = {}
    events = []
    for t, i, j in zip(steps.tolist(), i_idx.tolist(), j_idx.tolist()):
        pair, s = (i, j), t + 1
        if pair not in last or s - last[pair] > gap_steps:
            frame = min((s + substeps // 2) // substeps, position.shape[0] - 1)
            mid = 0.5 * (position[frame, i] + position[frame, j])
            events.append(Event("collision", frame, pair, (float(mid[0]), float(mid[1]), OBJECT_RADIUS)))
        last[pair] = s
    return tuple(sorted(events, key=lambda e: (e.frame, e.objects)))
