"""The ``physreason`` command.

Each module of this package adds its commands through ``register(sub)`` (and, for
``physreason train WHAT``, ``register_train(train_sub)``); modules are found automatically, so
a new command is a new module. Every user error (bad file, bad option, bad video) is printed as
one line on stderr and exits with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from physreason.errors import PhysreasonError


def _command_modules() -> list:
    """The modules of this package that define commands, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    modules = [importlib.import_module(f"{__name__}.{name}") for name in names]
    return [m for m in modules if hasattr(m, "register") or hasattr(m, "register_train")]


def build_parser() -> argparse.ArgumentParser:
    """The full ``physreason`` argument parser."""
    parser = argparse.ArgumentParser(prog="physreason", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = _command_modules()
    for module in modules:
        if hasattr(module, "register"):
            module.register(sub)
    trainers = [m for m in modules if hasattr(m, "register_train")]
    if trainers:
        train = sub.add_parser("train", help="train a model (see physreason train -h)")
        train_sub = train.add_subparsers(dest="what", required=True)
        for module in trainers:
            module.register_train(train_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhysreasonError as exc:
        print(f"physreason: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("physreason: interrupted", file=sys.stderr)
        return 130
