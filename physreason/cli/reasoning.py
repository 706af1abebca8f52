"""``physreason parse`` and ``physreason ask``: questions to programs, programs to answers."""

from __future__ import annotations

import argparse

from physreason.errors import ConfigError, ParseError


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
    from physreason.reasoning.executor import format_trace, run_question
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
        result = run_question(parsed.tree, None, world)[0]
        print(format_trace(result) if args.trace else result.answer)
        return 0
    if not args.choice:
        raise ConfigError(f"a {parsed.question_type} question needs at least one --choice")
    results = list(zip(args.choice, run_question(parsed.tree, [parse_choice_tree(t) for t in args.choice], world)))
    if args.trace:
        for text, result in results:
            print(f"choice: {text}\n{format_trace(result)}\n")
    for text, result in results:
        print(f"{result.answer:<8} {text}")
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``physreason`` parser."""
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
