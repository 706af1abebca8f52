"""The ``physreason`` command.

Every user error (bad file, bad option, bad video) is printed as one line on stderr and exits
with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from physreason.errors import ConfigError, ParseError, PhysreasonError


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from physreason.datasets.generator.generate import GenerateConfig, generate_dataset

    config = GenerateConfig(out=Path(args.out), n_videos=args.videos, seed=args.seed, n_frames=args.frames,
                            n_future=args.future, width=args.width, height=args.height, workers=args.workers,
                            start=args.start, questions=not args.no_questions)
    with tqdm(total=config.n_videos, unit="video", disable=args.quiet, desc="generate") as bar:
        summaries = generate_dataset(config, on_done=lambda s: bar.update(1))
    made = [s for s in summaries if not s.skipped]
    print(f"{len(made)} videos generated, {len(summaries) - len(made)} already complete, in {args.out}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from physreason.datasets.summary import summarise

    print(summarise(args.dir, max_rows=args.rows))
    return 0


def _reparse(path: str, out: str) -> str:
    """Rewrite every question's and choice's program of a question file from its text."""
    from dataclasses import replace

    from physreason.datasets.questions import QuestionFile, VideoQuestions, read_questions, write_questions
    from physreason.reasoning.questions import parse_choice, parse_question

    qfile = read_questions(path)
    videos = []
    n_questions = n_choices = 0
    for video in qfile.videos:
        questions = []
        for q in video.questions:
            try:
                choices = None if q.choices is None else tuple(
                    replace(c, program=tuple(parse_choice(c.choice))) for c in q.choices)
                questions.append(replace(q, program=tuple(parse_question(q.question)), choices=choices))
            except ParseError as exc:
                raise ParseError(f"{path}: scene {video.scene_index} question {q.question_id}: {exc}") from None
            n_questions += 1
            n_choices += len(choices or ())
        videos.append(VideoQuestions(video.scene_index, tuple(questions), video.video_filename))
    write_questions(out, QuestionFile(tuple(videos), qfile.keyed))
    return f"{n_questions} questions and {n_choices} choices parsed, written to {out}"


def _cmd_parse(args: argparse.Namespace) -> int:
    from physreason.reasoning.program import to_nested, to_postfix
    from physreason.reasoning.questions import parse_choice_tree, read_question

    if sum(x is not None for x in (args.file, args.question, args.choice)) != 1:
        raise ConfigError("give exactly one of FILE, --question or --choice")
    if args.file is not None:
        if args.out is None:
            raise ConfigError("parse FILE needs --out")
        print(_reparse(args.file, args.out))
        return 0
    if args.out is not None:
        raise ConfigError("--out goes with a question FILE")
    tree = read_question(args.question).tree if args.question is not None else parse_choice_tree(args.choice)
    print(" ".join(to_postfix(tree)) if args.postfix else to_nested(tree))
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from physreason.datasets import files
    from physreason.reasoning.executor import execute, execute_choice, format_trace
    from physreason.reasoning.questions import parse_choice_tree, read_question
    from physreason.reasoning.world import MOVING_SPEED, ReasoningWorld

    future = files.read_world(args.future) if args.future else None
    counterfactuals = files.read_counterfactuals(args.counterfactual) if args.counterfactual else None
    world = ReasoningWorld.from_records(files.read_annotation(args.annotation), future, counterfactuals,
                                       moving_speed=MOVING_SPEED if args.moving_speed is None else args.moving_speed)
    parsed = read_question(args.question)
    if parsed.question_type == "descriptive":
        if args.choice:
            raise ConfigError("a descriptive question takes no --choice")
        result = execute(parsed.tree, world)
        print(format_trace(result) if args.trace else result.answer)
        return 0
    if not args.choice:
        raise ConfigError(f"a {parsed.question_type} question needs at least one --choice")
    results = [(text, execute_choice(parsed.tree, parse_choice_tree(text), world)) for text in args.choice]
    if args.trace:
        for text, result in results:
            print(f"choice: {text}\n{format_trace(result)}\n")
    for text, result in results:
        print(f"{result.answer:<8} {text}")
    return 0


def _find_object(objects: tuple, text: str) -> int:
    """The id of the one object an id or words such as "red cube" / "metal sphere" describe."""
    if text.strip().isdigit():
        k = int(text)
        if k >= len(objects):
            raise ConfigError(f"no object {k}: the video has objects 0..{len(objects) - 1}")
        return k
    words = text.lower().split()
    if not words:
        raise ConfigError("empty object description")
    hits = [o.id for o in objects if all(w in (o.color, o.material, o.shape) for w in words)]
    if len(hits) != 1:
        found = "no object" if not hits else f"{len(hits)} objects ({', '.join(objects[i].describe() for i in hits)})"
        raise ConfigError(f"'{text}' must describe exactly one object; found {found}")
    return hits[0]


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
    removed = _find_object(obs.objects, args.remove) if args.remove else None
    changes = []
    for text, factor in [(t, args.factor) for t in args.heavier] + [(t, 1.0 / args.factor) for t in args.lighter]:
        k = _find_object(obs.objects, text)
        changes.append(Change(k, "mass", by_id[k].mass * factor))
    for spec in args.set:
        target, _, assignment = spec.rpartition(" ")
        name, eq, value = assignment.partition("=")
        if not target or not eq:
            raise ConfigError(f"--set '{spec}': expected 'OBJECT PARAMETER=VALUE', e.g. 'red cube mass=2.0'")
        try:
            changes.append(Change(_find_object(obs.objects, target), name, float(value)))
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physreason", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a synthetic CLEVRER-style dataset")
    gen.add_argument("--out", required=True, help="output directory (CLEVRER layout)")
    gen.add_argument("--videos", type=int, required=True, help="number of videos")
    gen.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same bytes)")
    gen.add_argument("--start", type=int, default=0, help="index of the first video")
    gen.add_argument("--frames", type=int, default=128, help="observed frames per video (25 fps)")
    gen.add_argument("--future", type=int, default=50, help="held-out future frames simulated after them")
    gen.add_argument("--width", type=int, default=480)
    gen.add_argument("--height", type=int, default=320)
    gen.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    gen.add_argument("--no-questions", action="store_true",
                     help="skip the question files (per video and the combined questions.json)")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)

    summ = sub.add_parser("summary", help="summarise the annotations of a dataset directory")
    summ.add_argument("dir", help="dataset directory (ours or a CLEVRER download)")
    summ.add_argument("--rows", type=int, default=10, help="per-video rows to print")
    summ.set_defaults(func=_cmd_summary)

    parse = sub.add_parser("parse", help="parse questions into programs")
    parse.add_argument("file", nargs="?", help="question file whose programs to rewrite from the texts")
    parse.add_argument("--out", help="where to write the rewritten question file")
    parse.add_argument("--question", help="a question to parse and print")
    parse.add_argument("--choice", help="a multiple-choice option to parse and print")
    parse.add_argument("--postfix", action="store_true", help="print postfix tokens, not the nested form")
    parse.set_defaults(func=_cmd_parse)

    ask = sub.add_parser("ask", help="answer a question about an annotated video")
    ask.add_argument("annotation", help="annotation_XXXXX.json of the video")
    ask.add_argument("--question", required=True, help="the question text")
    ask.add_argument("--choice", action="append", default=[], help="a multiple-choice option (repeatable)")
    ask.add_argument("--future", help="future_XXXXX.json: the factual world past the video (predictive)")
    ask.add_argument("--counterfactual", help="counterfactual_XXXXX.json: outcomes without each object")
    ask.add_argument("--moving-speed", type=float,
                     help="moving threshold on planar speed, units/s (default: reasoning.world.MOVING_SPEED, 0.02)")
    ask.add_argument("--trace", action="store_true", help="print every step of the program")
    ask.set_defaults(func=_cmd_ask)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhysreasonError as exc:
        print(f"physreason: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("physreason: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
