"""``physreason perceive`` (video -> observation) and ``physreason train perception``."""

from __future__ import annotations

import argparse
from pathlib import Path

from physreason.cli.pipeline import add_concepts_argument, concepts_option


def _cmd_perceive(args: argparse.Namespace) -> int:
    import time

    from physreason.datasets import files
    from physreason.errors import ConfigError
    from physreason.perception.perceive import perceive_video

    if args.scene_index < 0:
        raise ConfigError(f"--scene-index must be >= 0, got {args.scene_index}")
    t0 = time.perf_counter()
    obs = perceive_video(args.video, scene_index=args.scene_index, weights=args.weights,
                         concepts=concepts_option(args))
    files.write_annotation(args.out, obs)
    n_in = sum(e.kind == "in" for e in obs.events)
    n_out = sum(e.kind == "out" for e in obs.events)
    n_col = sum(e.kind == "collision" for e in obs.events)
    for o in obs.objects:
        print(f"object {o.id}: {o.describe()}")
    print(f"{len(obs.objects)} objects, {n_col} collisions, {n_in} in / {n_out} out events in "
          f"{obs.n_frames} frames ({time.perf_counter() - t0:.1f} s); written to {args.out}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from physreason.errors import ConfigError
    from physreason.perception import train
    from physreason.perception.perceive import WEIGHTS_DIR

    if args.epochs < 1 or args.attribute_epochs < 1 or args.frame_step < 1:
        raise ConfigError("--epochs, --attribute-epochs and --frame-step must be >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    work = Path(args.work) if args.work else out / "work"
    indices = list(range(args.videos)) if args.videos else None
    if indices is not None:
        found = [i for i, _, _ in train.dataset_files(args.data)]
        indices = found[: args.videos]
    data = train.prepare(args.data, frame_step=args.frame_step, seed=args.seed, indices=indices, cache=work / "cache")
    print(f"{len(data.images)} frames, {len(data.crops)} object crops from {args.data}")
    if args.only in (None, "detector"):
        det = train.train_detector(data, work, epochs=args.epochs, batch=args.batch, lr=args.lr, width=args.width,
                                   seed=args.seed)
        train.export(out / "detector.pt", det, "detector", {"width": args.width})
        print(f"detector written to {out / 'detector.pt'}")
    if args.only in (None, "attributes"):
        if args.crop_masks == "gt+detector":
            detector = out / "detector.pt" if (out / "detector.pt").exists() else WEIGHTS_DIR / "detector.pt"
            extra = train.prepare(args.data, frame_step=args.frame_step, seed=args.seed, indices=indices,
                                  cache=work / "cache", detector=detector)
            print(f"{len(extra.crops)} more object crops cut with the masks of {detector}")
            data = train.concat_prepared([data, extra])
        for mode in args.attribute_modes:
            model = train.train_attributes(data, work, mode=mode, epochs=args.attribute_epochs, lr=args.attribute_lr,
                                           seed=args.seed)
            name = "attributes.pt" if mode == args.attribute_modes[0] else f"attributes_{mode}.pt"
            train.export(out / name, model, "attributes", model.config)
            print(f"attribute net ({mode}) written to {out / name}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``perceive`` to the ``physreason`` parser."""
    p = sub.add_parser("perceive", help="perceive a video: objects, tracks and events (CLEVRER annotation)")
    p.add_argument("video", help="video file (mp4) or folder of PNG frames")
    p.add_argument("--out", required=True, help="where to write the observation (annotation JSON)")
    p.add_argument("--weights", help="folder with detector.pt and attributes.pt (default: the shipped weights)")
    p.add_argument("--scene-index", type=int, default=0, help="scene index written in the annotation")
    add_concepts_argument(p)
    p.set_defaults(func=_cmd_perceive)


def register_train(train_sub: argparse._SubParsersAction) -> None:
    """Add ``perception`` to ``physreason train``."""
    weights_dir = Path(__file__).resolve().parents[1] / "perception" / "weights"  # no torch import here
    t = train_sub.add_parser("perception", help="train the detector and the attribute net on a generated dataset")
    t.add_argument("--data", required=True, help="generated dataset (videos/ and proposals/)")
    t.add_argument("--out", default=str(weights_dir), help="weight folder written (default: the package's)")
    t.add_argument("--work", help="checkpoints and data cache (default: OUT/work); a re-run resumes from them")
    t.add_argument("--videos", type=int, help="use the first N videos (default: all)")
    t.add_argument("--frame-step", type=int, default=8, help="use every N-th frame of each video")
    t.add_argument("--epochs", type=int, default=10, help="detector epochs")
    t.add_argument("--attribute-epochs", type=int, default=30, help="attribute-net epochs")
    t.add_argument("--attribute-modes", nargs="+", default=["clean"], choices=["clean", "fgsm", "advprop"],
                   help="attribute training modes; the first is shipped as attributes.pt, others as attributes_MODE.pt")
    t.add_argument("--crop-masks", choices=["gt", "gt+detector"], default="gt+detector",
                   help="masks that cut the attribute crops: ground truth only, or also the detector's own "
                        "(OUT/detector.pt if present, else the shipped one), matched to ground truth")
    t.add_argument("--only", choices=["detector", "attributes"], help="train only this model")
    t.add_argument("--batch", type=int, default=16, help="detector batch size")
    t.add_argument("--lr", type=float, default=3e-3, help="detector peak learning rate")
    t.add_argument("--width", type=int, default=12, help="detector width")
    t.add_argument("--attribute-lr", type=float, default=5e-3, help="attribute-net peak learning rate")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2, help="torch threads (0: torch's default)")
    t.set_defaults(func=_cmd_train)
