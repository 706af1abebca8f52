"""``physreason fit`` and ``physreason simulate``: physical parameters from tracks, counterfactual worlds."""

from __future__ import annotations

import argparse
from pathlib import Path

from physreason.cli.objects import find_object
from physreason.errors import ConfigError
from physreason.execution import add_backend_arguments

PRIORS_HELP = ("per-material priors of the fit: a file from 'physreason train priors', 'flat' for none "
               "(default: the shipped ones)")


def _fit_directory(args: argparse.Namespace, root: str, out: str, out_option: str, priors: str | None,
                   limit: int | None = None) -> tuple[dict[int, Path], list]:
    """Fit the annotations under ``root`` (the first ``limit``, default all), one task per video
    on the backend the arguments name, into ``out``'s physics files (videos fitted there are
    skipped); ``out_option`` names ``out`` in errors. Returns the fitted annotations' paths by
    video index, and the results."""
    from functools import partial

    from physreason.execution import backend_from_args, run_videos
    from physreason.execution.tasks import annotation_index, fit_video

    root_path, out_path = Path(root).resolve(), Path(out).resolve()
    if out_path == root_path:
        raise ConfigError(f"{out_option} {out}: give another directory (the fitted physics would replace "
                          f"{root_path}'s ground-truth physics files)")
    if out_path.is_file():
        raise ConfigError(f"{out_option} {out}: a directory is needed to fit a directory")
    found = annotation_index(str(root_path))
    indices = sorted(found)[:limit]
    if not indices:
        raise ConfigError(f"{root}: no annotation_NNNNN.json files found")
    with backend_from_args(args) as backend:
        results = run_videos(partial(fit_video, root=str(root_path), out=str(out_path), priors=priors), indices,
                             backend, desc="fit", quiet=args.quiet)
    return {i: found[i] for i in indices}, results


def _cmd_fit_dir(args: argparse.Namespace) -> int:
    """``physreason fit DIR --out OUTDIR``: every annotation of DIR, one task per video."""
    from physreason.execution import report_failures

    _, results = _fit_directory(args, args.annotation, args.out, "--out", args.priors)
    done = [r.value for r in results if r.ok and not r.value.skipped]
    skipped = sum(1 for r in results if r.ok and r.value.skipped)
    poor = sum(1 for s in done if s.quality != "good")
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(done)} videos fitted ({poor} poor), {skipped} already fitted"
          + (f", {failed} failed" if failed else "") + f"; physics files under {args.out}")
    return report_failures(results, "video")


def _cmd_train_priors(args: argparse.Namespace) -> int:
    """``physreason train priors --data DIR --out PRIORS.json``: fit every annotation of DIR with
    flat priors (into --work, resumable), then learn the per-material priors from the fits."""
    from physreason.datasets import files
    from physreason.datasets.layout import DatasetLayout
    from physreason.execution import report_failures
    from physreason.physics.priors import estimate_priors

    if args.videos is not None and args.videos < 1:
        raise ConfigError(f"--videos must be >= 1, got {args.videos}")
    work = args.work or f"{args.out}.fits"
    paths, results = _fit_directory(args, args.data, work, "--work", "flat", args.videos)
    failed = report_failures(results, "video")
    if failed:
        return failed
    layout = DatasetLayout(Path(work).resolve())
    fits = [(files.read_annotation(path), files.read_physics(layout.path("physics", i))) for i, path in paths.items()]
    priors = estimate_priors(fits)
    priors.write(args.out)
    for name, table in priors.to_json().items():
        if isinstance(table, dict):
            print(f"{name:17s} " + "  ".join(f"{m} {v:.4f}" for m, v in table.items()))
    print(f"priors from {len(fits)} fitted videos written to {args.out} (fits kept in {work})")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from physreason.datasets import files
    from physreason.physics.fit import FitConfig, fit_observation
    from physreason.physics.priors import priors_from_option

    priors = priors_from_option(args.priors)  # a bad file fails here, before any fitting
    if Path(args.annotation).is_dir():
        return _cmd_fit_dir(args)
    if getattr(args, "backend", "local") != "local" or getattr(args, "address", None):
        raise ConfigError("--backend and --address apply to a directory of annotations (physreason fit DIR)")
    obs = files.read_annotation(args.annotation)
    result = fit_observation(obs, FitConfig(priors=priors))
    files.write_physics(args.out, result.params)
    for o, p, r in zip(obs.objects, result.params.objects, result.residuals):
        print(f"{o.describe():28s} mass {p.mass:6.3f}  restitution {p.restitution:5.3f}  "
              f"friction {p.friction:6.4f}  RMS error {r:.3f}")
    print(f"fit {result.quality}" + "".join(f"\n  {flag}" for flag in result.flags))
    print(f"written to {args.out}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from physreason.datasets import files
    from physreason.datasets.records import Change
    from physreason.datasets.vocab import N_FUTURE_FRAMES
    from physreason.physics.fit import FitConfig, FitResult, fit_observation, observed_targets
    from physreason.physics.priors import priors_from_option
    from physreason.physics.predictions import write_predictions
    from physreason.physics.rollout import counterfactual_worlds, predict

    if args.factor <= 0 or (args.frames is not None and args.frames < 0):
        raise ConfigError(f"need --factor > 0 and --frames >= 0, got {args.factor} and {args.frames}")
    if not args.out and not args.predictions:
        raise ConfigError("give --out WORLD.json (with --remove, --heavier, --lighter or --set) or --predictions FILE")
    obs = files.read_annotation(args.annotation)
    if args.params:
        params = files.read_physics(args.params)
        observed = observed_targets(obs)[1].sum(axis=0) >= 2
        fit = FitResult(params, np.full(len(obs.objects), np.nan), observed, "good", ())
    else:
        fit = fit_observation(obs, FitConfig(priors=priors_from_option(args.priors)))
        params = fit.params
    by_id = {p.object_id: p for p in params.objects}
    removed = find_object(obs.objects, args.remove) if args.remove else None
    changes = []
    for text, factor in [(t, args.factor) for t in args.heavier] + [(t, 1.0 / args.factor) for t in args.lighter]:
        k = find_object(obs.objects, text)
        changes.append(Change(k, "mass", by_id[k].mass * factor))
    for spec in args.set:
        target, _, assignment = spec.rpartition(" ")
        name, eq, value = assignment.partition("=")
        if not target or not eq:
            raise ConfigError(f"--set '{spec}': expected 'OBJECT PARAMETER=VALUE', e.g. 'red cube mass=2.0'")
        try:
            changes.append(Change(find_object(obs.objects, target), name, float(value)))
        except ValueError:
            raise ConfigError(f"--set '{spec}': '{value}' is not a number") from None
    n_future = N_FUTURE_FRAMES if args.frames is None else args.frames
    n_frames = obs.n_frames + n_future
    if args.out:
        if removed is None and not changes:
            raise ConfigError("give --remove, --heavier, --lighter or --set")
        factual, world = counterfactual_worlds(obs, fit, [(None, ()), (removed, tuple(changes))], n_frames)
        files.write_world(args.out, world)
        pairs_before = {e.objects for e in factual.observation.collisions}
        pairs_after = {e.objects for e in world.observation.collisions}
        name = {o.id: o.describe() for o in obs.objects}
        for pair in sorted(pairs_before | pairs_after):
            status = ("no longer happens" if pair not in pairs_after else "new" if pair not in pairs_before else None)
            if status:
                print(f"collision {name[pair[0]]} - {name[pair[1]]}: {status}")
        print(f"{len(pairs_before)} colliding pairs before, {len(pairs_after)} after; world written to {args.out}")
    if args.predictions:
        worlds = [predict(obs, fit, n_future)] + counterfactual_worlds(
            obs, fit, [(k, ()) for k in range(len(obs.objects))], n_frames)
        write_predictions(args.predictions, obs.scene_index, obs.objects, worlds)
        print(f"predictions (factual and {len(obs.objects)} counterfactual worlds, {n_frames} frames) "
              f"written to {args.predictions}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``physreason`` parser."""
    fit = sub.add_parser("fit", help="fit physical parameters to an annotated video's tracks (or a directory's)")
    fit.add_argument("annotation", help="annotation_XXXXX.json of the video, or a dataset directory (every "
                                        "annotation in it, one task per video)")
    fit.add_argument("--out", required=True, help="where to write the fitted physics: PARAMS.json for one video; "
                                                  "for a directory, an output directory (physics/ in CLEVRER layout; "
                                                  "videos already fitted there are skipped)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar (directory mode)")
    fit.add_argument("--priors", default=None, help=PRIORS_HELP)
    add_backend_arguments(fit)
    fit.set_defaults(func=_cmd_fit)

    sim = sub.add_parser("simulate", help="simulate a counterfactual world of an annotated video")
    sim.add_argument("annotation", help="annotation_XXXXX.json of the video")
    sim.add_argument("--params", help="fitted or ground-truth physics (default: fit the annotation first)")
    sim.add_argument("--priors", default=None, help=PRIORS_HELP + " (when fitting)")
    sim.add_argument("--remove", help="object to remove (an id or words, e.g. 'red cube')")
    sim.add_argument("--heavier", action="append", default=[], help="object made --factor times heavier")
    sim.add_argument("--lighter", action="append", default=[], help="object made --factor times lighter")
    sim.add_argument("--factor", type=float, default=5.0, help="mass factor of --heavier/--lighter")
    sim.add_argument("--set", action="append", default=[],
                     help="'OBJECT PARAMETER=VALUE' with PARAMETER mass, restitution or friction")
    sim.add_argument("--frames", type=int, help="frames past the video (default 50, 2 s)")
    sim.add_argument("--out", help="where to write the world (WORLD.json)")
    sim.add_argument("--predictions", help="also write the factual prediction and every object-removed world "
                                           "in VRDP / NS-DR's predictions layout (sim_XXXXX.json)")
    sim.set_defaults(func=_cmd_simulate)


def register_train(train_sub: argparse._SubParsersAction) -> None:
    """Add ``physreason train priors``."""
    p = train_sub.add_parser("priors", help="learn per-material priors of mass, restitution and friction from "
                                            "fits of a dataset's annotated tracks")
    p.add_argument("--data", required=True, help="dataset folder with annotations (e.g. data/train)")
    p.add_argument("--out", required=True, help="priors file to write (JSON)")
    p.add_argument("--videos", type=int, default=None, help="use the first N videos (default all)")
    p.add_argument("--work", default=None, help="where the fits go (default OUT.fits; videos fitted there are reused)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_backend_arguments(p)
    p.set_defaults(func=_cmd_train_priors)
