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
