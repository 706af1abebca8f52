"""``physreason train concepts``: learn color/material/shape concepts from question-answer pairs.

No attribute label is read for training: the object backbone learns from track identity and
the answer loss, the concepts from the answers of descriptive questions run through the soft
executor. ``--add WORD --init MODEL`` learns one new concept from a few questions instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from physreason.errors import ConfigError


def _log(text: str) -> None:
    print(text, flush=True)


def _cmd_train_concepts(args: argparse.Namespace) -> int:
    import torch

    from physreason.concepts import recipe as rc
    from physreason.concepts.model import LearnedConcepts
    from physreason.concepts.training import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    if not Path(args.data).is_dir():
        raise ConfigError(f"--data {args.data}: no such folder")
    if min(args.epochs, args.shots, args.batch) < 1 or args.pretrain_steps < 0 or args.videos is not None and args.videos < 1:
        raise ConfigError("need --epochs, --shots, --batch, --videos >= 1 and --pretrain-steps >= 0")
    cache = args.cache or f"{args.out}.crops.npz"
    t0 = time.perf_counter()
    baseline = ()
    baseline_cache = None
    if args.add:
        if not args.init:
            raise ConfigError("--add needs --init MODEL (the concepts to extend)")
        model = LearnedConcepts.load(args.init)
        rc.add_concept(model, args.data, args.add, args.attribute, args.shots, args.first, args.videos, cache,
                       log=_log)
    else:
        recipe = rc.Recipe(pretrain_steps=args.pretrain_steps, end_to_end=not args.frozen_backbone,
                           train=TrainConfig(epochs=args.epochs, batch=args.batch, seed=args.seed,
                                             skip=tuple(args.skip)))
        model, baseline, baseline_cache = rc.learn(args.data, recipe, args.first, args.videos, cache, log=_log)
    model.save(args.out, meta={"command": "physreason train " + " ".join(sys.argv[2:])})
    print(f"learned concepts written to {args.out} ({time.perf_counter() - t0:.0f} s): "
          + "; ".join(f"{a}: {' '.join(w)}" for a, w in model.space.vocab.items()))
    if args.eval:
        eval_cache = args.eval_cache or f"{args.out}.eval-crops.npz"
        about = (args.add,) if args.add else ()
        scores = rc.score(model, args.eval, args.eval_first, args.eval_videos, eval_cache, about,
                          baseline, baseline_cache, log=_log)
        for name, s in scores.items():
            print(f"[{name}] " + "\n  ".join(s.lines()))
    return 0


def register_train(train_sub: argparse._SubParsersAction) -> None:
    p = train_sub.add_parser("concepts", help="learn attribute concepts from questions and answers (no labels)",
                             description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset folder (videos, proposals, annotations, questions)")
    p.add_argument("--out", required=True, help="learned concepts file to write (.pt)")
    p.add_argument("--first", type=int, default=0, help="first video index to use (default 0)")
    p.add_argument("--videos", type=int, default=None, help="number of videos to use (default all)")
    p.add_argument("--cache", default=None, help="crop cache file (default OUT.crops.npz)")
    p.add_argument("--pretrain-steps", type=int, default=300, help="identity-pretraining steps (default 300)")
    p.add_argument("--epochs", type=int, default=30, help="question-answer epochs (default 30)")
    p.add_argument("--batch", type=int, default=8, help="videos per step (default 8)")
    p.add_argument("--frozen-backbone", action="store_true", help="train only the concepts on fixed features")
    p.add_argument("--skip", nargs="*", default=[], metavar="WORD",
                   help="concept words left out (no concept; questions using them are not trained on)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--add", default=None, metavar="WORD", help="learn this new concept from a few questions")
    p.add_argument("--attribute", default="color", choices=("color", "material", "shape"),
                   help="attribute of the --add concept (default color)")
    p.add_argument("--shots", type=int, default=5, help="questions to learn --add from (default 5)")
    p.add_argument("--init", default=None, help="learned concepts to extend with --add")
    p.add_argument("--eval", default=None, metavar="DIR", help="score on this dataset's videos afterwards")
    p.add_argument("--eval-first", type=int, default=0)
    p.add_argument("--eval-videos", type=int, default=None)
    p.add_argument("--eval-cache", default=None, help="crop cache of the --eval videos (default OUT.eval-crops.npz)")
    p.set_defaults(func=_cmd_train_concepts)
