"""CLEVRER's accuracy metrics, as VRDP reports them (reference notes §1.6).

- descriptive: exact-match accuracy (its per-question accuracy);
- explanatory, predictive, counterfactual: per-option accuracy (share of options answered
  right) and per-question accuracy (every option of the question right);
- overall per task: the unweighted mean of the four per-question accuracies;
- overall per question: the per-question accuracies weighted by each type's question count,
  i.e. questions answered right over all questions.

A question or option with no prediction counts as wrong (and is tallied as missing). Types
without questions are left out of the overall means. Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from physreason.datasets.questions import QUESTION_TYPES, Answer, Question, VideoAnswers, VideoQuestions
from physreason.errors import ConfigError


@dataclass(frozen=True)
class Tally:
    """Counts of one question type; options stay 0 for descriptive questions."""

    questions: int = 0
    questions_correct: int = 0
    options: int = 0
    options_correct: int = 0
    missing: int = 0

    @property
    def per_question(self) -> float | None:
        """Share of questions answered right (None without questions)."""
        return self.questions_correct / self.questions if self.questions else None

    @property
    def per_option(self) -> float | None:
        """Share of options answered right (None without options)."""
        return self.options_correct / self.options if self.options else None

    def add(self, correct: bool, options: int = 0, options_correct: int = 0, missing: bool = False) -> Tally:
        """This tally plus one question."""
        return Tally(self.questions + 1, self.questions_correct + correct, self.options + options,
                     self.options_correct + options_correct, self.missing + missing)

    def to_json(self) -> dict:
        return {"questions": self.questions, "questions_correct": self.questions_correct,
                "options": self.options, "options_correct": self.options_correct, "missing": self.missing,
                "per_option": self.per_option, "per_question": self.per_question}


@dataclass(frozen=True)
class Metrics:
    """One tally per question type, in CLEVRER's order."""

    tallies: tuple[tuple[str, Tally], ...]

    def tally(self, question_type: str) -> Tally:
        return dict(self.tallies)[question_type]

    @property
    def overall_per_task(self) -> float | None:
        """Unweighted mean of the per-question accuracies of the types that have questions."""
        scores = [t.per_question for _, t in self.tallies if t.per_question is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def overall_per_question(self) -> float | None:
        """Per-question accuracies weighted by question counts: right answers over all questions."""
        total = sum(t.questions for _, t in self.tallies)
        return sum(t.questions_correct for _, t in self.tallies) / total if total else None

    def to_json(self) -> dict:
        """The results JSON: per-type counts and accuracies, and both overall accuracies."""
        return {**{name: t.to_json() for name, t in self.tallies},
                "overall_per_task": self.overall_per_task, "overall_per_question": self.overall_per_question}


def _score(question: Question, answer: Answer | None, where: str) -> tuple[bool, int, int]:
    """(question right, options, options right) of one question."""
    if not question.is_multiple_choice:
        if question.answer is None:
            raise ConfigError(f"{where} has no ground-truth answer")
        return answer is not None and answer.answer == question.answer, 0, 0
    predicted = dict(answer.choices or ()) if answer is not None else {}
    right = 0
    for choice in question.choices or ():
        if choice.answer is None:
            raise ConfigError(f"{where} choice {choice.choice_id} has no ground-truth answer")
        right += predicted.get(choice.choice_id) == choice.answer
    n = len(question.choices or ())
    return right == n, n, right


def evaluate(questions: Iterable[VideoQuestions], answers: Iterable[VideoAnswers]) -> Metrics:
    """Score predicted answers against questions that carry ground-truth answers.

    Predictions for questions absent from ``questions`` are ignored; missing ones count wrong.
    """
    predicted = {(va.scene_index, a.question_id): a for va in answers for a in va.answers}
    tallies = {name: Tally() for name in QUESTION_TYPES}
    for video in questions:
        for q in video.questions:
            answer = predicted.get((video.scene_index, q.question_id))
            where = f"scene {video.scene_index} question {q.question_id}"
            correct, options, options_correct = _score(q, answer, where)
            tallies[q.question_type] = tallies[q.question_type].add(correct, options, options_correct, answer is None)
    return Metrics(tuple(tallies.items()))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def format_table(metrics: Metrics) -> str:
    """CLEVRER's table: one row per question type (percentages), the overall accuracies, and the
    one-line summary in the papers' column order."""
    lines = [f"{'type':<16}{'questions':>10}{'options':>9}{'missing':>9}{'per option':>12}{'per question':>14}"]
    for name, t in metrics.tallies:
        options = str(t.options) if name != "descriptive" else "-"
        lines.append(f"{name:<16}{t.questions:>10}{options:>9}{t.missing:>9}"
                     f"{_pct(t.per_option):>12}{_pct(t.per_question):>14}")
    lines.append(f"{'overall per task':<56}{_pct(metrics.overall_per_task):>14}")
    lines.append(f"{'overall per question':<56}{_pct(metrics.overall_per_question):>14}")
    cells = [_pct(metrics.tally("descriptive").per_question)]
    cells += [f"{_pct(metrics.tally(n).per_option)}/{_pct(metrics.tally(n).per_question)}" for n in QUESTION_TYPES[1:]]
    cells += [_pct(metrics.overall_per_task), _pct(metrics.overall_per_question)]
    lines.append("desc | expl opt/q | pred opt/q | cf opt/q | overall task | overall q: " + " | ".join(cells))
    return "\n".join(lines)
