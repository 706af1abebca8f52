"""The engine as a Python object: video (or annotation) in, answers out.

>>> from physreason import Engine
>>> engine = Engine().observe("video_00000.mp4")          # perception   (or .from_annotation(path))
>>> engine.answer("How many collisions happen?").answer
'2'
>>> result = engine.answer("What will happen next?", ["The cube and the red sphere collide"])
>>> result.choices[0].answer, print(result.trace())
>>> engine.evaluate("data/heldout", mode="oracle").metrics

Stages run lazily: descriptive and explanatory questions need only the observation; the first
predictive or counterfactual question (or :meth:`Engine.fit`) fits the physics and simulates the
future and the counterfactual worlds, once per video. Timings of every stage are kept in
:attr:`Engine.timings` (seconds).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from physreason.datasets.records import Observation
from physreason.datasets.vocab import N_FUTURE_FRAMES
from physreason.errors import ConfigError, PhysreasonError

MODES: tuple[str, ...] = ("oracle", "perception")
"""Where observations come from: ground-truth annotations (``oracle``) or the video (``perception``)."""

SIMULATED_TYPES: tuple[str, ...] = ("predictive", "counterfactual")
"""Question types answered on simulated worlds (they need the physics fit)."""


def perceive(video: str | os.PathLike[str], scene_index: int = 0, weights: str | None = None,
             concepts: str | None = None) -> Observation:
    """The Observation perception makes of a video (file or frame folder); ``concepts``: a
    learned-concepts file (or ``"learned"``) naming the objects' attributes, see
    :func:`physreason.perception.perceive.perceive_video`."""
    path = Path(video)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        from physreason.perception.perceive import perceive_video
    except ImportError as exc:
        raise ConfigError(f"perception is not available in this installation ({exc}); "
                          "give an annotation_XXXXX.json instead (oracle mode)") from None
    return perceive_video(path, scene_index=scene_index, weights=weights, concepts=concepts)


def load_observation(source: str | os.PathLike[str], scene_index: int | None = None,
                     weights: str | None = None, concepts: str | None = None) -> Observation:
    """An observation from an annotation JSON (ground truth) or a video (perception)."""
    from physreason.datasets import files

    path = Path(source)
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    if path.suffix.lower() == ".json":
        return files.read_annotation(path)
    return perceive(path, scene_index if scene_index is not None else _index_from_name(path), weights, concepts)


def _index_from_name(path: Path) -> int:
    """The video index in a CLEVRER-style name (``video_00042.mp4`` -> 42), else 0."""
    digits = path.stem.rpartition("_")[2]
    return int(digits) if digits.isdigit() else 0


@dataclass(frozen=True)
class ChoiceResult:
    """One option: its text, 'correct' or 'wrong', and the execution (trace) that decided it."""

    choice: str
    answer: str
    execution: object

    def trace(self) -> str:
        from physreason.reasoning.executor import format_trace

        return format_trace(self.execution)  # type: ignore[arg-type]


@dataclass(frozen=True)
class QuestionResult:
    """The answer to one question: ``answer`` for a descriptive one, ``choices`` for the others."""

    question: str
    question_type: str
    answer: str | None = None
    choices: tuple[ChoiceResult, ...] = ()
    execution: object | None = None

    def trace(self) -> str:
        """The program trace(s), one block per option for multiple-choice questions."""
        from physreason.reasoning.executor import format_trace

        if self.execution is not None:
            return format_trace(self.execution)  # type: ignore[arg-type]
        return "\n\n".join(f"choice: {c.choice}\n{c.trace()}" for c in self.choices)

    def text(self) -> str:
        """The answer as one line (descriptive) or one line per option."""
        if self.answer is not None:
            return self.answer
        return "\n".join(f"{c.answer:<8} {c.choice}" for c in self.choices)


@dataclass
class Engine:
    """Perception → physics → reasoning for one video at a time (see the module docstring).

    ``weights``: perception weights (default: the shipped ones); ``concepts``: a learned-concepts
    file, or ``"learned"`` for the shipped one, naming color, material and shape in place of the
    supervised attribute net (None: the net); ``n_future``: frames simulated past the video for
    predictive questions; ``soft_fallback``: in :meth:`answer_video`, a question whose program
    cannot run on the objects' words (say it asks for the one red sphere and none was seen) is
    answered by the soft executor on the objects' concept probabilities (the learned concepts'
    own, one-hot words otherwise) instead of being left unanswered; ``priors``: the physics fit's
    per-material priors, None for the shipped ones, ``"flat"`` for none, or a file made by
    ``physreason train priors`` (read when the engine is made: a bad file fails at once)."""

    weights: str | None = None
    n_future: int = N_FUTURE_FRAMES
    concepts: str | None = None
    soft_fallback: bool = True
    priors: str | None = None
    observation: Observation | None = field(default=None, init=False)
    worlds: Any = field(default=None, init=False)  # pipeline.worlds.Worlds once fitted
    timings: dict[str, float] = field(default_factory=dict, init=False)
    _reasoning: dict = field(default_factory=dict, init=False, repr=False)
    _fit_config: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        from physreason.physics.fit import FitConfig
        from physreason.physics.priors import priors_from_option

        self._fit_config = FitConfig(priors=priors_from_option(self.priors))

    # ------------------------------------------------------------------ input
    def observe(self, video: str | os.PathLike[str], scene_index: int | None = None) -> Engine:
        """Watch a video (mp4 or frame folder) with perception; returns the engine."""
        path = Path(video)
        t0 = time.perf_counter()
        obs = perceive(path, scene_index if scene_index is not None else _index_from_name(path), self.weights,
                       self.concepts)
        return self._set(obs, perception=time.perf_counter() - t0)

    def from_annotation(self, path: str | os.PathLike[str]) -> Engine:
        """Take a ground-truth annotation (annotation_XXXXX.json) as the observation (oracle mode)."""
        from physreason.datasets import files

        t0 = time.perf_counter()
        obs = files.read_annotation(path)
        return self._set(obs, perception=time.perf_counter() - t0)

    def from_observation(self, observation: Observation) -> Engine:
        """Take an Observation record as it is."""
        return self._set(observation, perception=0.0)

    def load(self, source: str | os.PathLike[str]) -> Engine:
        """An annotation JSON (oracle) or a video (perception), by the file's extension."""
        path = Path(source)
        if path.suffix.lower() == ".json":
            return self.from_annotation(path)
        return self.observe(path)

    def _set(self, observation: Observation, **timings: float) -> Engine:
        self.observation, self.worlds, self._reasoning = observation, None, {}
        self.timings = dict(timings)
        return self

    def _need(self) -> Observation:
        if self.observation is None:
            raise ConfigError("no video yet: call observe(VIDEO) or from_annotation(PATH) first")
        return self.observation

    # ------------------------------------------------------------------ physics
    def fit(self):  # -> pipeline.worlds.Worlds
        """Fit the physics to the observation and simulate the future and counterfactuals (once)."""
        from physreason.pipeline.worlds import build_worlds

        obs = self._need()
        if self.worlds is None or self.worlds.fit is None:
            t0 = time.perf_counter()
            self.worlds = build_worlds(obs, n_future=self.n_future, config=self._fit_config)
            self.timings["physics"] = time.perf_counter() - t0
        return self.worlds

    def reasoning_world(self, simulated: bool = True):  # -> ReasoningWorld
        """The world programs run on; with ``simulated`` the physics is fitted first."""
        from physreason.pipeline.worlds import Worlds

        obs = self._need()
        if simulated:
            self.fit()
        if simulated not in self._reasoning:
            worlds = self.worlds if simulated else Worlds(obs)
            self._reasoning[simulated] = worlds.reasoning_world()  # type: ignore[union-attr]
        return self._reasoning[simulated]

    # ------------------------------------------------------------------ reasoning
    def answer(self, question: str, choices: Sequence[str] | None = None) -> QuestionResult:
        """Answer a question in words; multiple-choice questions take their options in ``choices``."""
        from physreason.reasoning.executor import run_question
        from physreason.reasoning.questions import parse_choice_tree, read_question

        parsed = read_question(question)
        choices = list(choices or ())
        t0 = time.perf_counter()
        world = self.reasoning_world(simulated=parsed.question_type in SIMULATED_TYPES)
        if parsed.question_type == "descriptive":
            if choices:
                raise ConfigError("a descriptive question takes no choices")
            result = run_question(parsed.tree, None, world)[0]
            out = QuestionResult(question, parsed.question_type, result.answer, execution=result)
        else:
            if not choices:
                raise ConfigError(f"a {parsed.question_type} question needs at least one choice")
            trees = [parse_choice_tree(text) for text in choices]
            results = tuple(ChoiceResult(text, r.answer, r)
                            for text, r in zip(choices, run_question(parsed.tree, trees, world)))
            out = QuestionResult(question, parsed.question_type, choices=results)
        self.timings["reasoning"] = self.timings.get("reasoning", 0.0) + time.perf_counter() - t0
        return out

    def answer_video(self, video, on_error=None):  # (VideoQuestions) -> VideoAnswers
        """Answer every question of a CLEVRER question record (programs from the file, else parsed).
        Physics is fitted only if a predictive or counterfactual question is there. A question
        whose program cannot run is given to ``on_error(question, exc)`` and, with
        ``soft_fallback``, answered by the soft executor (else left unanswered)."""
        from physreason.reasoning.executor import answer_video

        simulated = any(q.question_type in SIMULATED_TYPES for q in video.questions)
        world = None
        if simulated:
            try:
                world = self.reasoning_world(simulated=True)
            except PhysreasonError as exc:  # descriptive/explanatory still answered
                if on_error is None:
                    raise
                on_error(None, exc)
        plain = self.reasoning_world(simulated=False) if world is None else world
        t0 = time.perf_counter()
        probs = self._need().attribute_probs

        def soft(question, target):  # imports torch only when a program has failed
            from physreason.reasoning.soft_executor import ConceptWorld, soft_answer_question

            return soft_answer_question(question, ConceptWorld.from_probs(target, probs))

        answers = answer_video(video, lambda q: world if q.question_type in SIMULATED_TYPES else plain, on_error,
                               soft if self.soft_fallback else None)
        self.timings["reasoning"] = self.timings.get("reasoning", 0.0) + time.perf_counter() - t0
        return answers

    # ------------------------------------------------------------------ datasets
    def evaluate(self, data_dir: str | os.PathLike[str], *, mode: str = "perception", split: str = "validation",
                 questions: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
                 workers: int = 1, limit: int | None = None, quiet: bool = True):  # -> EvalReport
        """Run every video of a CLEVRER-layout folder and score the answers (see
        :func:`physreason.pipeline.evaluate.evaluate_dataset`); ``questions``: a question file
        (default: found in the folder); ``out``: where to write the submission and report."""
        from physreason.pipeline.evaluate import EvalConfig, evaluate_dataset

        config = EvalConfig(Path(data_dir), mode=mode, split=split, workers=workers, limit=limit,
                            questions=Path(questions) if questions is not None else None,
                            weights=self.weights, concepts=self.concepts, n_future=self.n_future,
                            soft_fallback=self.soft_fallback, priors=self.priors)
        return evaluate_dataset(config, out=Path(out) if out is not None else None, quiet=quiet)
