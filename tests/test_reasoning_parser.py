"""The question parser: exact programs on real CLEVRER questions, the wider language, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from physreason.errors import ParseError
from physreason.reasoning.program import mc_program, to_nested
from physreason.reasoning.questions import parse_choice, parse_question, read_question
from physreason.reasoning.typecheck import check
from realdata import REAL_QUESTIONS


def real_questions() -> list[dict]:
    assert REAL_QUESTIONS.exists(), f"{REAL_QUESTIONS} is missing (shared/ must sit beside the repository)"
    return [q for video in json.loads(REAL_QUESTIONS.read_text()).values() for q in video["questions"]]


# ---------------------------------------------------------------- real CLEVRER questions


def test_every_real_question_gives_its_ground_truth_program() -> None:
    questions = real_questions()
    wrong = [q["question"] for q in questions if parse_question(q["question"]) != q["program"]]
    assert len(questions) == 564 and wrong == []
    assert {read_question(q["question"]).question_type for q in questions} == {"explanatory"}


def test_every_real_choice_gives_its_ground_truth_program() -> None:
    choices = [c for q in real_questions() for c in q["choices"]]
    wrong = [c["choice"] for c in choices if parse_choice(c["choice"]) != c["program"]]
    assert len(choices) == 2256 and wrong == []


def test_parsed_options_run_as_one_stack() -> None:
    question = parse_question("Which of the following is not responsible for the yellow sphere's exit?")
    for choice in ("the presence of the metal cube", "the green sphere's entrance"):
        assert check(mc_program(parse_choice(choice), question)) == "bool"


# ---------------------------------------------------------------- reference examples (§2.3)

REFERENCE = [
    (
        "How many metal objects are moving when the video ends?",
        "objects metal filter_material end get_frame filter_moving count",
    ),
    (
        "What shape is the second object to collide with the green object?",
        "events objects green filter_color unique filter_collision second filter_order "
        "objects green filter_color unique get_col_partner query_shape",
    ),
    (
        "Are there any stationary spheres when the metal sphere enters the scene?",
        "objects sphere filter_shape events objects metal filter_material sphere filter_shape unique "
        "filter_in unique get_frame filter_stationary exist",
    ),
    ("What will happen next?", "unseen_events belong_to"),
    ("Which event will happen next?", "unseen_events belong_to"),
    (
        "Which event will happen if the rubber sphere is removed?",
        "all_events objects rubber filter_material sphere filter_shape unique get_counterfact belong_to",
    ),
    (
        "If the rubber sphere is removed, what will not happen?",
        "all_events objects rubber filter_material sphere filter_shape unique get_counterfact belong_to negate",
    ),
    (
        "Which of the following is not responsible for the metal sphere's colliding with the rubber sphere?",
        "events events objects metal filter_material sphere filter_shape unique filter_collision objects rubber "
        "filter_material sphere filter_shape unique filter_collision unique filter_ancestor belong_to negate",
    ),
]


@pytest.mark.parametrize(("text", "program"), REFERENCE)
def test_reference_examples(text: str, program: str) -> None:
    assert parse_question(text) == program.split()


@pytest.mark.parametrize(
    ("text", "program"),
    [
        (
            "The metal sphere and the cylinder collide",
            "all_events objects metal filter_material sphere filter_shape unique filter_collision "
            "objects cylinder filter_shape unique filter_collision unique",
        ),
        (
            "The cube collides with the metal sphere.",
            "all_events objects cube filter_shape unique filter_collision objects metal filter_material "
            "sphere filter_shape unique filter_collision unique",
        ),
        ("the red object's exit", "events objects red filter_color unique filter_out unique"),
        ("the cube's exiting the scene", "events objects cube filter_shape unique filter_out unique"),
    ],
)
def test_choice_sentences(text: str, program: str) -> None:
    assert parse_choice(text) == program.split()


# ---------------------------------------------------------------- the descriptive language

DESCRIPTIVE = [
    ("How many objects enter the scene?", "count", "count(filter_in(events(), objects()))"),
    (
        "How many collisions happen after the cube enters the scene?",
        "count",
        "count(filter_after(filter_collision(events(), objects()), "
        "unique(filter_in(events(), unique(filter_shape(objects(), cube))))))",
    ),
    ("How many cubes are there?", "count", "count(filter_shape(objects(), cube))"),
    (
        "How many objects are stationary when the video begins?",
        "count",
        "count(filter_stationary(objects(), get_frame(start())))",
    ),
    (
        "How many spheres collide with the cube?",
        "count",
        "count(filter_collision(filter_collision(events(), filter_shape(objects(), sphere)), "
        "unique(filter_shape(objects(), cube))))",
    ),
    (
        "Is there a moving red object?",
        "exist",
        "exist(filter_moving(filter_color(objects(), red), null))",
    ),
    (
        "Are there any metal objects that are moving when the video ends?",
        "exist",
        "exist(filter_moving(filter_material(objects(), metal), get_frame(end())))",
    ),
    (
        "Are there any collisions that happen before the red sphere exits the scene?",
        "exist",
        "exist(filter_before(filter_collision(events(), objects()), "
        "unique(filter_out(events(), unique(filter_shape(filter_color(objects(), red), sphere))))))",
    ),
    (
        "Is there a cylinder that exits the scene?",
        "exist",
        "exist(filter_out(events(), filter_shape(objects(), cylinder)))",
    ),
    (
        "What color is the object that enters the scene?",
        "query_color",
        "query_color(get_object(unique(filter_in(events(), objects()))))",
    ),
    (
        "What is the material of the first object to enter the scene?",
        "query_material",
        "query_material(get_object(filter_order(filter_in(events(), objects()), first)))",
    ),
    (
        "What is the shape of the object that is stationary when the video ends?",
        "query_shape",
        "query_shape(unique(filter_stationary(objects(), get_frame(end()))))",
    ),
    (
        "What color is the moving cube when the sphere and the cylinder collide?",
        "query_color",
        "query_color(unique(filter_moving(filter_shape(objects(), cube), get_frame(unique(filter_collision("
        "filter_collision(events(), unique(filter_shape(objects(), sphere))), "
        "unique(filter_shape(objects(), cylinder))))))))",
    ),
    (
        "What material is the object that collides with the cyan cylinder?",
        "query_material",
        "query_material(get_col_partner(unique(filter_collision(events(), "
        "unique(filter_shape(filter_color(objects(), cyan), cylinder)))), "
        "unique(filter_shape(filter_color(objects(), cyan), cylinder))))",
    ),
]


@pytest.mark.parametrize(("text", "subtype", "nested"), DESCRIPTIVE)
def test_descriptive_questions(text: str, subtype: str, nested: str) -> None:
    parsed = read_question(text)
    assert (parsed.question_type, parsed.subtype) == ("descriptive", subtype)
    assert to_nested(parsed.tree) == nested


@pytest.mark.parametrize(
    "text",
    [
        "what will happen next",
        "WHAT WILL HAPPEN NEXT?",
        "What will happen next.",
        "  What   will happen next ?",
    ],
)
def test_case_spacing_and_final_punctuation_are_tolerated(text: str) -> None:
    assert parse_question(text) == ["unseen_events", "belong_to"]


def test_question_types_are_inferred() -> None:
    assert read_question("Without the cube, which of the following will happen?").question_type == "counterfactual"
    assert read_question("Which event will happen next?").question_type == "predictive"
    assert read_question("Which of the following is responsible for the cube's exit?").subtype is None


# ---------------------------------------------------------------- rejection


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("How many purple elephants are there?", "unknown word 'elephants' at word 4 (character 17)"),
        ("How many cube are there?", "unexpected word 'cube' at word 3 (character 10)"),
        ("How many cubes are there when the video ends?", "unexpected word 'when' at word 6"),
        ("What is the color of the cube's", "unexpected word 'cube's' at word 7"),
        ("What will happen next? Now", "unknown word 'next?' at word 4"),
        ("What will happen", "ends too early after 'happen'"),
        ("Which of the following is responsible for the cube?", "ends too early after 'cube'"),
        ("redcube", "unknown word 'redcube' at word 1"),
        ("the cube collides with the sphere", "unexpected word 'the' at word 1"),
        ("What shape is the metal green cube?", "unexpected word 'green' at word 6"),
        ("", "empty question"),
    ],
)
def test_questions_outside_the_language_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_question(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("What will happen next?", "unexpected word 'What' at word 1"),
        ("the presence of the cubes", "unexpected word 'cubes' at word 5"),
        ("the cube's entering", "choice ends too early"),
    ],
)
def test_choices_outside_the_language_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_choice(text)
