"""Speed and memory of perception from pixels on a 480×320 video (2 CPU threads).

Times each stage of :func:`physreason.perception.perceive.perceive_video` on ``--video`` (default:
a freshly rendered ``--frames``-frame generated scene written as mp4 to a temporary folder):
video decoding, detection (net + decoding), attribute classification, proposals (RLE) and
``observe`` (tracking, lifting, events). Wall-clock and process CPU seconds are both shown
(on a shared machine, CPU seconds / threads is what an idle machine's wall clock would be).
Prints a table, the peak resident memory, and one summary line.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _make_video(folder: Path, frames: int, seed: int) -> Path:
    os.environ.setdefault("MUJOCO_GL", "egl")
    from physreason.datasets.generator.generate import camera_for_size
    from physreason.datasets.generator.render import render_video
    from physreason.datasets.generator.scene import SceneConfig, sample_scene
    from physreason.datasets.video import write_video

    camera = camera_for_size(480, 320)
    scene = sample_scene(0, seed, SceneConfig(n_observed=frames, camera=camera))
    rgb, _ = render_video(scene.objects, scene.rollout.position[:frames], scene.rollout.quaternion[:frames], camera)
    path = folder / "video_00000.mp4"
    write_video(path, rgb)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="video to perceive (default: render one)")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (the best is reported)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from physreason.datasets.camera import CLEVRER_CAMERA
    from physreason.datasets.video import read_video
    from physreason.perception.observe import observe
    from physreason.perception.perceive import classify_detections, detect_frames, load_models, to_proposals

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(args.video) if args.video else _make_video(Path(tmp), args.frames, args.seed)
        t0 = time.perf_counter()
        models = load_models()
        load_s = time.perf_counter() - t0
        runs = []
        for _ in range(args.repeats):
            stages: dict[str, tuple[float, float]] = {}

            def timed(name, fn, *a):
                w, c = time.perf_counter(), time.process_time()
                out = fn(*a)
                stages[name] = (time.perf_counter() - w, time.process_time() - c)
                return out

            frames = timed("decode video", read_video, video)
            dets = timed("detect (net + masks)", detect_frames, frames, models.detector, models.decode)
            labels = timed("attributes", classify_detections, frames, dets, models)
            props = timed("proposals (RLE)", to_proposals, dets, labels)
            obs = timed("observe (track, lift, events)", observe, props, CLEVRER_CAMERA, len(frames), 0)
            runs.append(stages)
        best = min(runs, key=lambda s: sum(v[0] for v in s.values()))
    n = len(frames)
    total_wall = sum(v[0] for v in best.values())
    total_cpu = sum(v[1] for v in best.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"video {video.name if args.video else '(rendered)'}: {n} frames {frames.shape[2]}x{frames.shape[1]}, "
          f"{len(obs.objects)} objects perceived, {args.threads} threads, best of {args.repeats}")
    print(f"{'stage':<32} {'wall s':>8} {'cpu s':>8} {'ms/frame':>9}")
    for name, (w, c) in best.items():
        print(f"{name:<32} {w:8.3f} {c:8.3f} {1000 * w / n:9.1f}")
    print(f"{'total':<32} {total_wall:8.3f} {total_cpu:8.3f} {1000 * total_wall / n:9.1f}")
    print(f"model load (once per process): {load_s:.2f} s; peak resident memory {peak_mb:.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"summary: {n / total_wall:.1f} frames/s end to end ({total_wall:.2f} s wall, "
          f"{total_cpu / args.threads:.2f} s CPU/threads for {n} frames), peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
