"""``physreason demo``, ``answer``, ``eval`` and ``export``: the engine end to end."""

from __future__ import annotations

import argparse
from pathlib import Path

from physreason.cli.physics import PRIORS_HELP
from physreason.errors import ConfigError
from physreason.execution import add_backend_arguments


def add_concepts_argument(parser: argparse.ArgumentParser) -> None:
    """``--concepts``: which model names the perceived objects' color, material and shape."""
    parser.add_argument("--concepts", default="supervised", metavar="supervised|learned|FILE.pt",
                        help="attribute words from the supervised attribute net (default), from the shipped "
                             "concepts learned from questions and answers ('learned'), or from a file made by "
                             "'physreason train concepts'")


def add_strict_argument(parser: argparse.ArgumentParser) -> None:
    """``--strict``: leave questions whose program cannot run unanswered (no soft fallback)."""
    parser.add_argument("--strict", action="store_true",
                        help="leave a question of a question file whose program cannot run on the objects' words "
                             "unanswered, instead of answering it with the soft executor on the objects' concept "
                             "probabilities (a single --question always fails with the reason)")


def concepts_option(args: argparse.Namespace) -> str | None:
    """The ``concepts`` argument of the engine for ``--concepts`` (None: the supervised net)."""
    return None if args.concepts == "supervised" else args.concepts


def _print_answer(result, trace: bool, truth: str | dict | None = None) -> None:
    """One question's answer(s), right/wrong against ``truth`` when known, and its trace."""
    if result.answer is not None:
        mark = "" if truth is None else ("  [right]" if truth == result.answer else f"  [wrong: expected {truth}]")
        print(f"  answer: {result.answer}{mark}")
    for c in result.choices:
        expected = None if truth is None else truth.get(c.choice)  # type: ignore[union-attr]
        mark = "" if expected is None else ("  [right]" if expected == c.answer else f"  [wrong: expected {expected}]")
        print(f"  {c.answer:<8} {c.choice}{mark}")
    if trace:
        print("  " + result.trace().replace("\n", "\n  "))


def _cmd_answer(args: argparse.Namespace) -> int:
    from physreason.datasets import files
    from physreason.pipeline.engine import Engine

    if (args.question is None) == (args.questions is None):
        raise ConfigError("give --question TEXT (with --choice for multiple-choice questions) or --questions FILE.json")
    if args.choice and args.question is None:
        raise ConfigError("--choice goes with --question")
    source = Path(args.source)
    if not source.exists():
        raise ConfigError(f"{source}: file not found")
    engine = Engine(weights=args.weights, concepts=concepts_option(args), soft_fallback=not args.strict,
                    priors=args.priors)
    if args.question is not None:
        from physreason.reasoning.questions import read_question

        read_question(args.question)  # a question outside the language fails before any work
        for text in args.choice:
            from physreason.reasoning.questions import parse_choice_tree

            parse_choice_tree(text)
        engine.load(source)
        result = engine.answer(args.question, args.choice)
        if result.answer is not None and not args.trace:
            print(result.answer)
        else:
            _print_answer(result, args.trace)
    else:
        from physreason.datasets.questions import read_questions, write_submission

        qfile = read_questions(args.questions)
        engine.load(source)
        scene = engine.observation.scene_index  # type: ignore[union-attr]
        videos = [v for v in qfile.videos if v.scene_index == scene] or (
            list(qfile.videos) if len(qfile.videos) == 1 else [])
        if not videos:
            raise ConfigError(f"{args.questions}: no questions for scene {scene}")
        video = videos[0]
        errors: list[str] = []
        then = " (answered by the soft executor)" if engine.soft_fallback else ""
        answers = engine.answer_video(video, on_error=lambda q, exc: errors.append(
            f"question {q.question_id if q is not None else '-'}: {exc}{then if q is not None else ''}"))
        by_id = {a.question_id: a for a in answers.answers}
        right = total = 0
        for q in video.questions:
            a = by_id.get(q.question_id)
            print(f"[{q.question_id}] ({q.question_type}) {q.question}")
            if a is None:
                print("  (no answer: the program could not run)")
                total += 1
                continue
            if a.answer is not None:
                ok = None if q.answer is None else q.answer == a.answer
                print(f"  answer: {a.answer}" + ("" if ok is None else "  [right]" if ok else f"  [wrong: expected {q.answer}]"))
            else:
                predicted = dict(a.choices or ())
                ok = None if any(c.answer is None for c in q.choices or ()) else all(
                    predicted.get(c.choice_id) == c.answer for c in q.choices or ())
                for c in q.choices or ():
                    mark = "" if c.answer is None else "  [right]" if predicted.get(c.choice_id) == c.answer \
                        else f"  [wrong: expected {c.answer}]"
                    print(f"  {predicted.get(c.choice_id, '?'):<8} {c.choice}{mark}")
            if ok is not None:
                total += 1
                right += ok
        for e in errors:
            print(f"note: {e}")
        if total:
            print(f"{right}/{total} questions right")
        if args.out:
            write_submission(args.out, (answers,))
            print(f"answers written to {args.out}")
    if args.world_out:
        worlds = engine.fit()
        files.write_world(args.world_out, worlds.future)  # type: ignore[arg-type]
        print(f"predicted world written to {args.world_out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from physreason.execution import backend_from_args
    from physreason.pipeline.evaluate import EvalConfig, evaluate_dataset

    config = EvalConfig(Path(args.data_dir), mode=args.mode, split=args.split,
                        questions=Path(args.questions) if args.questions else None, workers=args.workers or 1,
                        limit=args.limit, weights=args.weights, concepts=concepts_option(args),
                        soft_fallback=not args.strict, priors=args.priors)
    if not config.root.is_dir():
        raise ConfigError(f"{config.root}: directory not found")
    with backend_from_args(args) as backend:
        report = evaluate_dataset(config, out=Path(args.out), quiet=args.quiet, backend=backend)
    print(report.table())
    print(f"answers (CLEVRER submission) written to {report.paths['submission']}, "
          f"report to {report.paths['report']}")
    failed = [r for r in report.results if r.get("error")]
    return 1 if failed and len(failed) == len(report.results) else 0


def _cmd_export(args: argparse.Namespace) -> int:
    from physreason.pipeline.export import export_scene

    info = export_scene(args.world, args.frame, args.out)
    print(info)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from physreason.pipeline.demo import run_demo

    return run_demo(Path(args.out), seed=args.seed, index=args.index, mode=args.mode, trace=not args.no_trace,
                    priors=args.priors)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``physreason`` parser."""
    demo = sub.add_parser("demo", help="the whole engine on a built-in sample video (generated, no download)")
    demo.add_argument("--out", default="out/demo", help="folder for the sample, annotated video and plot")
    demo.add_argument("--seed", type=int, default=None, help="generator seed of the sample (default: the built-in one)")
    demo.add_argument("--index", type=int, default=None, help="video index of the sample (default: the built-in one)")
    demo.add_argument("--mode", choices=("auto", "perception", "oracle"), default="auto",
                      help="observe with perception (auto: when installed) or from the ground-truth annotation")
    demo.add_argument("--no-trace", action="store_true", help="do not print the program traces")
    demo.add_argument("--priors", default=None, help=PRIORS_HELP)
    demo.set_defaults(func=_cmd_demo)

    answer = sub.add_parser("answer", help="answer questions about a video (or an annotation JSON: oracle mode)")
    answer.add_argument("source", metavar="VIDEO", help="video (mp4 or frame folder), or annotation_XXXXX.json")
    answer.add_argument("--question", help="a question in words")
    answer.add_argument("--choice", action="append", default=[], help="a multiple-choice option (repeatable)")
    answer.add_argument("--questions", help="a CLEVRER question file: answer (and score) the video's questions")
    answer.add_argument("--out", help="with --questions: write the answers as a CLEVRER submission")
    answer.add_argument("--world-out", help="also write the predicted world (observed + future) as WORLD.json")
    answer.add_argument("--trace", action="store_true", help="print the program trace")
    answer.add_argument("--weights", help="perception weights (default: the shipped ones)")
    add_concepts_argument(answer)
    add_strict_argument(answer)
    answer.add_argument("--priors", default=None, help=PRIORS_HELP)
    answer.set_defaults(func=_cmd_answer)

    ev = sub.add_parser("eval", help="answer and score every video of a CLEVRER-layout folder")
    ev.add_argument("data_dir", metavar="DATA_DIR", help="dataset folder (ours or the real CLEVRER)")
    ev.add_argument("--split", default="validation", help="question split for CLEVRER's questions/<split>.json")
    ev.add_argument("--questions", help="question file (default: found under DATA_DIR)")
    ev.add_argument("--mode", choices=("oracle", "perception"), default="perception",
                    help="oracle: ground-truth annotations replace perception (physics is still fitted)")
    ev.add_argument("--limit", type=int, help="only the first N videos")
    ev.add_argument("--weights", help="perception weights (default: the shipped ones)")
    add_concepts_argument(ev)
    add_strict_argument(ev)
    ev.add_argument("--priors", default=None, help=PRIORS_HELP)
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument("--out", required=True, help="RESULTS.json (CLEVRER submission); the report and per-video "
                                                 "results go beside it (RESULTS.report.json, RESULTS.videos/)")
    add_backend_arguments(ev)
    ev.set_defaults(func=_cmd_eval)

    export = sub.add_parser("export", help="the 3D scene of a world or annotation at a frame, as glTF (.glb)")
    export.add_argument("world", metavar="WORLD.json", help="a world (physreason answer --world-out) or annotation")
    export.add_argument("--frame", type=int, required=True, help="frame to export")
    export.add_argument("--out", required=True, help="output .glb (or .gltf/.obj/.ply: by extension)")
    export.set_defaults(func=_cmd_export)
