"""A short textual summary of a dataset directory (ours or a real CLEVRER download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from physreason.datasets.files import read_annotation
from physreason.datasets.layout import find_files
from physreason.errors import FormatError


def summarise(root: str | Path, max_rows: int = 10) -> str:
    """Per-video rows (the first ``max_rows``) and totals of the annotations under ``root``."""
    found = find_files(root, "annotation")
    if not found:
        raise FormatError(root, "", "no annotation_XXXXX.json files found")
    videos = find_files(root, "video")
    rows = []
    for index, path in found.items():
        obs = read_annotation(path)
        entering = sum(1 for tr in obs.tracks if not tr.visible[0] and tr.visible.any())
        leaving = sum(1 for e in obs.events if e.kind == "out")
        objects = ", ".join(o.describe() for o in obs.objects)
        rows.append((index, len(obs.objects), len(obs.collisions), entering, leaving, obs.n_frames,
                     index in videos, objects))
    lines = [f"{'video':>6} {'objects':>7} {'collisions':>10} {'entering':>8} {'exits':>5} {'frames':>6} "
             f"{'mp4':>3}  objects"]
    for r in rows[:max_rows]:
        lines.append(f"{r[0]:>6} {r[1]:>7} {r[2]:>10} {r[3]:>8} {r[4]:>5} {r[5]:>6} {'yes' if r[6] else 'no':>3}  {r[7]}")
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more")
    arr = np.array([r[1:6] for r in rows], float)
    lines.append(f"{len(rows)} videos: {arr[:, 0].mean():.2f} objects, {arr[:, 1].mean():.2f} collisions, "
                 f"{arr[:, 2].mean():.2f} entering objects and {arr[:, 3].mean():.2f} exits per video; "
                 f"{int(arr[:, 4].sum())} frames; {sum(r[6] for r in rows)} videos on disk")
    return "\n".join(lines)
