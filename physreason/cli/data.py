"""``physreason generate`` and ``physreason summary``: synthetic datasets and their summaries."""

from __future__ import annotations

import argparse
from pathlib import Path

from physreason.execution import add_backend_arguments


def _cmd_generate(args: argparse.Namespace) -> int:
    from physreason.datasets.generator.generate import GenerateConfig, generate_videos
    from physreason.datasets.vocab import COLORS
    from physreason.execution import backend_from_args, report_failures

    backend = backend_from_args(args)
    config = GenerateConfig(out=Path(args.out), n_videos=args.videos, seed=args.seed, n_frames=args.frames,
                            n_future=args.future, width=args.width, height=args.height, workers=backend.workers,
                            start=args.start, questions=not args.no_questions,
                            colors=tuple(args.colors) if args.colors else COLORS)
    with backend:
        results = generate_videos(config, backend, quiet=args.quiet)
    made = [r for r in results if r.ok and not r.value.skipped]
    skipped = [r for r in results if r.ok and r.value.skipped]
    failed = len(results) - len(made) - len(skipped)
    print(f"{len(made)} videos generated, {len(skipped)} already complete" + (f", {failed} failed" if failed else "")
          + f", in {args.out}")
    return report_failures(results, "video")


def _cmd_summary(args: argparse.Namespace) -> int:
    from physreason.datasets.summary import summarise

    print(summarise(args.dir, max_rows=args.rows))
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's commands to the ``physreason`` parser."""
    gen = sub.add_parser("generate", help="generate a synthetic CLEVRER-style dataset")
    gen.add_argument("--out", required=True, help="output directory (CLEVRER layout)")
    gen.add_argument("--videos", type=int, required=True, help="number of videos")
    gen.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same bytes)")
    gen.add_argument("--start", type=int, default=0, help="index of the first video")
    gen.add_argument("--frames", type=int, default=128, help="observed frames per video (25 fps)")
    gen.add_argument("--future", type=int, default=50, help="held-out future frames simulated after them")
    gen.add_argument("--width", type=int, default=480)
    gen.add_argument("--height", type=int, default=320)
    gen.add_argument("--no-questions", action="store_true",
                     help="skip the question files (per video and the combined questions.json)")
    gen.add_argument("--colors", nargs="+", default=None, metavar="COLOR",
                     help="the palette objects are drawn from (default all 8 of CLEVRER's); leaving a color out "
                          "makes data for learning it later from a few questions")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    add_backend_arguments(gen)
    gen.set_defaults(func=_cmd_generate)

    summ = sub.add_parser("summary", help="summarise the annotations of a dataset directory")
    summ.add_argument("dir", help="dataset directory (ours or a CLEVRER download)")
    summ.add_argument("--rows", type=int, default=10, help="per-video rows to print")
    summ.set_defaults(func=_cmd_summary)
