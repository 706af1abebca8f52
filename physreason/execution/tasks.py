"""Per-video task functions of commands that run over a dataset directory (``physreason fit DIR``).

Each is module-level and takes the video index first, so ``functools.partial(task, root=..., out=...)``
is a picklable ``fn`` for :func:`physreason.execution.run_videos`. The index of a directory's
annotation files is built once per worker process (a module-level cache), not once per task.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from physreason.datasets.layout import DatasetLayout, find_files
from physreason.errors import FormatError


@functools.lru_cache(maxsize=8)
def annotation_index(root: str) -> dict[int, Path]:
    """Video index -> annotation file under ``root`` (cached per process)."""
    return find_files(root, "annotation")


@dataclass(frozen=True)
class FitSummary:
    """One video's fit: objects, 'good'/'poor', mean per-object RMS error (units); or skipped."""

    index: int
    n_objects: int = 0
    quality: str = ""
    mean_rms: float = math.nan
    skipped: bool = False


def fit_video(index: int, root: str, out: str, priors: str | None = None) -> FitSummary:
    """Fit physics to video ``index``'s annotation under ``root``; write ``out``'s physics file.

    Skips a video whose output exists (written atomically, so existing means complete).
    ``priors``: the fit's per-material priors as ``--priors`` names them (None: the shipped ones;
    'flat' for none, how the data to learn priors from is fitted; or a priors file).
    """
    from physreason.datasets import files
    from physreason.physics.fit import FitConfig, fit_observation
    from physreason.physics.priors import priors_from_option

    target = DatasetLayout(Path(out)).path("physics", index)
    if target.is_file():
        return FitSummary(index, skipped=True)
    path = annotation_index(root).get(index)
    if path is None:
        raise FormatError(root, "", f"no annotation file for video {index}")
    obs = files.read_annotation(path)
    result = fit_observation(obs, FitConfig(priors=priors_from_option(priors)))
    files.write_physics(target, result.params)
    finite = [float(r) for r in result.residuals if math.isfinite(r)]
    return FitSummary(index, len(obs.objects), result.quality, sum(finite) / len(finite) if finite else math.nan)
