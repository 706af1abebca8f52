"""Benchmark of the Taichi physics engine: fit time per video and batched rollout throughput,
against a vectorised PyTorch-autograd baseline of the same planar model.

Usage: python scripts/bench_physics.py [--scenes 5] [--batches 1 32] [--repeats 3] [--threads 1]

1. ``fit_observation`` on the ground-truth observations (128 frames) of ``--scenes`` sampled
   scenes: seconds per video (mean / median / max).
2. Taichi engine (``engine.loss_and_grad``, float32): rollouts per second for batches of B
   scenes of 6 objects x 128 frames (10 substeps per frame at 1/250 s), forward only
   (``with_grad=False``) and forward + backward (loss and gradients of every parameter).
3. Baseline written here in PyTorch (float32, autograd): the same planar model restricted to
   discs with no spin, i.e. the engine's cylinders: positions / velocities as (B, N, 2)
   tensors; pairwise disc contacts vectorised (collide when approaching and overlapping by the
   step's end), normal impulse ``J = -(1 + e_i e_j) vn / (1/m_i + 1/m_j)`` (product restitution,
   mass ratio) with the engine's time-of-impact position correction; Coulomb sliding friction
   (deceleration mu * g, speed clamped at zero); semi-implicit Euler; loss = weighted squared
   error to a target trajectory at the frames; backward through torch autograd to all inputs.
   The benchmark batches use cylinders only so that both engines simulate the same model; the
   table also shows the largest position difference between the two at B = the first batch.

Everything runs with ``--threads`` CPU threads (default 1: Taichi's ``cpu_max_num_threads``
through ``PHYSREASON_PHYSICS_THREADS``, and ``torch.set_num_threads``). Timings are medians
over ``--repeats`` runs after one warm-up run (Taichi kernels compile on the first call).
Prints a table and ends with one summary line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _threads_from_argv() -> str:
    for k, a in enumerate(sys.argv):
        if a == "--threads" and k + 1 < len(sys.argv):
            return sys.argv[k + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# Must be set before the engine initialises Taichi.
os.environ["PHYSREASON_PHYSICS_THREADS"] = _threads_from_argv()
os.environ.setdefault("PHYSREASON_PHYSICS_ARCH", "cpu")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from physreason.datasets.generator.generate import GenerateConfig, observation_from_rollout  # noqa: E402
from physreason.datasets.generator.scene import sample_scene  # noqa: E402
from physreason.physics.engine import loss_and_grad, rollout  # noqa: E402
from physreason.physics.fit import fit_observation  # noqa: E402
from physreason.physics.model import CYLINDER, GRAVITY, HALF_SIZE, SUBSTEPS, TIME_STEP, Model  # noqa: E402

N_OBJECTS = 6
N_FRAMES = 128


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, allocation)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def batch_model(b: int, seed: int) -> Model:
    """B scenes of 6 cylinders on a 3 x 3 grid (jittered) moving at 0.5-2 units/s: collisions."""
    rng = np.random.default_rng(seed)
    grid = np.array([(x, y) for x in (-1.2, 0.0, 1.2) for y in (-1.2, 0.0, 1.2)])
    pos = np.stack([grid[rng.permutation(9)[:N_OBJECTS]] for _ in range(b)]) + rng.uniform(-0.2, 0.2, (b, N_OBJECTS, 2))
    speed = rng.uniform(0.5, 2.0, (b, N_OBJECTS, 1))
    angle = rng.uniform(0, 2 * np.pi, (b, N_OBJECTS))
    vel = speed * np.stack([np.cos(angle), np.sin(angle)], axis=2)
    shape = (b, N_OBJECTS)
    return Model(kind=np.full(shape, CYLINDER, np.int32), active=np.ones(shape, bool),
                 mass=rng.uniform(0.7, 3.0, shape), restitution=rng.uniform(0.6, 0.95, shape),
                 friction=rng.uniform(0.015, 0.04, shape), rolling_friction=np.zeros(shape),
                 position=pos, velocity=vel, yaw=np.zeros(shape))


def torch_loss(pos0, vel0, mass, rest, fric, target, weight, n_frames: int):
    """Loss (B,) of the disc model (see the module docstring); ``target`` (B, F, N, 2)."""
    b, n, _ = pos0.shape
    dt, radius = TIME_STEP, HALF_SIZE
    eye = torch.eye(n, dtype=torch.bool)
    inv_m = 1.0 / mass                                   # (B, N)
    k = inv_m[:, :, None] + inv_m[:, None, :]            # (B, N, N)
    e = 1.0 + rest[:, :, None] * rest[:, None, :]        # (B, N, N)
    decel = fric * GRAVITY * dt                          # (B, N) speed lost per step
    x, v = pos0, vel0
    frames = [x]
    for step in range(1, (n_frames - 1) * SUBSTEPS + 1):
        d = x[:, :, None, :] - x[:, None, :, :]          # (B, N, N, 2) from j to i
        dist = torch.sqrt((d * d).sum(-1) + 1e-12).masked_fill(eye, 1.0)
        normal = d / dist[..., None]
        gap = dist - 2 * radius
        vn = ((v[:, :, None, :] - v[:, None, :, :]) * normal).sum(-1)
        hit = (vn < 0) & (gap + dt * vn < 0) & ~eye
        impulse = torch.where(hit, -e * vn / k, torch.zeros_like(vn))       # (B, N, N)
        dv_pair = impulse[..., None] * normal * inv_m[:, :, None, None]     # on i from j
        toi = torch.where(hit, (gap / torch.where(hit, -vn, torch.ones_like(vn))).clamp(0.0, dt),
                          torch.zeros_like(vn))
        v = v + dv_pair.sum(2)
        x = x - (toi[..., None] * dv_pair).sum(2)
        speed = torch.sqrt((v * v).sum(-1) + 1e-20)
        v = v * torch.clamp(1.0 - decel / speed, min=0.0)[..., None]
        x = x + dt * v
        if step % SUBSTEPS == 0:
            frames.append(x)
    traj = torch.stack(frames, dim=1)                   # (B, F, N, 2)
    return (weight * ((traj - target) ** 2).sum(-1)).sum((1, 2)), traj


def torch_inputs(model: Model, target: np.ndarray, weight: np.ndarray, grad: bool):
    f = torch.float32
    names = ("position", "velocity", "mass", "restitution", "friction")
    params = [torch.tensor(getattr(model, nm), dtype=f, requires_grad=grad) for nm in names]
    return params, torch.tensor(target, dtype=f), torch.tensor(weight, dtype=f)


def bench_fit(n_scenes: int, seed: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of ``fit_observation`` per scene (the CPU time is the
    one to read on a shared machine: with one thread it is what one quiet core would take)."""
    config = GenerateConfig(out=Path("/nonexistent"), n_videos=n_scenes, seed=seed, n_future=0, questions=False)
    times, cpu = [], []
    for index in range(n_scenes):
        scene = sample_scene(index, seed, config.scene_config)
        obs = observation_from_rollout(index, scene, scene.rollout, config.camera, config.n_frames)
        t0, c0 = time.perf_counter(), time.process_time()
        result = fit_observation(obs)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        print(f"  fit scene {index}: {len(obs.objects)} objects, {len(obs.collisions)} collisions, "
              f"{times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU, quality {result.quality}", flush=True)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=5, help="videos to fit")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32], help="batch sizes B")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"threads: {args.threads} (taichi cpu_max_num_threads, torch.set_num_threads)", flush=True)
    t0 = time.perf_counter()
    rollout(batch_model(1, 0), 2)  # initialise Taichi and compile once outside the fit timings
    print(f"taichi start-up + first compile: {time.perf_counter() - t0:.1f} s", flush=True)

    fit_times, fit_cpu = bench_fit(args.scenes, args.seed) if args.scenes > 0 else ([], [])

    rows = []
    max_diff = None
    for b in args.batches:
        model = batch_model(b, args.seed + b)
        target = rollout(model, N_FRAMES).position + 0.05  # a target near the trajectory
        weight = np.full((b, N_FRAMES, N_OBJECTS), 1.0 / (N_FRAMES * N_OBJECTS))
        ti_fwd = _median_time(lambda: loss_and_grad(model, target, weight, with_grad=False), args.repeats)
        ti_bwd = _median_time(lambda: loss_and_grad(model, target, weight), args.repeats)

        def run_torch(grad: bool):
            params, tgt, w = torch_inputs(model, target, weight, grad)
            if grad:
                loss, _ = torch_loss(*params, tgt, w, N_FRAMES)
                loss.sum().backward()
            else:
                with torch.no_grad():
                    torch_loss(*params, tgt, w, N_FRAMES)

        th_fwd = _median_time(lambda: run_torch(False), args.repeats)
        th_bwd = _median_time(lambda: run_torch(True), args.repeats)
        if max_diff is None:
            params, tgt, w = torch_inputs(model, target, weight, False)
            with torch.no_grad():
                _, traj = torch_loss(*params, tgt, w, N_FRAMES)
            max_diff = (b, float(np.abs(traj.numpy() - (target - 0.05)).max()))
        rows.append((b, ti_fwd, ti_bwd, th_fwd, th_bwd))

    print()
    if fit_times:
        print(f"fit_observation per video ({len(fit_times)} scenes, 128 frames, {args.threads} thread(s)): "
              f"mean {statistics.mean(fit_times):.2f} s, median {statistics.median(fit_times):.2f} s, "
              f"max {max(fit_times):.2f} s wall; CPU mean {statistics.mean(fit_cpu):.2f} s, "
              f"median {statistics.median(fit_cpu):.2f} s, max {max(fit_cpu):.2f} s")
    print(f"\nrollouts per second, {N_OBJECTS} objects x {N_FRAMES} frames x {SUBSTEPS} substeps, float32, "
          f"discs (cylinders) only, {args.threads} thread(s)")
    head = (f"{'B':>4} | {'taichi fwd':>11} {'taichi f+b':>11} | {'torch fwd':>10} {'torch f+b':>10} | "
            f"{'speed-up fwd':>12} {'speed-up f+b':>12}")
    print(head)
    print("-" * len(head))
    for b, tf, tb, hf, hb in rows:
        print(f"{b:>4} | {b / tf:>11.1f} {b / tb:>11.1f} | {b / hf:>10.2f} {b / hb:>10.2f} | "
              f"{hf / tf:>11.1f}x {hb / tb:>11.1f}x")
    if max_diff is not None:
        print(f"(largest position difference torch vs taichi at B={max_diff[0]}: {max_diff[1]:.2e} units)")
    summary = []
    if fit_times:
        summary.append(f"fit {statistics.mean(fit_times):.2f} s/video mean wall, {statistics.mean(fit_cpu):.2f} s CPU")
    if rows:
        b, tf, tb, hf, hb = rows[-1]
        summary.append(f"B={b}: taichi {b / tf:.1f} fwd / {b / tb:.1f} f+b rollouts/s, torch {b / hf:.2f} / "
                       f"{b / hb:.2f}, taichi {hf / tf:.1f}x / {hb / tb:.1f}x faster")
    print("\nsummary: " + "; ".join(summary))


if __name__ == "__main__":
    main()
