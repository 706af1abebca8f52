"""One progress bar for a run: videos finished of total, how many failed, videos per second."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """``desc: 37/100 videos, 1 failed, 2.31 videos/s [00:16<00:27]`` on stderr (nothing if quiet).

    The rate counts every finished video (done or failed) since the bar was made.
    """

    def __init__(self, total: int, desc: str = "videos", quiet: bool = False, unit: str = "videos") -> None:
        from tqdm import tqdm

        self.total = total
        self.failed = 0
        self.finished = 0
        self.unit = unit
        self._t0 = time.perf_counter()
        self._bar: Any = tqdm(total=total, desc=desc, disable=quiet, file=sys.stderr, dynamic_ncols=True,
                              postfix=self._postfix(),
                              bar_format="{desc}: {n_fmt}/{total_fmt} " + unit + "{postfix} [{elapsed}<{remaining}]")

    def _postfix(self) -> str:
        elapsed = time.perf_counter() - self._t0
        rate = self.finished / elapsed if self.finished and elapsed > 0 else 0.0
        return f"{self.failed} failed, {rate:.2f} {self.unit}/s"

    def update(self, ok: bool) -> None:
        self.finished += 1
        self.failed += not ok
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
