"""The executor, world and causal graph on a hand-built scene whose answers are known by hand.

The scene (128 observed frames, 50 future frames):

- #0 red metal cube: 1.0 u/s until frame 40, at rest 40-59, 0.8 u/s from 60; always in view
  (leaves at frame 150, in the future).
- #1 blue rubber sphere: at rest until 40, then 1.5 u/s; leaves the view at frame 100.
- #2 green rubber cylinder: 1.0 u/s until 60, then 0.01 u/s (below the threshold); enters at 20.
- #3 yellow metal sphere: at rest (2e-4 u/s jitter), always in view.

Observed events: in(#2)@20, collision(#0,#1)@40, collision(#0,#2)@60, out(#1)@100.
Future: collision(#2,#3)@140, out(#0)@150.
Counterfactuals: without #0 (#1,#2)@50 and (#2,#3)@90; without #1 (#0,#2)@60 and (#0,#3)@130;
without #2 (#0,#1)@40; without #3 (#0,#1)@40, (#0,#2)@60, out(#1)@100.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from physreason.datasets.questions import Choice, Question, VideoQuestions
from physreason.datasets.records import (Counterfactuals, CounterfactualOutcome, Event, ObjectInfo, Observation,
                                         Track, World)
from physreason.errors import ConfigError, ParseError, PhysreasonError
from physreason.reasoning.causal import ancestors, ancestors_in, causal_graph
from physreason.reasoning.executor import (ExecutionError, answer_question, answer_video, execute, execute_choice,
                                           format_trace)
from physreason.reasoning.program import from_nested
from physreason.reasoning.questions import parse_choice, parse_question
from physreason.reasoning.world import ReasoningWorld, WorldEvent

N_OBSERVED = 128
N_TOTAL = 178
OBJECTS = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "sphere"),
           ObjectInfo(2, "green", "rubber", "cylinder"), ObjectInfo(3, "yellow", "metal", "sphere"))


def _track(k: int, n: int, speeds: Sequence[tuple[int, float]], visible: Sequence[tuple[int, int]]) -> Track:
    """A track whose x-speed is ``v`` from each ``(frame, v)`` on and visible over each ``[a, b)``."""
    vx = np.zeros(n)
    for frame, v in speeds:
        vx[frame:] = v
    vis = np.zeros(n, dtype=bool)
    for a, b in visible:
        vis[a:b] = True
    velocity = np.zeros((n, 3))
    velocity[:, 0] = vx
    zeros = np.zeros((n, 3))
    return Track(k, zeros, velocity, zeros, zeros, vis)


def _observation(n: int) -> Observation:
    tracks = (_track(0, n, [(0, 1.0), (40, 0.0), (60, 0.8)], [(0, 150)]),
              _track(1, n, [(40, 1.5)], [(0, 100)]),
              _track(2, n, [(0, 1.0), (60, 0.01)], [(20, n)]),
              _track(3, n, [(0, 2e-4)], [(0, n)]))
    collisions = (Event("collision", 40, (0, 1)), Event("collision", 60, (2, 0)), Event("collision", 140, (2, 3)))
    return Observation(5, OBJECTS, tracks, tuple(c for c in collisions if c.frame < n), n)


def build_scene() -> tuple[Observation, World, Counterfactuals]:
    """The annotation, factual future world and counterfactual outcomes of the scene above."""
    def collide(frame: int, a: int, b: int) -> Event:
        return Event("collision", frame, (a, b))

    outcomes = (CounterfactualOutcome(0, (), (collide(50, 1, 2), collide(90, 2, 3))),
                CounterfactualOutcome(1, (), (collide(60, 0, 2), collide(130, 0, 3))),
                CounterfactualOutcome(2, (), (collide(40, 0, 1),)),
                CounterfactualOutcome(3, (), (collide(40, 0, 1), collide(60, 0, 2), Event("out", 100, (1,)))))
    return (_observation(N_OBSERVED), World(_observation(N_TOTAL), "factual"),
            Counterfactuals(5, N_TOTAL, outcomes))


@pytest.fixture(scope="module")
def world() -> ReasoningWorld:
    return ReasoningWorld.from_records(*build_scene())


def ask(question: str, world: ReasoningWorld) -> str:
    return execute(parse_question(question), world).answer


def choose(question: str, choice: str, world: ReasoningWorld) -> str:
    return execute_choice(parse_question(question), parse_choice(choice), world).answer


# ---------------------------------------------------------------- the world
def test_world_events(world: ReasoningWorld) -> None:
    assert [(e.kind, e.frame, e.objects) for e in world.events] == [
        ("start", 0, ()), ("in", 20, (2,)), ("collision", 40, (0, 1)), ("collision", 60, (0, 2)),
        ("out", 100, (1,)), ("end", 125, ())]
    assert [(e.kind, e.frame, e.objects) for e in world.unseen or ()] == [
        ("collision", 140, (2, 3)), ("out", 150, (0,))]
    assert world.counterfactual is not None
    assert world.counterfactual[1] == {frozenset({0, 2})}  # (0, 3) @ 130 is past the observed window
    assert world.counterfactual[3] == {frozenset({0, 1}), frozenset({0, 2})}
    assert len(world.all_events()) == 6 and all(e.frame is None for e in world.all_events())


def test_world_window_threshold_and_short_video() -> None:
    obs, future, cfs = build_scene()
    wide = ReasoningWorld.from_records(obs, future, cfs, counterfactual_window=N_TOTAL)
    assert wide.counterfactual is not None and frozenset({0, 3}) in wide.counterfactual[1]
    slow = ReasoningWorld.from_records(obs, moving_speed=0.005)
    assert ask("How many objects are moving when the video ends?", slow) == "2"
    short = ReasoningWorld.from_records(_observation(50))
    assert short.events[-1] == WorldEvent("end", 49)
    assert [o.id for o in short.objects] == [0, 1, 2, 3]
    hidden = Observation(5, OBJECTS[:2], (_track(0, 30, [], [(0, 30)]), _track(1, 30, [], [])), (), 30)
    assert [o.id for o in ReasoningWorld.from_records(hidden).objects] == [0]  # never seen
    with pytest.raises(ConfigError, match="moving speed"):
        ReasoningWorld.from_records(obs, moving_speed=-1.0)


def test_world_rejects_records_of_another_scene() -> None:
    obs, future, cfs = build_scene()
    other = Observation(6, OBJECTS, future.observation.tracks, (), N_TOTAL)
    with pytest.raises(ConfigError, match="scene 6"):
        ReasoningWorld.from_records(obs, World(other))
    with pytest.raises(ConfigError, match="scene 9"):
        ReasoningWorld.from_records(obs, counterfactuals=Counterfactuals(9, N_TOTAL, cfs.outcomes))


# ---------------------------------------------------------------- causal graph
def test_causal_ancestors(world: ReasoningWorld) -> None:
    enter, hit01, hit02, leave = world.events[1:5]
    graph = world.causal_graph
    assert set(graph.predecessors(hit02)) == {hit01, enter}
    assert ancestors(graph, hit02) == {hit01, enter}
    assert ancestors(graph, leave) == {hit01}
    assert ancestors(graph, hit01) == set() and ancestors(graph, enter) == set()
    assert ancestors(graph, world.unseen[0]) == {hit02, hit01, enter}  # type: ignore[index]  # transitive
    assert ancestors_in(graph, hit02, [hit02, enter, leave]) == (enter,)
    assert all(e.kind not in ("start", "end") for e in graph)


def test_causal_graph_ignores_pseudo_and_frameless_events() -> None:
    graph = causal_graph([WorldEvent("start", 0), WorldEvent("collision", None, (0, 1)),
                          WorldEvent("collision", 9, (0, 1)), WorldEvent("in", 3, (1,))])
    assert list(graph.edges) == [(WorldEvent("in", 3, (1,)), WorldEvent("collision", 9, (0, 1)))]


# ---------------------------------------------------------------- descriptive questions, operator by operator
@pytest.mark.parametrize(("question", "answer"), [
    # objects, filter_moving / filter_stationary at a frame, get_frame, end / start, count
    ("How many objects are moving when the video ends?", "1"),
    ("How many objects are stationary when the video ends?", "2"),
    ("How many objects are stationary when the video begins?", "2"),
    ("How many metal objects are moving when the blue sphere exits the scene?", "1"),
    # filter_moving / filter_stationary over the whole video (null), exist, filter_color/material/shape
    ("Are there any stationary spheres?", "yes"),
    ("Is there a stationary cube?", "no"),
    ("Is there a moving yellow object?", "no"),
    ("How many metal spheres are there?", "1"),
    ("How many rubber objects are there?", "2"),
    # filter_in / filter_out, get_object, query_*
    ("What color is the object that enters the scene?", "green"),
    ("How many objects exit the scene?", "1"),
    ("What material is the first object to exit the scene?", "rubber"),
    # filter_collision, filter_order, get_col_partner, unique
    ("What shape is the second object to collide with the red object?", "cylinder"),
    ("What shape is the first object to collide with the red object?", "sphere"),
    ("What material is the object that collides with the green cylinder?", "metal"),
    ("How many objects collide with the red cube?", "2"),
    # filter_before / filter_after
    ("How many collisions happen after the green object enters the scene?", "2"),
    ("Are there any collisions before the green object enters the scene?", "no"),
    ("How many collisions happen before the blue sphere exits the scene?", "2"),
    ("What color is the moving cube when the video begins?", "red"),
])
def test_descriptive(world: ReasoningWorld, question: str, answer: str) -> None:
    assert ask(question, world) == answer


def test_last_order_and_direct_programs(world: ReasoningWorld) -> None:
    last = from_nested("get_frame(filter_order(events(), last))")
    assert execute(last, world).answer == "frame 125"
    assert execute(["<START>", "objects", "count", "<END>", "<NULL>"], world).answer == "4"
    partner = from_nested("query_color(get_col_partner(filter_order(filter_collision(events(), "
                          "unique(filter_color(objects(), red))), last), unique(filter_color(objects(), red))))")
    assert execute(partner, world).answer == "green"


# ---------------------------------------------------------------- multiple choice
EXPLAIN = "Which of the following is responsible for the collision between the red cube and the green cylinder?"
NOT_EXPLAIN = "Which of the following is not responsible for the blue sphere's exit?"


@pytest.mark.parametrize(("question", "choice", "answer"), [
    (EXPLAIN, "the presence of the blue sphere", "correct"),
    (EXPLAIN, "the presence of the yellow sphere", "wrong"),
    (EXPLAIN, "the presence of the green cylinder", "correct"),  # through its entrance
    # the event itself is not its own ancestor
    ("Which of the following is responsible for the red cube's colliding with the blue sphere?",
     "the presence of the red cube", "wrong"),
    (EXPLAIN, "the green cylinder's entrance", "correct"),
    (EXPLAIN, "the collision between the red cube and the blue sphere", "correct"),
    (EXPLAIN, "the blue sphere's exit", "wrong"),
    (NOT_EXPLAIN, "the presence of the red cube", "wrong"),
    (NOT_EXPLAIN, "the green cylinder's entrance", "correct"),
    (NOT_EXPLAIN, "the red cube's colliding with the blue sphere", "wrong"),
    ("What will happen next?", "The green cylinder and the yellow sphere collide", "correct"),
    ("What will happen next?", "The red cube collides with the yellow sphere", "wrong"),
    ("If the red cube is removed, what will happen?", "The blue sphere and the green cylinder collide", "correct"),
    ("If the red cube is removed, what will happen?", "The green cylinder collides with the yellow sphere", "correct"),
    ("If the red cube is removed, what will happen?", "The blue sphere collides with the yellow sphere", "wrong"),
    ("Without the blue sphere, which event will happen?", "The red cube and the green cylinder collide", "correct"),
    ("Without the blue sphere, which event will happen?", "The red cube and the yellow sphere collide", "wrong"),
    ("If the red cube is removed, which of the following will not happen?",
     "The blue sphere and the green cylinder collide", "wrong"),
    ("If the yellow sphere is removed, which of the following will not happen?",
     "The green cylinder and the yellow sphere collide", "correct"),
])
def test_multiple_choice(world: ReasoningWorld, question: str, choice: str, answer: str) -> None:
    assert choose(question, choice, world) == answer


def test_counterfactual_window_changes_answer() -> None:
    wide = ReasoningWorld.from_records(*build_scene(), counterfactual_window=N_TOTAL)
    assert choose("Without the blue sphere, which event will happen?",
                  "The red cube and the yellow sphere collide", wide) == "correct"


def test_choice_postfix_equals_concatenated_stack(world: ReasoningWorld) -> None:
    question = parse_question(EXPLAIN)
    choice = parse_choice("the green cylinder's entrance")
    assert execute_choice(question, choice, world).answer == "correct"
    # CLEVRER's run_mc: the choice tokens then the question tokens on one stack
    assert execute([*choice, *question], world).answer == "yes"
    with pytest.raises(ParseError, match="needs a choice"):
        execute(from_nested("belong_to(?, unseen_events())"), world)


# ---------------------------------------------------------------- NS-DR dialect
_NSDR = {"get_frame": ["query_frame"], "get_object": ["query_object"],
         "get_col_partner": ["query_collision_partner"], "get_counterfact": ["filter_counterfact"],
         "filter_stationary": ["filter_resting"], "start": ["events", "filter_start"],
         "end": ["events", "filter_end"]}


def nsdr(tokens: Sequence[str]) -> list[str]:
    """A GT postfix program spelled in NS-DR's dialect."""
    return [out for token in tokens for out in _NSDR.get(token, [token])]


@pytest.mark.parametrize("question", [
    "How many objects are stationary when the video ends?",
    "How many objects are moving when the video begins?",
    "What material is the first object to exit the scene?",
    "What material is the object that collides with the green cylinder?",
    "Are there any stationary spheres?",
])
def test_nsdr_dialect_descriptive(world: ReasoningWorld, question: str) -> None:
    program = parse_question(question)
    assert nsdr(program) != program
    assert execute(nsdr(program), world).answer == execute(program, world).answer


def test_nsdr_dialect_multiple_choice(world: ReasoningWorld) -> None:
    question = parse_question("If the red cube is removed, what will happen?")
    for choice in ("The blue sphere and the green cylinder collide", "The red cube and the yellow sphere collide"):
        program = parse_choice(choice)
        assert (execute_choice(nsdr(question), nsdr(program), world).answer
                == execute_choice(question, program, world).answer)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(("program", "operator", "reason"), [
    ("query_color(unique(filter_shape(objects(), sphere)))", "unique", "got 2"),
    ("query_color(unique(filter_shape(objects(), sphere)))", "unique", "blue rubber sphere #1"),
    ("query_shape(get_object(filter_order(filter_in(events(), objects()), second)))", "filter_order",
     "no second event in a list of 1"),
    ("get_frame(filter_order(filter_out(events(), unique(filter_color(objects(), red))), last))",
     "filter_order", "no last event in a list of 0"),
    ("query_shape(get_col_partner(unique(filter_collision(events(), unique(filter_color(objects(), blue)))), "
     "unique(filter_color(objects(), green))))", "get_col_partner",
     "green rubber cylinder #2 is not in the collision collision(red metal cube #0, blue rubber sphere #1) @ frame 40"),
    ("get_object(filter_order(filter_collision(events(), objects()), first))", "get_object", "not an in/out event"),
    ("get_frame(filter_order(all_events(), first))", "get_frame", "has no frame"),
    ("count(filter_before(events(), filter_order(all_events(), first)))", "filter_before", "has no frame"),
    ("count(filter_ancestor(events(), filter_order(all_events(), first)))", "filter_ancestor",
     "is not an event of the video"),
])
def test_runtime_errors_name_operator(world: ReasoningWorld, program: str, operator: str, reason: str) -> None:
    with pytest.raises(ExecutionError, match=f"operator '{operator}'") as info:
        execute(from_nested(program), world)
    assert info.value.operator == operator
    assert reason in info.value.reason
    assert isinstance(info.value, PhysreasonError)


def test_missing_future_and_counterfactuals() -> None:
    observed = ReasoningWorld.from_records(build_scene()[0])
    with pytest.raises(ExecutionError, match="unseen_events.*no future world"):
        choose("What will happen next?", "The red cube collides with the yellow sphere", observed)
    with pytest.raises(ExecutionError, match="get_counterfact.*no counterfactual outcomes"):
        choose("If the red cube is removed, what will happen?", "The red cube collides with the yellow sphere",
               observed)
    obs, future, cfs = build_scene()
    partial = ReasoningWorld.from_records(obs, future, Counterfactuals(5, N_TOTAL, cfs.outcomes[:1]))
    with pytest.raises(ExecutionError, match="without blue rubber sphere #1"):
        choose("Without the blue sphere, what will happen?", "The red cube and the green cylinder collide", partial)


def test_ill_typed_programs_are_parse_errors(world: ReasoningWorld) -> None:
    with pytest.raises(ParseError, match="filter_shape"):
        execute(["objects", "red", "filter_shape"], world)
    with pytest.raises(ParseError, match="no slot"):
        execute_choice(from_nested("exist(objects())"), parse_choice("the presence of the red cube"), world)


# ---------------------------------------------------------------- traces
def test_trace(world: ReasoningWorld) -> None:
    result = execute(parse_question("What shape is the second object to collide with the red object?"), world)
    ops = [step.operator for step in result.trace]
    assert ops == ["events", "objects", "filter_color", "unique", "filter_collision", "filter_order",
                   "objects", "filter_color", "unique", "get_col_partner", "query_shape"]
    order = result.trace[5]
    assert order.inputs == ("[collision(red metal cube #0, blue rubber sphere #1) @ frame 40, "
                            "collision(red metal cube #0, green rubber cylinder #2) @ frame 60]", "second")
    assert order.output == "collision(red metal cube #0, green rubber cylinder #2) @ frame 60"
    assert result.trace[-1].output == "cylinder"
    text = format_trace(result)
    assert text.splitlines()[-1] == "answer: cylinder"
    assert "get_col_partner(collision(red metal cube #0, green rubber cylinder #2) @ frame 60, " \
           "red metal cube #0) -> green rubber cylinder #2" in text
    frames = execute(parse_question("How many objects are moving when the video ends?"), world).trace
    assert [s.output for s in frames[:3]] == ["[red metal cube #0, blue rubber sphere #1, green rubber cylinder #2, "
                                              "yellow metal sphere #3]", "end @ frame 125", "frame 125"]
    assert frames[3].inputs[1] == "frame 125"


def test_an_object_never_seen_can_be_named_by_an_event_but_not_found() -> None:
    """An object hidden throughout (or entering only in the future) is no answer to a filter, yet
    its collisions are events: the trace names it, and it is a collision partner."""
    obs = _observation(N_OBSERVED)
    hidden = Track(3, obs.tracks[3].position, obs.tracks[3].velocity, obs.tracks[3].orientation,
                   obs.tracks[3].angular_velocity, np.zeros(N_OBSERVED, bool))
    collisions = obs.collisions + (Event("collision", 110, (1, 3)),)
    obs = Observation(obs.scene_index, obs.objects, obs.tracks[:3] + (hidden,), collisions, N_OBSERVED)
    world = ReasoningWorld.from_records(obs)
    assert [o.id for o in world.objects] == [0, 1, 2] and world.object(3).color == "yellow"
    assert ask("How many spheres are there?", world) == "1"
    result = execute(parse_question("What shape is the second object to collide with the blue object?"), world)
    assert result.answer == "sphere"
    assert "collision(blue rubber sphere #1, yellow metal sphere #3) @ frame 110" in result.trace[5].output
    assert ask("How many collisions happen?", world) == "3"


def test_choice_trace_runs_choice_first(world: ReasoningWorld) -> None:
    result = execute_choice(parse_question(EXPLAIN), parse_choice("the presence of the blue sphere"), world)
    assert [s.operator for s in result.trace[:3]] == ["objects", "filter_color", "filter_shape"]
    assert result.trace[-1].operator == "belong_to" and result.trace[-1].output == "yes"
    assert format_trace(result).endswith("answer: correct")


# ---------------------------------------------------------------- questions and videos
def _questions() -> VideoQuestions:
    return VideoQuestions(5, (
        Question(0, "How many objects are moving when the video ends?", "descriptive", answer="1"),
        Question(1, "What color is the sphere?", "descriptive"),  # not unique: fails at run time
        Question(2, NOT_EXPLAIN, "explanatory", program=tuple(parse_question(NOT_EXPLAIN)), choices=(
            Choice(0, "the presence of the red cube", tuple(parse_choice("the presence of the red cube"))),
            Choice(1, "the green cylinder's entrance"))),
        Question(3, "What will happen next?", "predictive", choices=(
            Choice(0, "The green cylinder and the yellow sphere collide"),
            Choice(1, "The red cube collides with the yellow sphere")))))


def test_answer_question_and_video(world: ReasoningWorld) -> None:
    video = _questions()
    assert answer_question(video.questions[0], world).answer == "1"
    assert answer_question(video.questions[2], world).choices == ((0, "wrong"), (1, "correct"))
    with pytest.raises(ExecutionError, match="unique"):
        answer_video(video, world)
    failed: list[tuple[int, str]] = []
    answers = answer_video(video, world, on_error=lambda q, exc: failed.append((q.question_id, str(exc))))
    assert answers.scene_index == 5
    assert [a.question_id for a in answers.answers] == [0, 2, 3]
    assert answers.answers[2].choices == ((0, "correct"), (1, "wrong"))
    assert failed == [(1, failed[0][1])] and "operator 'unique'" in failed[0][1]
    # a world per question: the predictive one goes without a world (no physics), so is skipped
    chosen = answer_video(video, lambda q: None if q.question_type == "predictive" else world,
                          on_error=lambda q, exc: None)
    assert [a.question_id for a in chosen.answers] == [0, 2]
