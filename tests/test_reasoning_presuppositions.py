"""Questions that presuppose an event: "what will happen next?" names one (the option that comes
closest in the predicted future when the prediction has none), and "the collision between X
and Y" happened (added where they came closest when perception missed it).

The scene: 100 observed frames, 60 predicted. #0 red cube at rest at the origin; #1 blue sphere
passes it at x = 0.45 (closest at frame 130); #2 green cylinder passes it at x = -0.80 (closest at
frame 140); #3 yellow sphere runs into #2's path and, in the futures that say so, hits it at 150.
"""

from __future__ import annotations

import numpy as np
import pytest

from physreason.datasets.questions import Choice, Question
from physreason.datasets.records import (CounterfactualOutcome, Counterfactuals, Event, ObjectInfo, Observation,
                                         Track, World)
from physreason.reasoning.executor import (ExecutionError, answer_question, execute, execute_choices, format_trace,
                                           presupposed_collision, run_question)
from physreason.reasoning.questions import parse_choice, parse_question
from physreason.reasoning.world import ReasoningWorld, WorldEvent, closest_approaches

N_OBSERVED, N_TOTAL = 100, 160
OBJECTS = (ObjectInfo(0, "red", "metal", "cube"), ObjectInfo(1, "blue", "rubber", "sphere"),
           ObjectInfo(2, "green", "rubber", "cylinder"), ObjectInfo(3, "yellow", "metal", "sphere"))
NEXT = "What will happen next?"
HITS = "The red cube and the blue sphere collide"  # the nearest miss: 0.45 apart
MISSES = "The red cube collides with the green cylinder"  # 0.80 apart


def _track(k: int, xy: np.ndarray, first_frame: int = 0, visible: slice = slice(None)) -> Track:
    position = np.column_stack([xy, np.full(len(xy), 0.2)])
    zeros = np.zeros_like(position)
    seen = np.zeros(len(xy), bool)
    seen[visible] = True
    return Track(k, position, np.gradient(position, axis=0) * 25.0, zeros, zeros, seen, first_frame)


def _observation(n: int, collisions: tuple[Event, ...] = ()) -> Observation:
    t = np.arange(n, dtype=float)
    tracks = (_track(0, np.zeros((n, 2))),
              _track(1, np.column_stack([np.full(n, 0.45), (t - 130) * 0.05])),
              _track(2, np.column_stack([np.full(n, -0.8), (t - 140) * 0.05])),
              _track(3, np.column_stack([-0.8 + (150 - t) * 0.05, np.full(n, 0.5)])))
    return Observation(0, OBJECTS, tracks, collisions, n)


def _world(future_collisions: tuple[Event, ...] = ()) -> ReasoningWorld:
    return ReasoningWorld.from_records(_observation(N_OBSERVED), World(_observation(N_TOTAL, future_collisions)))


def _answers(question: str, choices: list[str], world: ReasoningWorld) -> list[str]:
    return [r.answer for r in execute_choices(parse_question(question), [parse_choice(c) for c in choices], world)]


def test_closest_approaches_from_a_frame_on() -> None:
    tracks = _observation(N_TOTAL).tracks
    approach = closest_approaches(tracks, N_OBSERVED)
    assert set(approach) == {(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
    assert approach[(0, 1)] == pytest.approx((0.45, 130))
    assert approach[(0, 2)] == pytest.approx((0.80, 140))
    # before frame 100 the sphere was far: counting from frame 0 gives the same, after 140 it is gone
    assert closest_approaches(tracks, 0)[(0, 1)] == pytest.approx((0.45, 130))
    assert closest_approaches(tracks, 141)[(0, 1)][0] == pytest.approx(np.hypot(0.45, 0.55))
    # a track that starts late or ends early only counts where it exists; one ended before `first`, nowhere
    late = _track(1, tracks[1].xy[135:], first_frame=135)
    early = _track(2, tracks[2].xy[:90])
    approach = closest_approaches((tracks[0], late, early), N_OBSERVED)
    assert approach[(0, 1)] == pytest.approx((np.hypot(0.45, 0.25), 135))
    assert set(approach) == {(0, 1)}
    assert closest_approaches(tracks, N_TOTAL) == {}


def test_next_event_with_no_option_predicted_picks_the_nearest() -> None:
    world = _world()
    assert world.unseen_approach is not None and world.unseen_approach[(0, 1)] == pytest.approx((0.45, 130))
    results = execute_choices(parse_question(NEXT), [parse_choice(MISSES), parse_choice(HITS)], world)
    assert [r.answer for r in results] == ["wrong", "correct"]
    trace = format_trace(results[1])
    assert "closest_approach(collision(red metal cube #0, blue rubber sphere #1)) -> centres 0.45 units apart " \
           "at frame 130, the nearest of the options" in trace
    assert "closest_approach" not in format_trace(results[0])


def test_next_event_predicted_is_kept_as_the_simulation_says() -> None:
    world = _world((Event("collision", 150, (2, 3)),))
    assert _answers(NEXT, [HITS, "The green cylinder and the yellow sphere collide"], world) == ["wrong", "correct"]


@pytest.mark.parametrize("question", [
    "If the yellow sphere is removed, what will happen?",  # counterfactual: options are independent
    "Which of the following is responsible for the collision between the green cylinder and the yellow sphere?",
])
def test_other_questions_may_have_no_option_true(question: str) -> None:
    nothing_collides = Counterfactuals(0, N_TOTAL, tuple(CounterfactualOutcome(k, (), ()) for k in range(4)))
    world = ReasoningWorld.from_records(_observation(N_OBSERVED, (Event("collision", 90, (2, 3)),)),
                                        World(_observation(N_TOTAL)), nothing_collides)
    assert world.unseen_approach is not None
    assert _answers(question, [HITS, MISSES], world) == ["wrong", "wrong"]


def test_answer_question_applies_the_rule() -> None:
    question = Question(0, NEXT, "predictive", choices=(Choice(0, MISSES), Choice(1, HITS)))
    assert answer_question(question, _world()).choices == ((0, "wrong"), (1, "correct"))


# ---------------------------------------------------------------- presupposed collisions
EXPLAIN = "Which of the following is responsible for the collision between the red cube and the blue sphere?"
OPTIONS = ["the blue sphere's entrance", "the presence of the yellow sphere"]


def _missed(red_visible: slice = slice(None), blue_visible: slice = slice(20, None)) -> ReasoningWorld:
    """The red cube rests at the origin; the blue sphere passes it 0.42 units apart at frame 50
    (a graze perception did not list as a collision), in view from frame 20; the yellow sphere
    rests far away. ``*_visible``: the frames where each of the first two is in view."""
    t = np.arange(N_OBSERVED, dtype=float)
    objects = (OBJECTS[0], OBJECTS[1], ObjectInfo(2, "yellow", "metal", "sphere"))
    tracks = (_track(0, np.zeros((N_OBSERVED, 2)), visible=red_visible),
              _track(1, np.column_stack([np.full(N_OBSERVED, 0.42), (t - 50) * 0.05]), visible=blue_visible),
              _track(2, np.tile([2.0, 2.0], (N_OBSERVED, 1))))
    return ReasoningWorld.from_records(Observation(0, objects, tracks, (), N_OBSERVED))


def test_a_missed_collision_the_question_presupposes_is_added_where_the_pair_came_closest() -> None:
    world = _missed()
    assert world.observed_approach[(0, 1)] == pytest.approx((0.42, 50))
    question, options = parse_question(EXPLAIN), [parse_choice(o) for o in OPTIONS]
    with pytest.raises(ExecutionError, match="unique"):  # the plain executor (and the generator) still refuse
        execute_choices(question, options, world)
    event = presupposed_collision(question, world, slot=True).event  # type: ignore[union-attr]
    assert (event.kind, event.frame, event.objects) == ("collision", 50, (0, 1))
    results = run_question(question, options, world)
    assert [r.answer for r in results] == ["correct", "wrong"]  # the entrance at 20 led to it
    assert format_trace(results[0]).startswith(
        "  1. presuppose(collision(red metal cube #0, blue rubber sphere #1) @ frame 50) -> not seen; "
        "assumed where they came closest (0.42 units apart)")
    choices = tuple(Choice(k, o) for k, o in enumerate(OPTIONS))
    assert answer_question(Question(0, EXPLAIN, "explanatory", choices=choices), world).choices == (
        (0, "correct"), (1, "wrong"))
    # descriptive programs too
    when = "How many objects are moving when the red cube collides with the blue sphere?"
    with pytest.raises(ExecutionError):
        execute(parse_question(when), world)
    assert run_question(parse_question(when), None, world)[0].answer == "1"


def test_nothing_is_presupposed_where_the_collision_was_seen_or_the_pair_never_met_in_view() -> None:
    seen = _missed().with_event(WorldEvent("collision", 49, (0, 1)))
    assert presupposed_collision(parse_question(EXPLAIN), seen, slot=True) is None
    results = run_question(parse_question(EXPLAIN), [parse_choice(o) for o in OPTIONS], seen)
    assert [r.answer for r in results] == ["correct", "wrong"] and "presuppose" not in format_trace(results[0])
    hidden = _missed(blue_visible=slice(80, None))  # seen only after passing the cube: closest in view at 80
    assert hidden.observed_approach[(0, 1)][1] == 80
    # closest as the sphere comes into view: the collision is put one frame later, after its entrance
    entering = _missed(blue_visible=slice(50, None))
    presupposed = presupposed_collision(parse_question(EXPLAIN), entering, slot=True)
    assert presupposed is not None and presupposed.event.frame == 51
    results = run_question(parse_question(EXPLAIN), [parse_choice(o) for o in OPTIONS], entering)
    assert [r.answer for r in results] == ["correct", "wrong"]
    apart = _missed(red_visible=slice(60, None), blue_visible=slice(0, 40))  # never both in view
    assert (0, 1) not in apart.observed_approach
    assert presupposed_collision(parse_question(EXPLAIN), apart, slot=True) is None
    with pytest.raises(ExecutionError, match="unique"):
        run_question(parse_question(EXPLAIN), [parse_choice(OPTIONS[0])], apart)


def test_a_collision_seen_twice_is_taken_at_its_first_frame() -> None:
    # perceived twice: at 50, and again at 80 after the blue sphere hit the yellow one at 65
    world = (_missed().with_event(WorldEvent("collision", 50, (0, 1))).with_event(WorldEvent("collision", 80, (0, 1)))
             .with_event(WorldEvent("collision", 65, (1, 2))))
    question = parse_question(EXPLAIN)
    options = [parse_choice(o) for o in (*OPTIONS, "the collision between the blue sphere and the yellow sphere")]
    with pytest.raises(ExecutionError, match="expected exactly one item, got 2"):
        execute_choices(question, options, world)
    presupposed = presupposed_collision(question, world, slot=True)
    assert presupposed is not None and presupposed.event == WorldEvent("collision", 50, (0, 1))
    assert WorldEvent("collision", 80, (0, 1)) not in presupposed.world.events
    assert WorldEvent("collision", 65, (1, 2)) in presupposed.world.events
    results = run_question(question, options, world)
    # the entrance at 20 led to the first; the collision at 65 came after it
    assert [r.answer for r in results] == ["correct", "wrong", "wrong"]
    assert format_trace(results[0]).startswith(
        "  1. presuppose(collision(red metal cube #0, blue rubber sphere #1) @ frame 50) -> seen 2 times "
        "(frames 50, 80); the first is taken")
    # taking the later one instead would have made the collision at 65 (and so the yellow sphere) a cause
    later = world.without_events([WorldEvent("collision", 50, (0, 1))])
    assert [r.answer for r in execute_choices(question, options, later)] == ["correct", "correct", "correct"]
    # an option naming the collision seen twice: the first (50) led to the one at 65, the second (80) did not
    blue_yellow = parse_question("Which of the following is responsible for the collision between the blue sphere "
                                 "and the yellow sphere?")
    twice = [parse_choice("the collision between the red cube and the blue sphere")]
    assert presupposed_collision(blue_yellow, world, slot=True) is None
    with pytest.raises(ExecutionError, match="expected exactly one item, got 2"):
        execute_choices(blue_yellow, twice, world)
    result = run_question(blue_yellow, twice, world)[0]
    assert result.answer == "correct" and result.trace[0].operator == "presuppose"
