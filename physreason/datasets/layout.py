"""Where a dataset's files live on disk.

Writing uses CLEVRER's layout: ``videos/video_00000-01000/video_00000.mp4``,
``annotations/annotation_00000-01000/annotation_00000.json`` and the same for ``physics``,
``future``, ``counterfactual`` and ``question`` (``questions/question_00000-01000/question_00000.json``,
a one-video CLEVRER question file); proposals are flat (``proposals/proposal_00000.json``).
Reading finds files by name anywhere up to three folders below the root, so a real CLEVRER
download (``annotation_00000-01000/annotation_00000.json`` …), our layout and a flat folder all work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from physreason.errors import FormatError

BLOCK = 1000
"""Videos per range folder, as in CLEVRER's release."""

KINDS: dict[str, tuple[str, str, bool]] = {
    # kind: (folder, extension, ranged sub-folders)
    "video": ("videos", ".mp4", True),
    "annotation": ("annotations", ".json", True),
    "proposal": ("proposals", ".json", False),
    "physics": ("physics", ".json", True),
    "future": ("future", ".json", True),
    "counterfactual": ("counterfactual", ".json", True),
    "question": ("questions", ".json", True),
}


def range_folder(kind: str, index: int) -> str:
    """CLEVRER's range folder name for a video index, e.g. ``annotation_01000-02000``."""
    lo = (index // BLOCK) * BLOCK
    return f"{kind}_{lo:05d}-{lo + BLOCK:05d}"


def file_name(kind: str, index: int) -> str:
    """E.g. ``video_00042.mp4``."""
    return f"{kind}_{index:05d}{KINDS[kind][1]}"


@dataclass(frozen=True)
class DatasetLayout:
    """Paths of a dataset written in CLEVRER's layout under ``root``."""

    root: Path

    def path(self, kind: str, index: int) -> Path:
        folder, _ext, ranged = KINDS[kind]
        base = self.root / folder
        if ranged:
            base = base / range_folder(kind, index)
        return base / file_name(kind, index)


def find_files(root: str | Path, kind: str, max_depth: int = 3) -> dict[int, Path]:
    """Map video index -> path of every ``{kind}_NNNNN{ext}`` under ``root`` (either layout).

    Two files for the same index raise FormatError; a missing root raises FormatError.
    """
    ext = KINDS[kind][1]
    root = Path(root)
    if not root.is_dir():
        raise FormatError(root, "", "directory not found")
    pattern = re.compile(rf"^{kind}_(\d+){re.escape(ext)}$")
    found: dict[int, Path] = {}
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and depth < max_depth:
                stack.append((entry, depth + 1))
            elif entry.is_file():
                m = pattern.match(entry.name)
                if m:
                    idx = int(m.group(1))
                    if idx in found:
                        raise FormatError(entry, "", f"duplicate {kind} for video {idx} (also {found[idx]})")
                    found[idx] = entry
    return dict(sorted(found.items()))
