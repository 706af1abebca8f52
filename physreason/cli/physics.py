"""``physreason fit`` and ``physreason simulate``: physical parameters from tracks, counterfactual worlds."""

from __future__ import annotations

import argparse

from physreason.cli.objects import find_object
from physreason.errors import ConfigError


def _cmd_fit(args: argparse.Namespace) -> int:
    from physreason.datasets import files
    from physreason.physics.fit import fit_observation

    obs = files.read_annotation(args.annotation)
    result = fit_observation(obs)
    files.write_physics(args.out, result.params)
    for o, p, r in zip(obs.objects, result.params.objects, result.residuals):
        print(f"{o.describe():28s} mass {p.mass:6.3f}  restitution {p.restitution:5.3f}  "
              f"friction {p.friction:6.4f}  RMS error {r:.3f}")
    print(f"fit {result.quality}" + "".join(f"\n  {flag}" for flag in result.flags))
    print(f"written to {args.out}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from physreason.datasets import files
    from physreason.datasets.records import Change
    from physreason.datasets.vocab import N_FUTURE_FRAMES
    from physreason.physics.fit import fit_observation
    from physreason.physics.rollout import simulate_world

    if args.factor <= 0 or (args.frames is not None and args.frames < 0):
        raise ConfigError(f"need --factor > 0 and --frames >= 0, got {args.factor} and {args.frames}")
    obs = files.read_annotation(args.annotation)
    params = files.read_physics(args.params) if args.params else fit_observation(obs).params
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
    if removed is None and not changes:
        raise ConfigError("give --remove, --heavier, --lighter or --set")
    n_frames = obs.n_frames + (N_FUTURE_FRAMES if args.frames is None else args.frames)
    factual = simulate_world(obs.objects, params, n_frames, obs.camera)
    world = simulate_world(obs.objects, params, n_frames, obs.camera, removed, tuple(changes))
    files.write_world(args.out, world)
    before = {(e.objects, e.frame) for e in factual.observation.collisions}
    after = {(e.objects, e.frame) for e in world.observation.collisions}
    pairs_before, pairs_after = {p for p, _ in before}, {p for p, _ in after}
    name = {o.id: o.describe() for o in obs.objects}
    for pair in sorted(pairs_before | pairs_after):
        status = ("no longer happens" if pair not in pairs_after else "new" if pair not in pairs_before else None)
        if status:
            print(f"collision {name[pair[0]]} - {name[pair[1]]}: {status}")
    print(f"{len(pairs_before)} colliding pairs before, {len(pairs_after)} after; world written to {args.out}")
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``physreason`` parser."""
    fit = sub.add_parser("fit", help="fit physical parameters to an annotated video's tracks")
    fit.add_argument("annotation", help="annotation_XXXXX.json of the video")
    fit.add_argument("--out", required=True, help="where to write the fitted physics (PARAMS.json)")
    fit.set_defaults(func=_cmd_fit)

    sim = sub.add_parser("simulate", help="simulate a counterfactual world of an annotated video")
    sim.add_argument("annotation", help="annotation_XXXXX.json of the video")
    sim.add_argument("--params", help="fitted or ground-truth physics (default: fit the annotation first)")
    sim.add_argument("--remove", help="object to remove (an id or words, e.g. 'red cube')")
    sim.add_argument("--heavier", action="append", default=[], help="object made --factor times heavier")
    sim.add_argument("--lighter", action="append", default=[], help="object made --factor times lighter")
    sim.add_argument("--factor", type=float, default=5.0, help="mass factor of --heavier/--lighter")
    sim.add_argument("--set", action="append", default=[],
                     help="'OBJECT PARAMETER=VALUE' with PARAMETER mass, restitution or friction")
    sim.add_argument("--frames", type=int, help="frames past the video (default 50, 2 s)")
    sim.add_argument("--out", required=True, help="where to write the world (WORLD.json)")
    sim.set_defaults(func=_cmd_simulate)
