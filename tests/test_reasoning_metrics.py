"""CLEVRER/VRDP metrics on a hand-made example whose numbers are worked out by hand."""

from __future__ import annotations

import json

import pytest

from physreason.datasets.questions import Answer, Choice, Question, VideoAnswers, VideoQuestions
from physreason.errors import ConfigError
from physreason.reasoning.metrics import Metrics, Tally, evaluate, format_table


def _mc(qid: int, qtype: str, truth: str) -> Question:
    """A multiple-choice question whose option k has ground truth truth[k] ('c' or 'w')."""
    return Question(qid, "?", qtype, choices=tuple(
        Choice(k, "?", answer="correct" if t == "c" else "wrong") for k, t in enumerate(truth)))


def _pred(qid: int, answers: str) -> Answer:
    return Answer(qid, choices=tuple((k, "correct" if a == "c" else "wrong") for k, a in enumerate(answers)))


QUESTIONS = (
    VideoQuestions(0, (
        Question(0, "?", "descriptive", answer="2"),
        Question(1, "?", "descriptive", answer="yes"),
        _mc(2, "explanatory", "cwcw"),
        _mc(3, "explanatory", "ccw"),
        _mc(4, "predictive", "cw"))),
    VideoQuestions(1, (
        Question(0, "?", "descriptive", answer="red"),
        _mc(1, "counterfactual", "wcwc"),
        _mc(2, "counterfactual", "cw"),
        _mc(3, "predictive", "wc"))),
)

ANSWERS = (
    VideoAnswers(0, (Answer(0, "2"), Answer(1, "no"), _pred(2, "cwcw"), _pred(3, "cww"), _pred(4, "cc"),
                     Answer(9, "ignored"))),
    VideoAnswers(1, (_pred(1, "wcwc"), Answer(2, choices=((0, "correct"),)), _pred(3, "wc"))),  # q0 missing
)


def test_hand_made_example() -> None:
    m = evaluate(QUESTIONS, ANSWERS)
    # descriptive: 1 of 3 right ("2"); "yes" answered "no"; "red" missing
    assert m.tally("descriptive") == Tally(3, 1, 0, 0, 1)
    # explanatory: options 4/4 + 2/3 = 6/7; questions 1/2
    assert m.tally("explanatory") == Tally(2, 1, 7, 6, 0)
    # predictive: options 1/2 + 2/2 = 3/4; questions 1/2
    assert m.tally("predictive") == Tally(2, 1, 4, 3, 0)
    # counterfactual: options 4/4 + 1/2 (choice 1 not predicted) = 5/6; questions 1/2
    assert m.tally("counterfactual") == Tally(2, 1, 6, 5, 0)
    assert m.tally("descriptive").per_question == pytest.approx(1 / 3)
    assert m.tally("descriptive").per_option is None
    assert m.tally("explanatory").per_option == pytest.approx(6 / 7)
    assert m.tally("counterfactual").per_option == pytest.approx(5 / 6)
    # per task: (1/3 + 1/2 + 1/2 + 1/2) / 4; per question: 4 right of 9
    assert m.overall_per_task == pytest.approx((1 / 3 + 1.5) / 4)
    assert m.overall_per_question == pytest.approx(4 / 9)


def test_table_and_json() -> None:
    m = evaluate(QUESTIONS, ANSWERS)
    table = format_table(m)
    assert "33.3" in table and "85.7" in table and "75.0" in table and "83.3" in table
    assert table.splitlines()[-1] == ("desc | expl opt/q | pred opt/q | cf opt/q | overall task | overall q: "
                                      "33.3 | 85.7/50.0 | 75.0/50.0 | 83.3/50.0 | 45.8 | 44.4")
    data = json.loads(json.dumps(m.to_json()))
    assert data["explanatory"]["options_correct"] == 6 and data["descriptive"]["missing"] == 1
    assert data["overall_per_question"] == pytest.approx(4 / 9)
    assert set(data) == {"descriptive", "explanatory", "predictive", "counterfactual",
                         "overall_per_task", "overall_per_question"}


def test_types_without_questions_are_left_out() -> None:
    m = evaluate(QUESTIONS[:1], ANSWERS)  # video 0 has no counterfactual question
    only_desc = evaluate((VideoQuestions(0, QUESTIONS[0].questions[:2]),), ANSWERS)
    assert only_desc.overall_per_task == pytest.approx(0.5)
    assert only_desc.tally("counterfactual").per_question is None
    assert "-" in format_table(only_desc)
    assert m.tally("counterfactual").questions == 0
    empty = evaluate((), ())
    assert empty.overall_per_task is None and empty.overall_per_question is None


def test_vrdp_published_overall_numbers() -> None:
    """VRDP's test-split counts (reference §1.6) and per-question accuracies give its overall columns."""
    counts = {"descriptive": 54990, "explanatory": 8488, "predictive": 3557, "counterfactual": 9333}
    accuracy = {"descriptive": 0.898, "explanatory": 0.824, "predictive": 0.838, "counterfactual": 0.757}
    m = Metrics(tuple((t, Tally(n, round(n * accuracy[t]))) for t, n in counts.items()))
    assert round(100 * m.overall_per_task, 1) == 82.9  # type: ignore[operator]
    assert abs(100 * m.overall_per_question - 86.9) < 0.1  # type: ignore[operator]


def test_questions_without_ground_truth_are_rejected() -> None:
    with pytest.raises(ConfigError, match="scene 3 question 0 has no ground-truth"):
        evaluate((VideoQuestions(3, (Question(0, "?", "descriptive"),)),), ())
    unlabelled = Question(1, "?", "predictive", choices=(Choice(0, "?"),))
    with pytest.raises(ConfigError, match="scene 3 question 1 choice 0"):
        evaluate((VideoQuestions(3, (unlabelled,)),), ())
