"""`physreason parse` and `physreason ask`, run as subprocesses, including bad input."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import cli_run
import pytest
from cli_run import assert_clean_error
from test_reasoning_executor import build_scene

from physreason.datasets import files
from physreason.reasoning.questions import parse_choice, parse_question

run = partial(cli_run.run, timeout=60)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("scene")
    observation, future, counterfactuals = build_scene()
    paths = {name: str(folder / f"{name}_00005.json") for name in ("annotation", "future", "counterfactual")}
    files.write_annotation(paths["annotation"], observation)
    files.write_world(paths["future"], future)
    files.write_counterfactuals(paths["counterfactual"], counterfactuals)
    return paths


# ---------------------------------------------------------------- parse
def test_parse_question_nested_and_postfix() -> None:
    text = "How many metal objects are moving when the video ends?"
    nested = run("parse", "--question", text)
    assert nested.returncode == 0
    assert nested.stdout == "count(filter_moving(filter_material(objects(), metal), get_frame(end())))\n"
    postfix = run("parse", "--question", text, "--postfix")
    assert postfix.stdout.split() == parse_question(text)
    mc = run("parse", "--question", "What will happen next?")
    assert mc.stdout == "belong_to(?, unseen_events())\n"
    choice = run("parse", "--choice", "the presence of the red cube", "--postfix")
    assert choice.stdout == "objects red filter_color cube filter_shape unique\n"


def _question_file(first_question: str) -> list[dict]:
    return [{"scene_index": 5, "video_filename": "video_00005.mp4", "questions": [
        {"question_id": 0, "question": first_question, "question_type": "descriptive",
         "question_subtype": "count", "program": ["objects", "count"], "answer": "1"},
        {"question_id": 1, "question": "What will happen next?", "question_type": "predictive", "choices": [
            {"choice_id": 0, "choice": "The red cube collides with the yellow sphere", "answer": "wrong"}]}]}]


@pytest.mark.parametrize("keyed", [False, True])
def test_parse_file_rewrites_programs(tmp_path: Path, keyed: bool) -> None:
    data: list | dict = _question_file("How many objects exit the scene?")
    if keyed:
        data = {"5": {k: val for k, val in data[0].items() if k != "scene_index"}}
    src, out = tmp_path / "questions.json", tmp_path / "out" / "parsed.json"
    src.write_text(json.dumps(data))
    result = run("parse", str(src), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "2 questions and 1 choices parsed" in result.stdout
    written = json.loads(out.read_text())
    entry = written["5"] if keyed else written[0]
    assert isinstance(written, dict) == keyed
    assert entry["questions"][0]["program"] == parse_question("How many objects exit the scene?")
    assert entry["questions"][0]["answer"] == "1" and entry["questions"][0]["question_subtype"] == "count"
    assert entry["questions"][1]["program"] == ["unseen_events", "belong_to"]
    choice = entry["questions"][1]["choices"][0]
    assert choice["program"] == parse_choice("The red cube collides with the yellow sphere")
    assert choice["answer"] == "wrong"


def test_parse_file_bad_question_writes_nothing(tmp_path: Path) -> None:
    src, out = tmp_path / "questions.json", tmp_path / "parsed.json"
    src.write_text(json.dumps(_question_file("How many purple elephants are there?")))
    result = run("parse", str(src), "--out", str(out))
    assert_clean_error(result, "'elephants'", "scene 5 question 0", str(src))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary file left either


@pytest.mark.parametrize("args", [
    ("parse",),
    ("parse", "--question", "What will happen next?", "--choice", "the presence of the red cube"),
    ("parse", "questions.json"),
    ("parse", "--question", "What will happen next?", "--out", "x.json"),
    ("parse", "missing.json", "--out", "x.json"),
    ("parse", "--question", "How many cube are there?"),
    ("parse", "--choice", "the absence of the cube"),
])
def test_parse_bad_input(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert_clean_error(run(*args, cwd=tmp_path))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- ask
def test_ask_descriptive(scene: dict[str, str]) -> None:
    question = "How many objects are moving when the video ends?"
    result = run("ask", scene["annotation"], "--question", question)
    assert (result.returncode, result.stdout) == (0, "1\n")
    slow = run("ask", scene["annotation"], "--question", question, "--moving-speed", "0.005")
    assert slow.stdout == "2\n"
    traced = run("ask", scene["annotation"], "--question", question, "--trace")
    lines = traced.stdout.splitlines()
    assert lines[-1] == "answer: 1"
    assert "end() -> end @ frame 125" in lines[1]
    assert any("filter_moving(" in line and "-> [red metal cube #0]" in line for line in lines)


def test_ask_multiple_choice(scene: dict[str, str]) -> None:
    result = run("ask", scene["annotation"], "--question",
                 "Which of the following is responsible for the collision between the red cube and the green cylinder?",
                 "--choice", "the presence of the blue sphere", "--choice", "the blue sphere's exit")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "correct  the presence of the blue sphere\nwrong    the blue sphere's exit\n"
    predictive = run("ask", scene["annotation"], "--future", scene["future"], "--question", "What will happen next?",
                     "--choice", "The green cylinder and the yellow sphere collide", "--trace")
    assert predictive.stdout.startswith("choice: The green cylinder and the yellow sphere collide\n")
    assert "unseen_events() -> [collision(green rubber cylinder #2, yellow metal sphere #3) @ frame 140" \
        in predictive.stdout
    assert predictive.stdout.endswith("correct  The green cylinder and the yellow sphere collide\n")
    counterfactual = run("ask", scene["annotation"], "--counterfactual", scene["counterfactual"],
                         "--question", "If the red cube is removed, what will not happen?",
                         "--choice", "The blue sphere and the green cylinder collide",
                         "--choice", "The blue sphere collides with the yellow sphere")
    assert counterfactual.stdout.splitlines() == ["wrong    The blue sphere and the green cylinder collide",
                                                  "correct  The blue sphere collides with the yellow sphere"]


def test_ask_bad_input(scene: dict[str, str], tmp_path: Path) -> None:
    annotation = scene["annotation"]
    assert_clean_error(run("ask", annotation, "--question", "What will happen next?",
                           "--choice", "The red cube and the yellow sphere collide"), "unseen_events", "future")
    assert_clean_error(run("ask", annotation, "--question", "What color is the sphere?"), "'unique'", "got 2")
    assert_clean_error(run("ask", annotation, "--question", "How many purple elephants are there?"), "'elephants'")
    assert_clean_error(run("ask", annotation, "--question", "What will happen next?"), "--choice")
    assert_clean_error(run("ask", annotation, "--question", "How many cubes are there?", "--choice",
                           "the presence of the red cube"), "descriptive")
    assert_clean_error(run("ask", str(tmp_path / "nope.json"), "--question", "How many cubes are there?"),
                       "nope.json", "file not found")
    assert_clean_error(run("ask", annotation, "--future", scene["counterfactual"], "--question",
                           "What will happen next?", "--choice", "The red cube and the yellow sphere collide"),
                       "counterfactual_00005.json", "world")
