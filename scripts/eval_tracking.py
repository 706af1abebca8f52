"""Tracking, lifting and in/out event scores of perception on generated videos.

For each of ``--videos`` generated scenes (sampled, simulated and rendered in memory, nothing
written), builds the Observation from ground-truth proposals and from noisy ones
(:func:`physreason.perception.corrupt.corrupt_proposals`) and prints one row per setting: MOTA,
IDF1 (motmetrics), mean / 90th percentile table position error on visible frames (world
units), and in/out event F1 (frames at most ``--tolerance`` apart). Ends with one summary line.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from physreason.datasets.generator.generate import camera_for_size, observation_from_rollout, proposals_from_ids
from physreason.datasets.generator.render import render_video
from physreason.datasets.generator.scene import SceneConfig, sample_scene
from physreason.perception.corrupt import corrupt_proposals
from physreason.perception.metrics import VideoScores, score_video, summarize
from physreason.perception.observe import observe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--tolerance", type=int, default=3, help="frames allowed between matched in/out events")
    args = parser.parse_args()
    camera = camera_for_size(args.width, args.height)
    results: dict[str, list[VideoScores]] = {"gt": [], "noisy": []}
    t_observe = 0.0
    for idx in range(args.videos):
        scene = sample_scene(idx, args.seed, SceneConfig(n_observed=args.frames, camera=camera))
        _, ids = render_video(scene.objects, scene.rollout.position[:args.frames],
                              scene.rollout.quaternion[:args.frames], camera)
        truth = observation_from_rollout(idx, scene, scene.rollout, camera, args.frames)
        props = proposals_from_ids(scene, ids)
        for name, p in (("gt", props), ("noisy", corrupt_proposals(props, seed=idx))):
            t0 = time.perf_counter()
            seen = observe(p, camera, args.frames, idx)
            t_observe += time.perf_counter() - t0
            results[name].append(score_video(truth, seen, tolerance=args.tolerance))
    print(f"{args.videos} videos, {args.width}x{args.height}, {args.frames} frames, seed {args.seed}")
    print(f"{'proposals':<10} {'MOTA':>7} {'IDF1':>7} {'switches':>9} {'err mean':>9} {'err p90':>8} {'in/out F1':>10}")
    summary = {}
    for name, videos in results.items():
        s = summarize(videos)
        p90 = float(np.percentile(s.position_errors, 90)) if s.position_errors.size else 0.0
        summary[name] = s
        print(f"{name:<10} {s.mota:7.4f} {s.idf1:7.4f} {s.num_switches:9d} {s.position_errors.mean():9.4f} "
              f"{p90:8.4f} {s.event_f1:10.4f}")
    gt, noisy = summary["gt"], summary["noisy"]
    print(f"summary: GT MOTA {gt.mota:.3f} IDF1 {gt.idf1:.3f} err {gt.position_errors.mean():.3f} "
          f"F1 {gt.event_f1:.3f}; noisy MOTA {noisy.mota:.3f} IDF1 {noisy.idf1:.3f} "
          f"err {noisy.position_errors.mean():.3f} F1 {noisy.event_f1:.3f}; "
          f"observe {1000 * t_observe / (2 * max(args.videos, 1)):.0f} ms/video")


if __name__ == "__main__":
    main()
