"""Run CLEVRER programs on a :class:`ReasoningWorld` (reference notes §2.1-2.2).

Programs are given as trees or postfix token lists, in either dialect: they are rewritten to the
GT dialect (:func:`to_gt`) and type-checked before they run, so an ill-typed program raises
ParseError. What can only fail on a given world (``unique`` on a list that is not a singleton,
``filter_order`` past the end, ``get_col_partner`` with an object not in the collision, a
predictive question with no future world...) raises :class:`ExecutionError` naming the
operator and the reason; the caller decides whether that counts as a wrong answer.

A multiple-choice option runs its choice program, then the question program on its value; the
question's yes/no becomes correct/wrong. Every run records a trace, one step per operator.
A question asking which event will happen next names one that does (:func:`execute_choices`),
and a question about "the collision between X and Y" presupposes that it happened, once
(:func:`presupposed_collision`, used when answering questions, not by :func:`execute`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from physreason.datasets.questions import Answer, Question, VideoAnswers, VideoQuestions
from physreason.datasets.records import ObjectInfo
from physreason.errors import ParseError, PhysreasonError
from physreason.reasoning.causal import ancestors_in
from physreason.reasoning.operators import BOOL, FRAME, OPERATORS
from physreason.reasoning.program import Expr, Node, Slot, fill_slot, from_postfix, to_gt, to_nested
from physreason.reasoning.questions import parse_choice, parse_question
from physreason.reasoning.typecheck import check, check_program
from physreason.reasoning.world import ReasoningWorld, WorldEvent

Program = Union[Node, Sequence[str]]
"""A program tree, or CLEVRER's postfix token list (``<START>`` skipped, ``<END>``/``<NULL>`` stop it)."""

Value = Any
"""A run-time value: ObjectInfo, WorldEvent, a tuple of either, int (count or frame), bool or str."""

_LIST_LIMIT = 8
"""Items shown when a list is rendered in a trace."""


class ExecutionError(PhysreasonError):
    """A program cannot run on this world; names the operator and the reason."""

    def __init__(self, operator: str, reason: str) -> None:
        self.operator = operator
        self.reason = reason
        super().__init__(f"operator '{operator}': {reason}")


@dataclass(frozen=True)
class TraceStep:
    """One operator application, with its inputs and output rendered readably."""

    operator: str
    inputs: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class ExecutionResult:
    """The answer of a program (or 'correct'/'wrong' for an option) and the steps that gave it."""

    answer: str
    trace: tuple[TraceStep, ...]


# ---------------------------------------------------------------- rendering
def describe_object(obj: ObjectInfo) -> str:
    """E.g. 'red metal cube #2'."""
    return f"{obj.describe()} #{obj.id}"


def describe_event(event: WorldEvent, world: ReasoningWorld) -> str:
    """E.g. 'collision(red metal cube #2, blue rubber sphere #0) @ frame 40'."""
    names = ", ".join(describe_object(world.object(k)) for k in event.objects)
    head = f"{event.kind}({names})" if event.objects else event.kind
    return head if event.frame is None else f"{head} @ frame {event.frame}"


def render(value: Value, kind: str, world: ReasoningWorld) -> str:
    """A value as text; ``kind`` is its static type (frames read 'frame 40')."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, ObjectInfo):
        return describe_object(value)
    if isinstance(value, WorldEvent):
        return describe_event(value, world)
    if isinstance(value, tuple):
        items = [render(item, "", world) for item in value[:_LIST_LIMIT]]
        if len(value) > _LIST_LIMIT:
            items.append(f"... ({len(value)} in all)")
        return f"[{', '.join(items)}]"
    if kind == FRAME:
        return f"frame {value}"
    return str(value)


# ---------------------------------------------------------------- operators
def _pseudo(kind: str) -> Callable[[ReasoningWorld], WorldEvent]:
    def run(world: ReasoningWorld) -> WorldEvent:
        return next(e for e in world.events if e.kind == kind)

    return run


def _unseen_events(world: ReasoningWorld) -> tuple[WorldEvent, ...]:
    if world.unseen is None:
        raise ExecutionError("unseen_events", "no future world was given (predictive questions need one)")
    return world.unseen


def _filter_attr(attr: str) -> Callable[[ReasoningWorld, tuple[ObjectInfo, ...], str], tuple[ObjectInfo, ...]]:
    def run(_world: ReasoningWorld, objects: tuple[ObjectInfo, ...], word: str) -> tuple[ObjectInfo, ...]:
        return tuple(o for o in objects if getattr(o, attr) == word)

    return run


def _filter_moving(world: ReasoningWorld, objects: tuple[ObjectInfo, ...], frame: int | str) -> tuple[ObjectInfo, ...]:
    if isinstance(frame, str):  # null: the whole video
        return tuple(o for o in objects if world.ever_moving(o))
    return tuple(o for o in objects if world.is_moving(o, frame))


def _filter_stationary(world: ReasoningWorld, objects: tuple[ObjectInfo, ...],
                       frame: int | str) -> tuple[ObjectInfo, ...]:
    if isinstance(frame, str):  # null: the whole video
        return tuple(o for o in objects if world.never_moving(o))
    return tuple(o for o in objects if world.is_stationary(o, frame))


def _ids(objects: ObjectInfo | tuple[ObjectInfo, ...]) -> set[int]:
    return {objects.id} if isinstance(objects, ObjectInfo) else {o.id for o in objects}


def _filter_kind(kind: str) -> Callable[[ReasoningWorld, tuple[WorldEvent, ...], Any], tuple[WorldEvent, ...]]:
    def run(_world: ReasoningWorld, events: tuple[WorldEvent, ...],
            objects: ObjectInfo | tuple[ObjectInfo, ...]) -> tuple[WorldEvent, ...]:
        ids = _ids(objects)
        return tuple(e for e in events if e.kind == kind and ids.intersection(e.objects))

    return run


def _frame(op: str, event: WorldEvent, world: ReasoningWorld) -> int:
    if event.frame is None:
        raise ExecutionError(op, f"the hypothetical event {describe_event(event, world)} has no frame")
    return event.frame


def _filter_before(world: ReasoningWorld, events: tuple[WorldEvent, ...], event: WorldEvent) -> tuple[WorldEvent, ...]:
    frame = _frame("filter_before", event, world)
    return tuple(e for e in events if e.frame is not None and e.frame < frame)


def _filter_after(world: ReasoningWorld, events: tuple[WorldEvent, ...], event: WorldEvent) -> tuple[WorldEvent, ...]:
    frame = _frame("filter_after", event, world)
    return tuple(e for e in events if e.frame is not None and e.frame > frame)


_ORDER_INDEX = {"first": 0, "second": 1, "last": -1}


def _filter_order(world: ReasoningWorld, events: tuple[WorldEvent, ...], order: str) -> WorldEvent:
    index = _ORDER_INDEX[order]
    if len(events) <= max(index, 0):
        raise ExecutionError("filter_order", f"no {order} event in a list of {len(events)}: "
                                             f"{render(events, '', world)}")
    return events[index]


def _filter_ancestor(world: ReasoningWorld, events: tuple[WorldEvent, ...],
                     event: WorldEvent) -> tuple[WorldEvent, ...]:
    graph = world.causal_graph
    if event not in graph:
        raise ExecutionError("filter_ancestor", f"{describe_event(event, world)} is not an event of the video")
    return ancestors_in(graph, event, events)


def _get_frame(world: ReasoningWorld, event: WorldEvent) -> int:
    return _frame("get_frame", event, world)


def _get_object(world: ReasoningWorld, event: WorldEvent) -> ObjectInfo:
    if event.kind not in ("in", "out"):
        raise ExecutionError("get_object", f"{describe_event(event, world)} is not an in/out event")
    return world.object(event.objects[0])


def _get_col_partner(world: ReasoningWorld, event: WorldEvent, obj: ObjectInfo) -> ObjectInfo:
    if event.kind != "collision" or obj.id not in event.objects:
        raise ExecutionError("get_col_partner", f"{describe_object(obj)} is not in the collision "
                                                f"{describe_event(event, world)}")
    return world.object(next(k for k in event.objects if k != obj.id))


def _get_counterfact(world: ReasoningWorld, events: tuple[WorldEvent, ...], obj: ObjectInfo) -> tuple[WorldEvent, ...]:
    if world.counterfactual is None:
        raise ExecutionError("get_counterfact", "no counterfactual outcomes were given")
    pairs = world.counterfactual.get(obj.id)
    if pairs is None:
        raise ExecutionError("get_counterfact", f"no counterfactual outcome without {describe_object(obj)}")
    return tuple(e for e in events if e.kind == "collision" and frozenset(e.objects) in pairs)


def _unique(world: ReasoningWorld, items: tuple[Value, ...]) -> Value:
    if len(items) != 1:
        raise ExecutionError("unique", f"expected exactly one item, got {len(items)}: {render(items, '', world)}")
    return items[0]


def _belong_to(_world: ReasoningWorld, item: ObjectInfo | WorldEvent, events: tuple[WorldEvent, ...]) -> bool:
    real = [e for e in events if e.is_real]
    if isinstance(item, ObjectInfo):
        return any(item.id in e.objects for e in real)
    return any(e.kind == item.kind and e.objects == item.objects for e in real)


_OPS: dict[str, Callable[..., Value]] = {
    "objects": lambda w: w.objects,
    "events": lambda w: w.events,
    "unseen_events": _unseen_events,
    "all_events": lambda w: w.all_events(),
    "start": _pseudo("start"),
    "end": _pseudo("end"),
    "filter_color": _filter_attr("color"),
    "filter_material": _filter_attr("material"),
    "filter_shape": _filter_attr("shape"),
    "filter_moving": _filter_moving,
    "filter_stationary": _filter_stationary,
    "filter_in": _filter_kind("in"),
    "filter_out": _filter_kind("out"),
    "filter_collision": _filter_kind("collision"),
    "filter_before": _filter_before,
    "filter_after": _filter_after,
    "filter_order": _filter_order,
    "filter_ancestor": _filter_ancestor,
    "get_frame": _get_frame,
    "get_object": _get_object,
    "get_col_partner": _get_col_partner,
    "get_counterfact": _get_counterfact,
    "unique": _unique,
    "count": lambda _w, items: len(items),
    "exist": lambda _w, items: len(items) > 0,
    "query_color": lambda _w, obj: obj.color,
    "query_material": lambda _w, obj: obj.material,
    "query_shape": lambda _w, obj: obj.shape,
    "belong_to": _belong_to,
    "negate": lambda _w, value: not value,
}
"""Every GT-dialect operator: (world, *arguments) -> value."""


# ---------------------------------------------------------------- running programs
def _kind(expr: Expr) -> str:
    return OPERATORS[expr.op].result if isinstance(expr, Node) else ""


class _Run:
    """One evaluation: arguments left to right, then the operator (CLEVRER's stack order)."""

    def __init__(self, world: ReasoningWorld) -> None:
        self.world = world
        self.steps: list[TraceStep] = []

    def eval(self, expr: Expr) -> Value:
        if isinstance(expr, str):
            return expr
        if isinstance(expr, Slot):
            raise ParseError("a multiple-choice question program needs a choice to run")
        args = [self.eval(arg) for arg in expr.args]
        out = _OPS[expr.op](self.world, *args)
        inputs = tuple(render(value, _kind(arg), self.world) for value, arg in zip(args, expr.args))
        self.steps.append(TraceStep(expr.op, inputs, render(out, _kind(expr), self.world)))
        return out


def _tokens(tokens: Sequence[str]) -> list[str]:
    """Drop ``<START>``; stop at ``<END>``/``<NULL>`` (seq2seq parser padding)."""
    out = []
    for token in tokens:
        if token in ("<END>", "<NULL>"):
            break
        if token != "<START>":
            out.append(token)
    return out


def program_tree(program: Program, slot: bool = False) -> Expr:
    """The GT-dialect tree of a program given as a tree or postfix tokens (``slot``: a
    multiple-choice question program, whose missing first value becomes the slot)."""
    tree = program if isinstance(program, Node) else from_postfix(_tokens(program), slot=slot)
    return to_gt(tree)


def _run(tree: Expr, world: ReasoningWorld) -> ExecutionResult:
    run = _Run(world)
    value = run.eval(tree)
    return ExecutionResult(render(value, _kind(tree), world), tuple(run.steps))


def execute(program: Program, world: ReasoningWorld) -> ExecutionResult:
    """Run a program; the answer is its value as text ('yes'/'no', a count, a word...)."""
    tree = program_tree(program)
    check(tree)
    return _run(tree, world)


def execute_choice(question: Program, choice: Program, world: ReasoningWorld) -> ExecutionResult:
    """Run a multiple-choice option: the choice program, then the question program on its value;
    the answer is 'correct' when the question yields yes, 'wrong' when it yields no."""
    question_tree = program_tree(question, slot=True)
    choice_tree = program_tree(choice)
    tree = fill_slot(question_tree, choice_tree)
    if tree == question_tree:
        raise ParseError(f"question program {to_nested(question_tree)} has no slot for the choice")
    check_program(tree, BOOL)
    result = _run(tree, world)
    return ExecutionResult("correct" if result.answer == "yes" else "wrong", result.trace)


NEXT_EVENT: tuple[str, ...] = ("unseen_events", "belong_to")
"""The program of 'What / Which event will happen next?': the option among the unseen events."""


def execute_choices(question: Program, choices: Sequence[Program],
                    world: ReasoningWorld) -> tuple[ExecutionResult, ...]:
    """Run every option of a multiple-choice question (:func:`execute_choice`).

    A question asking which event will happen next (:data:`NEXT_EVENT`) names an event that
    does happen. When the predicted future has none of its options (a graze the prediction
    passes by a few hundredths of a unit, say), the collision option whose two objects come
    closest in the predicted future (``world.unseen_approach``) is the one taken as correct; its
    trace ends with a ``closest_approach`` step saying so.
    """
    results = [execute_choice(question, choice, world) for choice in choices]
    if (world.unseen_approach is None or any(r.answer == "correct" for r in results)
            or program_tree(question, slot=True) != program_tree(NEXT_EVENT, slot=True)):
        return tuple(results)
    nearest: tuple[float, int, int, WorldEvent] | None = None
    for k, choice in enumerate(choices):
        event = _Run(world).eval(program_tree(choice))
        if isinstance(event, WorldEvent) and event.kind == "collision" and event.objects in world.unseen_approach:
            distance, frame = world.unseen_approach[event.objects]
            if nearest is None or distance < nearest[0]:
                nearest = (distance, frame, k, event)
    if nearest is not None:
        distance, frame, k, event = nearest
        step = TraceStep("closest_approach", (describe_event(event, world),),
                         f"centres {distance:.2f} units apart at frame {frame}, the nearest of the options")
        results[k] = ExecutionResult("correct", results[k].trace + (step,))
    return tuple(results)


def _between(expr: Expr) -> tuple[Expr, Expr] | None:
    """The two object subtrees of ``unique(filter_collision(filter_collision(events(), A), B))``,
    "the collision between A and B", else None."""
    if not (isinstance(expr, Node) and expr.op == "unique" and len(expr.args) == 1):
        return None
    outer = expr.args[0]
    if not (isinstance(outer, Node) and outer.op == "filter_collision" and len(outer.args) == 2):
        return None
    inner = outer.args[0]
    if not (isinstance(inner, Node) and inner.op == "filter_collision" and len(inner.args) == 2
            and inner.args[0] == Node("events")):
        return None
    return inner.args[1], outer.args[1]


@dataclass(frozen=True)
class Presupposition:
    """A collision a program presupposes, the world where it holds once, and why that world differs."""

    event: WorldEvent
    world: ReasoningWorld
    note: str


def presupposed_collision(program: Program, world: ReasoningWorld, slot: bool = False) -> Presupposition | None:
    """The collision a program presupposes where the world does not have it exactly once.

    A program asking about "the collision between A and B" (``unique`` of the collisions of
    two unique objects) presupposes that they collided once. If the world has no such collision
    (perception missed it), it is added at the frame where the pair's centres came closest while
    both were in view (``world.observed_approach``; one frame later where that is the frame one
    of them came into view, so that it follows the entrance). If the world has several (a
    contact perceived twice, or a near miss taken for a second contact), the first is kept and
    the later ones dropped. None if the program has no such part that fails, or its objects
    cannot be found, or (for a missed one) were never both in view. ``slot``: a
    multiple-choice question program.
    """
    stack = [program_tree(program, slot=slot)]
    while stack:
        expr = stack.pop()
        if not isinstance(expr, Node):
            continue
        stack.extend(expr.args)
        between = _between(expr)
        if between is None:
            continue
        try:
            found = _Run(world).eval(expr.args[0])
            a, b = (_Run(world).eval(arg) for arg in between)
        except (ExecutionError, ParseError):
            continue
        if len(found) == 1 or not (isinstance(a, ObjectInfo) and isinstance(b, ObjectInfo) and a.id != b.id):
            continue
        if found:
            frames = ", ".join(str(e.frame) for e in found)
            return Presupposition(found[0], world.without_events(found[1:]),
                                  f"seen {len(found)} times (frames {frames}); the first is taken")
        pair = tuple(sorted((a.id, b.id)))
        if pair in world.observed_approach:
            distance, frame = world.observed_approach[pair]
            if any(e.kind == "in" and e.frame == frame and e.objects[0] in pair for e in world.events):
                frame += 1  # closest as one comes into view: the collision follows its entrance
            event = WorldEvent("collision", frame, pair)
            return Presupposition(event, world.with_event(event),
                                  f"not seen; assumed where they came closest ({distance:.2f} units apart)")
    return None


def run_question(program: Program, choices: Sequence[Program] | None,
                 world: ReasoningWorld) -> tuple[ExecutionResult, ...]:
    """The result of a descriptive ``program`` (``choices`` None), or of each of its options.

    Where a program cannot run because a collision it or one of the options presupposes is not
    in the world, or is there more than once (:func:`presupposed_collision`), they run again on
    the world where it is there once (as often as there are such collisions); each trace then
    starts with a ``presuppose`` step per collision, naming it.
    """
    def run(target: ReasoningWorld) -> tuple[ExecutionResult, ...]:
        if choices is None:
            return (execute(program, target),)
        return execute_choices(program, choices, target)

    steps: list[TraceStep] = []
    while True:
        try:
            results = run(world)
            break
        except ExecutionError:
            programs = [(program, choices is not None), *((choice, False) for choice in choices or ())]
            presupposed = next(filter(None, (presupposed_collision(p, world, slot) for p, slot in programs)), None)
            if presupposed is None:
                raise
        steps.append(TraceStep("presuppose", (describe_event(presupposed.event, world),), presupposed.note))
        world = presupposed.world
    return tuple(ExecutionResult(r.answer, (*steps, *r.trace)) for r in results)


def format_trace(result: ExecutionResult) -> str:
    """The trace as numbered lines, 'n. op(inputs) -> output', then the answer."""
    lines = [f"{n:3d}. {step.operator}({', '.join(step.inputs)}) -> {step.output}"
             for n, step in enumerate(result.trace, start=1)]
    lines.append(f"answer: {result.answer}")
    return "\n".join(lines)


# ---------------------------------------------------------------- questions
def answer_question(question: Question, world: Any, run: Callable | None = None,
                    run_choice: Callable | None = None) -> Answer:
    """Answer a descriptive or multiple-choice question; programs missing from the file are parsed
    from the text. Raises ExecutionError (or ParseError) when a program cannot run. By default
    the programs run by :func:`run_question`; ``run(program, world)`` and ``run_choice(question
    program, choice program, world)``, given together, run them instead (the soft executor's
    runs on a ``ConceptWorld``, option by option), giving results with an ``answer``."""
    program = question.program or parse_question(question.question)
    options = [c.program or parse_choice(c.choice) for c in question.choices or ()] \
        if question.is_multiple_choice else None
    if run is None or run_choice is None:
        results = run_question(program, options, world)
    elif options is None:
        results = (run(program, world),)
    else:
        results = tuple(run_choice(program, option, world) for option in options)
    if options is None:
        return Answer(question.question_id, answer=results[0].answer)
    return Answer(question.question_id, choices=tuple((c.choice_id, r.answer)
                                                      for c, r in zip(question.choices or (), results)))


def answer_video(video: VideoQuestions, world: ReasoningWorld | Callable[[Question], ReasoningWorld | None],
                 on_error: Callable[[Question, PhysreasonError], None] | None = None,
                 fallback: Callable[[Question, ReasoningWorld], Answer] | None = None) -> VideoAnswers:
    """Answer every question of a video on ``world``, or, when ``world`` is a function, on the
    world it gives for each question (a question it gives None for is skipped). A question whose
    program fails raises, or, with ``on_error``, is reported to it and answered by ``fallback``
    (e.g. the soft executor on concept probabilities), or else left out of the answers (so
    metrics count it wrong)."""
    world_for = world if callable(world) else (lambda question: world)
    answers = []
    for question in video.questions:
        target = world_for(question)
        if target is None:
            continue
        try:
            answers.append(answer_question(question, target))
        except (ExecutionError, ParseError) as exc:
            if on_error is None:
                raise
            on_error(question, exc)
            if fallback is not None:
                try:
                    answers.append(fallback(question, target))
                except (ExecutionError, ParseError):
                    pass
    return VideoAnswers(video.scene_index, tuple(answers))
