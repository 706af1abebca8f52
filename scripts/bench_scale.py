"""Benchmark of the execution backends: videos per hour for generate and eval, and Ray's per-task overhead.

Usage: python scripts/bench_scale.py [--videos 4] [--frames 128 --width 480 --height 320]
                                     [--workers 1 2] [--tasks 1000] [--no-ray]

For each backend (local process pool, private local Ray instance) and each worker count, it
generates ``--videos`` videos into a fresh folder and then evaluates them in oracle mode (ground-
truth annotations, physics fitted per video, every question answered), timing each run from the
first task to the last result. Ray's start-up (reported apart) is kept out of those timings;
importing the stage's libraries in each new worker process is inside them, for both backends.
Ray's overhead per task is the wall time per no-op task (``physreason.execution.probe.echo``) on
one worker (tasks one after the other) and on K, minus the same loop in this process. Checks on the
way whether every backend wrote byte-identical files (generate) and answers (eval). Prints a table and ends with one summary line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from physreason.datasets.generator.generate import GenerateConfig, generate_videos  # noqa: E402
from physreason.execution import Backend, make_backend, probe, run_videos  # noqa: E402


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def per_task_overhead(backend: Backend, n: int) -> float:
    """Seconds of wall time per no-op task (minus the same loop in this process): with one worker,
    the time a task costs beyond its own work; with K, what the scheduler sustains."""
    run_videos(probe.echo, range(min(n, 20)), backend, quiet=True)  # warm the worker up
    wall, _ = timed(lambda: run_videos(probe.echo, range(n), backend, quiet=True))
    base, _ = timed(lambda: run_videos(probe.echo, range(n), None, quiet=True))
    return (wall - base) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="videos per run (generate and eval)")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--seed", type=int, default=4321)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tasks", type=int, default=1000, help="no-op tasks for the overhead measurement")
    parser.add_argument("--no-ray", action="store_true", help="local backend only")
    parser.add_argument("--no-eval", action="store_true", help="generate only")
    args = parser.parse_args()

    from physreason.pipeline.evaluate import EvalConfig, evaluate_dataset

    backends = ["local"] + ([] if args.no_ray else ["ray"])
    rows: list[tuple[str, str, int, int, float, bool]] = []  # workload, backend, workers, n, wall s, same output
    overhead: dict[tuple[str, int], float] = {}
    startup: dict[int, float] = {}
    reference: dict[str, bytes] | None = None
    answers: dict[str, bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for name in backends:
            for k in args.workers:
                tag = f"{name}{k}"
                backend = make_backend(name, k)
                with backend:
                    if name == "ray":
                        startup[k], _ = timed(backend.start)
                    out = Path(tmp) / tag
                    config = GenerateConfig(out=out, n_videos=args.videos, seed=args.seed, n_frames=args.frames,
                                            width=args.width, height=args.height, workers=k)
                    wall, results = timed(lambda: generate_videos(config, backend))
                    failed = [r for r in results if not r.ok]
                    if failed:
                        raise SystemExit(f"generate failed on {tag}: {failed[0].error}")
                    files = files_of(out)
                    reference = reference or files
                    rows.append(("generate", name, k, args.videos, wall, files == reference))
                    if not args.no_eval:
                        ev = EvalConfig(Path(tmp) / f"{backends[0]}{args.workers[0]}", mode="oracle", workers=k)
                        wall, report = timed(lambda: evaluate_dataset(ev, out=Path(tmp) / f"eval-{tag}" / "answers.json",
                                                                      quiet=True, backend=backend))
                        if any(r.get("error") for r in report.results):
                            raise SystemExit(f"eval failed on {tag}: {report.results}")
                        got = (Path(tmp) / f"eval-{tag}" / "answers.json").read_bytes()
                        answers = answers or got
                        rows.append(("eval (oracle)", name, k, len(report.results), wall, got == answers))
                    if name == "ray":
                        overhead[(name, k)] = per_task_overhead(backend, args.tasks)

    size = f"{args.frames} frames, {args.width}x{args.height}"
    print(f"Scaling of the execution backends on {os.cpu_count()} cores ({args.videos} videos of {size}, "
          f"start-up of Ray excluded)\n")
    print("| workload | backend | workers | videos | wall s | s/video | videos/h | speed-up vs 1 worker | "
          "output = first row's |")
    print("|---|---|---|---|---|---|---|---|---|")
    base: dict[tuple[str, str], float] = {}
    rate: dict[tuple[str, str, int], float] = {}
    for workload, name, k, n, wall, same in rows:
        per_hour = 3600 * n / wall
        rate[(workload, name, k)] = per_hour
        base.setdefault((workload, name), per_hour)
        print(f"| {workload} | {name} | {k} | {n} | {wall:.1f} | {wall / n:.2f} | {per_hour:.0f} | "
              f"{per_hour / base[(workload, name)]:.2f} | {'yes' if same else 'NO'} |")
    if overhead:
        print("\n| Ray | workers | ms |")
        print("|---|---|---|")
        for (name, k), sec in overhead.items():
            print(f"| wall time per no-op task ({args.tasks} tasks) | {k} | {1000 * sec:.2f} |")
        for k, sec in startup.items():
            print(f"| start-up of a private instance (once per command) | {k} | {1000 * sec:.0f} |")

    def fmt(workload: str) -> str:
        return ", ".join(f"{name} " + "→".join(f"{rate[(workload, name, k)]:.0f}" for k in args.workers
                                                if (workload, name, k) in rate) for name in backends)

    ray_ms = f"; ray overhead {1000 * overhead[('ray', 1)]:.2f} ms/task" if ("ray", 1) in overhead else ""
    ray_start = f", start-up {max(startup.values()):.1f} s" if startup else ""
    eval_part = "" if args.no_eval else f"; eval {fmt('eval (oracle)')}"
    print(f"\nvideos/h with {'→'.join(map(str, args.workers))} workers: generate {fmt('generate')}{eval_part}"
          f"{ray_ms}{ray_start}; outputs identical across backends: "
          f"generate {'yes' if all(r[5] for r in rows if r[0] == 'generate') else 'NO'}"
          + ("" if args.no_eval else f", eval {'yes' if all(r[5] for r in rows if r[0] != 'generate') else 'NO'}"))


if __name__ == "__main__":
    main()
