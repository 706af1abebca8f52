"""Benchmark the question parser, the program spellings and the executor.

Parsing runs on the real CLEVRER questions; execution runs the generated questions of a few
simulated scenes (no rendering) on their ground-truth worlds.

Usage: python scripts/bench_reasoning.py [train-orig-small.json] [--seconds S] [--scenes N]
Prints a table (items per second for each operation) and ends with one summary line.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from physreason.datasets.camera import CLEVRER_CAMERA
from physreason.datasets.generator.generate import counterfactuals, observation_from_rollout
from physreason.datasets.generator.questions import generate_questions
from physreason.datasets.generator.scene import SceneConfig, sample_scene
from physreason.datasets.questions import Question
from physreason.datasets.records import World
from physreason.reasoning.executor import answer_question
from physreason.reasoning.program import from_nested, from_postfix, to_nested, to_postfix
from physreason.reasoning.questions import parse_choice, parse_question
from physreason.reasoning.world import ReasoningWorld

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "clevrer_real" / "train-orig-small.json"


def rate(items: Sequence[object], work: Callable[[object], object], seconds: float) -> tuple[int, float]:
    """Apply ``work`` to every item, repeatedly for at least ``seconds``; return (calls, calls/s)."""
    for item in items:  # warm up (builds the parsers)
        work(item)
    calls = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for item in items:
            work(item)
        calls += len(items)
    return calls, calls / elapsed


def round_trip(program: list[str]) -> list[str]:
    """Postfix to tree to nested text and all the way back."""
    return to_postfix(from_nested(to_nested(from_postfix(program))))


def generated_questions(n_scenes: int) -> list[tuple[Question, ReasoningWorld]]:
    """The generated questions of ``n_scenes`` simulated scenes, each with its ground-truth world."""
    config = SceneConfig()
    out = []
    for index in range(n_scenes):
        scene = sample_scene(index, seed=0, config=config)
        obs = observation_from_rollout(index, scene, scene.rollout, CLEVRER_CAMERA, config.n_observed)
        future = World(observation_from_rollout(index, scene, scene.rollout, CLEVRER_CAMERA, config.n_frames))
        cfs = counterfactuals(index, scene, CLEVRER_CAMERA, config.n_frames)
        world = ReasoningWorld.from_records(obs, future, cfs)
        out.extend((q, world) for q in generate_questions(obs, future, cfs, seed=0).questions)
    return out


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per row")
    parser.add_argument("--scenes", type=int, default=5, help="simulated scenes whose questions are executed")
    args = parser.parse_args()

    questions = [q for video in json.loads(args.data.read_text()).values() for q in video["questions"]]
    question_texts = [q["question"] for q in questions]
    choice_texts = [c["choice"] for q in questions for c in q["choices"]]
    choice_programs = [c["program"] for q in questions for c in q["choices"]]
    trees = [from_postfix(p) for p in choice_programs]
    nested = [to_nested(t) for t in trees]

    rows = [
        ("parse_question (real questions)", question_texts, parse_question),
        ("parse_choice (real choices)", choice_texts, parse_choice),
        ("postfix -> tree", choice_programs, from_postfix),
        ("tree -> postfix", trees, to_postfix),
        ("tree -> nested", trees, to_nested),
        ("nested -> tree", nested, from_nested),
        ("postfix -> nested -> postfix", choice_programs, round_trip),
        ("execute (generated questions)", generated_questions(args.scenes),
         lambda item: answer_question(*item)),
    ]
    print(f"{'operation':34} {'items':>7} {'calls':>9} {'per second':>12}")
    results = {}
    for name, items, work in rows:
        calls, per_second = rate(items, work, args.seconds)  # type: ignore[arg-type]
        results[name] = per_second
        print(f"{name:34} {len(items):7d} {calls:9d} {per_second:12,.0f}")
    sentences = len(question_texts) + len(choice_texts)
    parse_time = (
        len(question_texts) / results["parse_question (real questions)"]
        + len(choice_texts) / results["parse_choice (real choices)"]
    )
    print(
        f"summary: {sentences / parse_time:,.0f} real questions+choices parsed/s; "
        f"{results['postfix -> nested -> postfix']:,.0f} postfix->nested->postfix round trips/s; "
        f"{results['execute (generated questions)']:,.0f} generated questions answered/s"
    )


if __name__ == "__main__":
    main()
