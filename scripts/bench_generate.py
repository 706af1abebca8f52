"""Benchmark of the dataset generator: seconds per video by stage, and videos per hour.

Usage: python scripts/bench_generate.py [--videos 6] [--workers 2] [--width 480 --height 320]

Generates into a temporary directory (CLEVRER defaults: 128 observed + 50 future frames),
first with one worker (per-stage timings), then with ``--workers`` processes (throughput).
Prints a table and ends with one summary line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from physreason.datasets.generator.generate import GenerateConfig, generate_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = GenerateConfig(out=Path(tmp) / "one", n_videos=args.videos, seed=args.seed,
                                width=args.width, height=args.height, workers=1)
        t0 = time.perf_counter()
        rows = generate_dataset(config)
        serial = time.perf_counter() - t0
        parallel = None
        if args.workers > 1:
            config_k = GenerateConfig(out=Path(tmp) / "many", n_videos=args.videos, seed=args.seed,
                                      width=args.width, height=args.height, workers=args.workers)
            t0 = time.perf_counter()
            generate_dataset(config_k)
            parallel = time.perf_counter() - t0

    print(f"{'video':>5} {'objects':>7} {'collisions':>10} {'entering':>8} {'simulate s':>10} {'render s':>8} "
          f"{'questions s':>11} {'write s':>7} {'total s':>7}")
    for r in rows:
        total = r.simulate_s + r.render_s + r.questions_s + r.write_s
        print(f"{r.index:>5} {r.n_objects:>7} {r.n_collisions:>10} {r.n_entering:>8} {r.simulate_s:>10.2f} "
              f"{r.render_s:>8.2f} {r.questions_s:>11.2f} {r.write_s:>7.2f} {total:>7.2f}")
    sim = statistics.mean(r.simulate_s for r in rows)
    ren = statistics.mean(r.render_s for r in rows)
    que = statistics.mean(r.questions_s for r in rows)
    wri = statistics.mean(r.write_s for r in rows)
    per_video = serial / len(rows)
    line = (f"generate {args.width}x{args.height}, 128+50 frames: {per_video:.2f} s/video on 1 worker "
            f"(simulate {sim:.2f}, render {ren:.2f}, questions {que:.2f}, write {wri:.2f}), "
            f"{3600 / per_video:.0f} videos/h")
    if parallel is not None:
        line += f"; {args.workers} workers: {3600 * len(rows) / parallel:.0f} videos/h"
    print(line)


if __name__ == "__main__":
    main()
