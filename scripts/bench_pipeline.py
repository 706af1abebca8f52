"""End-to-end time per video: observation (perception or annotation), physics fit with the future
and counterfactual worlds, and every question of the video, in one process.

    python scripts/bench_pipeline.py DATA_DIR [--mode perception|oracle] [--videos 10]

One untimed warm-up video first (Taichi compiles its kernels, perception loads its weights);
then each video is run from scratch (nothing reused from earlier runs). Prints a table per
stage and one summary line. Set PHYSREASON_PHYSICS_THREADS / OMP_NUM_THREADS to pin cores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from physreason.datasets.layout import find_files
from physreason.pipeline.engine import Engine
from physreason.pipeline.evaluate import SOURCE_KIND, find_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--mode", choices=("perception", "oracle"), default="perception")
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--split", default="validation")
    args = parser.parse_args()
    questions = find_questions(args.data_dir, args.split)
    sources = find_files(args.data_dir, SOURCE_KIND[args.mode], max_depth=4)
    indices = [i for i in questions if i in sources][:args.videos + 1]
    if len(indices) < 2:
        raise SystemExit(f"need at least 2 videos with questions and {SOURCE_KIND[args.mode]} files")

    def run(index: int) -> dict[str, float]:
        engine = Engine()
        t0 = time.perf_counter()
        if args.mode == "oracle":
            engine.from_annotation(sources[index])
        else:
            engine.observe(sources[index], scene_index=index)
        engine.answer_video(questions[index], on_error=lambda q, exc: None)
        timings = dict(engine.timings)
        timings["total"] = time.perf_counter() - t0
        timings["questions"] = len(questions[index].questions)
        return timings

    run(indices[0])  # warm-up: kernels compiled, weights loaded
    rows = []
    for index in indices[1:]:
        rows.append(run(index))
        print(f"  video {index}: " + "  ".join(f"{k} {v:.2f}" for k, v in rows[-1].items()), flush=True)
    print(f"\n{len(rows)} videos, {args.mode} mode, {args.data_dir}")
    print(f"{'stage':<14}{'mean s':>9}{'median s':>10}{'max s':>9}")
    for key in ("perception", "physics", "reasoning", "total"):
        values = [r.get(key, 0.0) for r in rows]
        print(f"{key:<14}{statistics.fmean(values):>9.2f}{statistics.median(values):>10.2f}{max(values):>9.2f}")
    total = [r["total"] for r in rows]
    print(f"SUMMARY videos={len(rows)} mode={args.mode} end_to_end mean={statistics.fmean(total):.2f} s "
          f"median={statistics.median(total):.2f} s max={max(total):.2f} s per video "
          f"({statistics.fmean(r['questions'] for r in rows):.1f} questions each)")


if __name__ == "__main__":
    main()
