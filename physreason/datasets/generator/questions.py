"""Generating CLEVRER-style questions about a simulated video, answered by the executor.

Every question is written from a template in the language of :mod:`physreason.reasoning.questions`,
its program is what the parser makes of the text (so text and program always agree), and its
answer is what :mod:`physreason.reasoning.executor` computes on the ground-truth
:class:`ReasoningWorld` (observation, factual future, counterfactual outcomes).

Objects are named by a minimal description that picks out one object among those seen in the
video ("the cube" if it is the only cube, else "the red cube", "the metal cube"...), chosen at
random among the minimal ones. Per video the numbers of questions follow CLEVRER's ratios
(:class:`QuestionConfig`), descriptive questions first, then explanatory, predictive and
counterfactual ones (``question_id`` in that order, as NS-DR expects).

Rules (a question, or an option, breaking one is not asked):

- **Well-defined.** A question or option whose program raises :class:`ExecutionError` (an
  object or event description that is not unique, a missing order...) is dropped.
- **Robust answers.** The answer must be the same on perturbed copies of the world
  (:func:`perturbed_worlds`): the moving threshold scaled by 1/``speed_factor`` and
  ``speed_factor`` (no object's speed is near ``MOVING_SPEED`` where it matters), the speeds
  read ``event_margin`` frames earlier and later (no object starts or stops moving right at a
  queried frame), and, for every two events at most ``event_margin`` frames apart, each moved
  just past the other (no before/after/order/causal answer rests on events too close in time).
- **Balanced answers.** Descriptive questions are drawn per subtype from a pool of evaluated
  candidates, picking the answer value uniformly among those available, then a question with
  it (exist yes/no, count 0-5 and the attribute words spread out). Count answers above 5 (out
  of CLEVRER's vocabulary) are dropped.
- **Balanced options.** A multiple-choice question has at least one correct and one wrong
  option; with n options, n/2 are correct (rounded at random for odd n) as far as the
  candidates allow. Explanatory and counterfactual questions have up to 4 options, predictive
  exactly 2 (one correct, one wrong).
- **Explanatory.** Targets are observed collisions and exits. "The presence of X" is only
  offered for objects not taking part in the target (the executor's causal rule excludes the
  target itself, so a participant's presence would read as wrong).
- **Predictive** (only with a future world that has unseen events). Correct options are unseen
  collisions of two seen objects at frames ``[n_observed + window_margin, n_total - window_margin)``;
  wrong options are pairs of seen objects that do not collide from ``n_observed - window_margin``
  on and are more than ``clearance`` apart at the last simulated frame. Pairs colliding within
  ``window_margin`` frames of the observed window's end or of the simulation's end are not used.
- **Counterfactual.** With object X removed, correct options are pairs colliding before
  ``n_observed - window_margin`` (the executor counts collisions inside the observed window);
  wrong options are pairs that never collide in the whole counterfactual rollout; pairs
  colliding only near or after the window's end are not used, nor pairs involving X.
- **Informative.** A descriptive subtype is asked in a video only if its candidates have at
  least two different answers.
- **Determinism.** All randomness comes from ``numpy.random.default_rng([seed, scene_index, 1])``
  (the scene sampler uses ``[seed, scene_index]``; the third key keeps the streams apart).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import TypeVar

import numpy as np

from physreason.datasets.questions import DESCRIPTIVE_SUBTYPES, Choice, Question, VideoQuestions
from physreason.datasets.records import Counterfactuals, ObjectInfo, Observation, World
from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.reasoning.executor import ExecutionError, execute, execute_choice
from physreason.reasoning.program import Node, to_postfix
from physreason.reasoning.questions import parse_choice_tree, read_question
from physreason.reasoning.world import ReasoningWorld, WorldEvent

_ATTRS: tuple[str, ...] = ("color", "material", "shape")
_VOCAB: dict[str, tuple[str, ...]] = {"color": COLORS, "material": MATERIALS, "shape": SHAPES}
_STREAM = 1
"""Third seed key: keeps the question stream apart from the scene sampler's ``[seed, scene_index]``."""
_MAX_COUNT = 5
"""Largest count answer in CLEVRER's answer vocabulary."""
_KIND_ORDER = {"start": 0, "end": 2}

Desc = tuple[str | None, str | None, str | None]
"""An object description: (color, material, shape), None where a word is left out."""
_BARE: Desc = (None, None, None)
T = TypeVar("T")


@dataclass(frozen=True)
class QuestionConfig:
    """How many questions of each type a video gets and the margins of the rules (module docstring).

    Means per video (a video gets the integer part plus one with the fractional part's
    probability, as far as the scene allows) default to CLEVRER's totals over 20,000 videos:
    219,918 descriptive, 33,811 explanatory, 14,298 predictive and 37,253 counterfactual.
    ``subtypes``: relative frequency of each descriptive subtype. ``candidates``: candidate
    questions drawn per descriptive subtype. ``event_margin``, ``window_margin``: frames;
    ``speed_factor``: > 1; ``clearance``: world units.
    """

    descriptive: float = 219_918 / 20_000
    explanatory: float = 33_811 / 20_000
    predictive: float = 14_298 / 20_000
    counterfactual: float = 37_253 / 20_000
    subtypes: tuple[tuple[str, float], ...] = (("count", 0.3), ("exist", 0.3), ("query_color", 0.15),
                                               ("query_material", 0.1), ("query_shape", 0.15))
    candidates: int = 40
    max_options: int = 4
    event_margin: int = 2
    window_margin: int = 2
    speed_factor: float = 2.0
    clearance: float = 0.8


@dataclass(frozen=True)
class _Asked:
    """A generated text with its program and answer (a question, or an option)."""

    text: str
    program: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class _Video:
    """What the templates draw on: the world, its perturbed copies and the records behind it."""

    world: ReasoningWorld
    variants: tuple[ReasoningWorld, ...]
    objects: dict[int, ObjectInfo]
    future: World | None
    counterfactuals: Counterfactuals | None
    config: QuestionConfig

    @property
    def seen(self) -> list[ObjectInfo]:
        return list(self.world.objects)

    @property
    def real_events(self) -> list[WorldEvent]:
        """Observed in/out/collision events whose objects were all seen."""
        ids = {o.id for o in self.world.objects}
        return [e for e in self.world.events if e.is_real and ids.issuperset(e.objects)]

    def stable(self, run: Callable[[ReasoningWorld], str]) -> str | None:
        """The answer of ``run`` on the world if every perturbed copy gives it too, else None."""
        try:
            answer = run(self.world)
            if any(run(world) != answer for world in self.variants):
                return None
        except ExecutionError:
            return None
        return answer


# ---------------------------------------------------------------- perturbed worlds
def _resorted(events: Sequence[WorldEvent]) -> tuple[WorldEvent, ...]:
    return tuple(sorted(events, key=lambda e: (e.frame, _KIND_ORDER.get(e.kind, 1), e.kind, e.objects)))


def perturbed_worlds(world: ReasoningWorld, event_margin: int, speed_factor: float) -> tuple[ReasoningWorld, ...]:
    """Copies of ``world`` within what perception or a fitted model could plausibly get wrong.

    The moving threshold divided and multiplied by ``speed_factor``; the speeds shifted by
    ``event_margin`` frames either way; and for each two events (pseudo-events included) at
    most ``event_margin`` frames apart, one copy with the earlier moved just after the later
    and one with the later moved just before the earlier.
    """
    out = [replace(world, moving_speed=world.moving_speed / speed_factor),
           replace(world, moving_speed=world.moving_speed * speed_factor)]
    frames = np.arange(world.n_observed)
    for shift in (-event_margin, event_margin):
        out.append(replace(world, speed=world.speed[:, np.clip(frames - shift, 0, world.n_observed - 1)]))
    events = list(world.events)
    last = world.n_observed - 1
    for i, j in combinations(range(len(events)), 2):
        first, second = events[i], events[j]
        if first.frame is None or second.frame is None or second.frame - first.frame > event_margin:
            continue
        for k, frame in ((i, second.frame + 1), (j, first.frame - 1)):
            moved = events.copy()
            moved[k] = replace(events[k], frame=int(np.clip(frame, 0, last)))
            out.append(replace(world, events=_resorted(moved)))
    return tuple(out)


# ---------------------------------------------------------------- naming objects and events
def _matches(obj: ObjectInfo, desc: Desc) -> bool:
    return all(value is None or getattr(obj, attr) == value for attr, value in zip(_ATTRS, desc))


def _desc_of(obj: ObjectInfo, attrs: Sequence[str]) -> Desc:
    color, material, shape = (getattr(obj, a) if a in attrs else None for a in _ATTRS)
    return color, material, shape


def unique_names(objects: Sequence[ObjectInfo], obj: ObjectInfo, exclude: str | None = None) -> list[Desc]:
    """The shortest descriptions of ``obj`` (never bare, never using ``exclude``) matching it alone."""
    if obj not in objects:
        return []
    allowed = [a for a in _ATTRS if a != exclude]
    for size in range(1, len(allowed) + 1):
        found = [desc for subset in combinations(allowed, size)
                 if sum(_matches(o, desc := _desc_of(obj, subset)) for o in objects) == 1]
        if found:
            return found
    return []


def _words(desc: Desc, plural: bool = False) -> str:
    color, material, shape = desc
    noun = (shape or "object") + ("s" if plural else "")
    return " ".join(w for w in (color, material, noun) if w)


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def _frame(event: WorldEvent) -> int:
    """The frame of an observed event (only hypothetical ``all_events`` have none)."""
    if event.frame is None:
        raise ValueError(f"{event} has no frame")
    return event.frame


def _key(ids: Sequence[int]) -> tuple[int, int]:
    """The sorted object pair of a collision."""
    a, b = sorted(ids)
    return a, b


def _the(video: _Video, rng: np.random.Generator, object_id: int, exclude: str | None = None) -> str | None:
    """'the <minimal description>' of an object, or None if it cannot be named (unseen...)."""
    names = unique_names(video.seen, video.objects[object_id], exclude)
    return f"the {_words(_pick(rng, names))}" if names else None


def _some(rng: np.random.Generator, obj: ObjectInfo, exclude: str | None = None, bare: float = 0.4) -> Desc:
    """A random, possibly bare, partial description of ``obj`` (not unique in general)."""
    allowed = [a for a in _ATTRS if a != exclude]
    weights = np.array([bare, 0.4, 0.2, 0.1][:len(allowed) + 1])
    size = int(rng.choice(len(weights), p=weights / weights.sum()))
    return _desc_of(obj, [allowed[i] for i in rng.permutation(len(allowed))[:size]])


def _pair(video: _Video, rng: np.random.Generator, ids: Sequence[int]) -> list[str] | None:
    names = []
    for k in rng.permutation(list(ids)):
        name = _the(video, rng, int(k))
        if name is None:
            return None
        names.append(name)
    return names


def event_phrase(video: _Video, rng: np.random.Generator, event: WorldEvent) -> str | None:
    """A noun phrase for an observed event ('the collision between the cube and the sphere')."""
    names = _pair(video, rng, event.objects)
    if names is None:
        return None
    if event.kind == "collision":
        a, b = names
        return _pick(rng, [f"the collision between {a} and {b}", f"{a}'s colliding with {b}"])
    noun = {"in": ("entrance", "entering the scene"), "out": ("exit", "exiting the scene")}[event.kind]
    return f"{names[0]}'s {_pick(rng, noun)}"


def event_clause(video: _Video, rng: np.random.Generator, event: WorldEvent, phrase: float = 0.0) -> str | None:
    """A clause for an event after 'when', 'before' or 'after' ('the cube enters the scene'); a
    noun phrase ('the cube's entrance') with probability ``phrase``."""
    if event.kind in ("start", "end"):
        return f"the video {'begins' if event.kind == 'start' else 'ends'}"
    if rng.random() < phrase:
        return event_phrase(video, rng, event)
    names = _pair(video, rng, event.objects)
    if names is None:
        return None
    if event.kind == "collision":
        a, b = names
        return _pick(rng, [f"{a} collides with {b}", f"{a} and {b} collide"])
    return f"{names[0]} {'enters' if event.kind == 'in' else 'exits'} the scene"


def collision_choice(video: _Video, rng: np.random.Generator, pair: Sequence[int]) -> str | None:
    """A predictive/counterfactual option: 'The cube collides with the sphere' / '... collide'."""
    names = _pair(video, rng, pair)
    if names is None:
        return None
    a, b = names
    return _capital(_pick(rng, [f"{a} collides with {b}", f"{a} and {b} collide"]))


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


# ---------------------------------------------------------------- descriptive templates
def _when(video: _Video, rng: np.random.Generator, event: WorldEvent | None) -> str | None:
    """' when <event>' ('' for None: the whole video); None if the event cannot be named."""
    if event is None:
        return ""
    clause = event_clause(video, rng, event)
    return None if clause is None else f" when {clause}"


def _timing(video: _Video, rng: np.random.Generator, frame: int | None = None) -> str | None:
    """'', or ' before/after <a real event>' (on the side of ``frame`` when given)."""
    events = video.real_events
    if not events or rng.random() < 0.4:
        return ""
    other: WorldEvent = _pick(rng, events)
    if frame is None:
        word = _pick(rng, ["before", "after"])
    elif frame == other.frame:
        return None
    else:
        word = "before" if frame < _frame(other) else "after"
    clause = event_clause(video, rng, other, phrase=0.3)
    return None if clause is None else f" {word} {clause}"


def _any_event(video: _Video, rng: np.random.Generator, none: float = 0.35) -> WorldEvent | None:
    """None (the whole video) or a random observed event, pseudo-events included."""
    if rng.random() < none:
        return None
    events = [e for e in video.world.events if not e.is_real] + video.real_events
    return _pick(rng, events)


def _plural_desc(video: _Video, rng: np.random.Generator) -> Desc:
    """A description of a group: bare, part of a seen object's, or random words."""
    if rng.random() < 0.8:
        return _some(rng, _pick(rng, video.seen), bare=0.25)
    attrs = [a for a in _ATTRS if rng.random() < 0.5] or [_pick(rng, _ATTRS)]
    return tuple(_pick(rng, _VOCAB[a]) if a in attrs else None for a in _ATTRS)


def _group_question(video: _Video, rng: np.random.Generator, count: bool) -> str | None:
    """A count ('How many ...') or exist ('Are there any ...' / 'Is there a ...') question."""
    desc = _plural_desc(video, rng)
    plural, single = _words(desc, plural=True), _words(desc)
    singular = not count and desc != _BARE and rng.random() < 0.4  # "is there a object" is not English
    form = rng.choice(["motion", "static", "in_out", "partners", "collisions"], p=[0.4, 0.05, 0.2, 0.15, 0.2])
    if form == "motion":
        motion = _pick(rng, ["moving", "stationary"])
        when = _when(video, rng, _any_event(video, rng))
        if when is None:
            return None
        if count:
            return _pick(rng, [f"How many {motion} {plural} are there{when}?", f"How many {plural} are {motion}{when}?"])
        if singular:
            return _pick(rng, [f"Is there a {motion} {single}{when}?", f"Is there a {single} that is {motion}{when}?"])
        return _pick(rng, [f"Are there any {motion} {plural}{when}?", f"Are there any {plural} that are {motion}{when}?"])
    if form == "static":
        return f"How many {plural} are there?" if count else (
            f"Is there a {single}?" if singular else f"Are there any {plural}?")
    if form == "in_out":
        kind = _pick(rng, ["enter", "exit"])
        timing = _timing(video, rng)
        if timing is None:
            return None
        if count:
            return f"How many {plural} {kind} the scene{timing}?"
        return f"Is there a {single} that {kind}s the scene{timing}?" if singular else \
            f"Are there any {plural} that {kind} the scene{timing}?"
    if form == "partners":
        collisions = [e for e in video.real_events if e.kind == "collision"]
        other = _the(video, rng, _pick(rng, _pick(rng, collisions).objects)) if collisions else None
        if other is None:
            return None
        if count:
            return f"How many {plural} collide with {other}?"
        return f"Is there a {single} that collides with {other}?" if singular else \
            f"Are there any {plural} that collide with {other}?"
    timing = _timing(video, rng)
    if timing is None:
        return None
    if count:
        return f"How many collisions {_pick(rng, ['happen', 'are there'])}{timing}?"
    if rng.random() < 0.5:
        return f"Is there a collision{_pick(rng, ['', ' that happens'])}{timing}?"
    return f"Are there any collisions{_pick(rng, ['', ' that happen'])}{timing}?"


def _reference(video: _Video, rng: np.random.Generator, attr: str) -> str | None:
    """A singular reference to one object that does not use ``attr``, e.g. 'the first object to enter the scene'."""
    form = rng.choice(["plain", "motion", "in_out", "nth_in_out", "partner", "nth_partner"],
                      p=[0.15, 0.25, 0.15, 0.15, 0.15, 0.15])
    obj: ObjectInfo = _pick(rng, video.seen)
    if form == "plain":
        return _the(video, rng, obj.id, exclude=attr)
    if form == "motion":
        event = _any_event(video, rng)
        if event is None:
            motion = "moving" if video.world.ever_moving(obj) else "stationary"
        elif video.world.is_visible(obj, _frame(event)):
            motion = "moving" if video.world.is_moving(obj, _frame(event)) else "stationary"
        else:
            return None
        single, when = _words(_some(rng, obj, attr)), _when(video, rng, event)
        if when is None:
            return None
        return _pick(rng, [f"the {motion} {single}{when}", f"the {single} that is {motion}{when}"])
    crossings = [e for e in video.real_events if e.kind in ("in", "out")]
    collisions = [e for e in video.real_events if e.kind == "collision"]
    if form == "in_out" and crossings:
        event = _pick(rng, crossings)
        timing = _timing(video, rng, _frame(event))
        if timing is None:
            return None
        verb = "enters" if event.kind == "in" else "exits"
        return f"the {_words(_some(rng, video.objects[event.objects[0]], attr))} that {verb} the scene{timing}"
    if form == "nth_in_out" and crossings:
        event = _pick(rng, crossings)
        order = _pick(rng, ["first", "second", "last"])
        verb = "enter" if event.kind == "in" else "exit"
        return f"the {order} {_words(_some(rng, video.objects[event.objects[0]], attr))} to {verb} the scene"
    if form in ("partner", "nth_partner") and collisions:
        event = _pick(rng, collisions)
        subject, other = (int(k) for k in rng.permutation(list(event.objects)))
        single, name = _words(_some(rng, video.objects[subject], attr)), _the(video, rng, other)
        if name is None:
            return None
        if form == "partner":
            return f"the {single} that collides with {name}"
        return f"the {_pick(rng, ['first', 'second', 'last'])} {single} to collide with {name}"
    return None


def _query_question(video: _Video, rng: np.random.Generator, attr: str) -> str | None:
    ref = _reference(video, rng, attr)
    if ref is None:
        return None
    return _pick(rng, [f"What {attr} is {ref}?", f"What is the {attr} of {ref}?"])


def _candidate(video: _Video, rng: np.random.Generator, subtype: str) -> str | None:
    if subtype in ("count", "exist"):
        return _group_question(video, rng, subtype == "count")
    return _query_question(video, rng, subtype.removeprefix("query_"))


def _pool(video: _Video, rng: np.random.Generator, subtype: str) -> dict[str, list[_Asked]]:
    """Evaluated candidates of a descriptive subtype, by answer (distinct programs only)."""
    pool: dict[str, list[_Asked]] = {}
    programs: set[tuple[str, ...]] = set()
    for _ in range(video.config.candidates):
        text = _candidate(video, rng, subtype)
        if text is None:
            continue
        parsed = read_question(text)
        program = tuple(parsed.program)
        if parsed.subtype != subtype or program in programs:
            continue
        programs.add(program)
        answer = video.stable(lambda world: execute(parsed.tree, world).answer)
        if answer is None or (subtype == "count" and int(answer) > _MAX_COUNT):
            continue
        pool.setdefault(answer, []).append(_Asked(text, program, answer))
    return pool


def _descriptive(video: _Video, rng: np.random.Generator, n: int) -> list[tuple[_Asked, str]]:
    """``n`` descriptive questions (fewer if the pools run dry) with their subtypes.

    A subtype is only asked if its pool has at least two different answers (so that no answer
    follows from the scene alone, e.g. every object being rubber). Each pick takes an answer used least so far in the video (ties at random), then a question
    with it. Exist questions alternate yes and no: when the answer due is missing, the video
    gets no more exist questions.
    """
    names = [name for name, _ in video.config.subtypes]
    weights = np.array([w for _, w in video.config.subtypes], dtype=float)
    pools = {name: _pool(video, rng, name) for name in names}
    pools = {name: pool if len(pool) >= 2 else {} for name, pool in pools.items()}
    used: dict[str, dict[str, int]] = {name: {} for name in names}
    chosen = []
    while len(chosen) < n:
        live = np.array([bool(pools[name]) for name in names])
        if not live.any():
            break
        p = weights * live
        subtype = names[int(rng.choice(len(names), p=p / p.sum()))]
        counts = used[subtype]
        answers = ["no", "yes"] if subtype == "exist" else sorted(pools[subtype])
        fewest = min(counts.get(a, 0) for a in answers)
        answer = _pick(rng, [a for a in answers if counts.get(a, 0) == fewest])
        if answer not in pools[subtype]:  # only for exist
            pools[subtype] = {}
            continue
        counts[answer] = counts.get(answer, 0) + 1
        bucket = pools[subtype][answer]
        chosen.append((bucket.pop(int(rng.integers(len(bucket)))), subtype))
        if not bucket:
            del pools[subtype][answer]
    return chosen


# ---------------------------------------------------------------- multiple choice
def _option(video: _Video, question: Node, text: str | None) -> _Asked | None:
    """An option with its robust 'correct'/'wrong' answer, or None."""
    if text is None:
        return None
    tree = parse_choice_tree(text)
    answer = video.stable(lambda world: execute_choice(question, tree, world).answer)
    return None if answer is None else _Asked(text, tuple(to_postfix(tree)), answer)


def _balanced(rng: np.random.Generator, options: Sequence[_Asked], most: int) -> list[_Asked] | None:
    """Up to ``most`` options, half of them correct as far as possible, at least one of each;
    options earlier in the list are preferred. None when no such set exists."""
    correct = [o for o in options if o.answer == "correct"]
    wrong = [o for o in options if o.answer == "wrong"]
    n = min(most, len(correct) + len(wrong))
    if not correct or not wrong or n < 2:
        return None
    k = n // 2 + int(n % 2 == 1 and rng.random() < 0.5)
    k = min(max(k, n - len(wrong), 1), len(correct), n - 1)
    chosen = correct[:k] + wrong[:n - k]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def _mc(video: _Video, rng: np.random.Generator, text: str, options: Sequence[str | None],
        priority: Sequence[int], most: int) -> tuple[_Asked, list[_Asked]] | None:
    """A multiple-choice question with balanced options taken from ``options`` (lower priority first)."""
    parsed = read_question(text)
    order = sorted(rng.permutation(len(options)), key=lambda i: priority[i])
    evaluated = [o for i in order if (o := _option(video, parsed.tree, options[i])) is not None]
    picked = _balanced(rng, evaluated, most)
    return None if picked is None else (_Asked(text, tuple(parsed.program), ""), picked)


def _explanatory(video: _Video, rng: np.random.Generator, n: int) -> list[tuple[_Asked, list[_Asked]]]:
    """Questions on what is (not) responsible for an observed collision or exit."""
    events = video.real_events
    targets = [e for e in events if e.kind in ("collision", "out")]
    out = []
    for i in rng.permutation(len(targets)):
        if len(out) == n:
            break
        target = targets[i]
        phrase = event_phrase(video, rng, target)
        if phrase is None:
            continue
        text = f"Which of the following is {'not ' if rng.random() < 0.5 else ''}responsible for {phrase}?"
        others = [o for o in video.seen if o.id not in target.objects]
        past = [e for e in events if e != target]
        options = [f"The presence of {name}" if (name := _the(video, rng, o.id)) else None for o in others]
        options += [_capital(p) if (p := event_phrase(video, rng, e)) else None for e in past]
        priority = [0] * len(others) + [int(_frame(e) > _frame(target)) for e in past]
        question = _mc(video, rng, text, options, priority, video.config.max_options)
        if question is not None:
            out.append(question)
    return out


def _pairs(video: _Video, without: int | None = None) -> list[tuple[int, int]]:
    ids = sorted(o.id for o in video.seen if o.id != without)
    return list(combinations(ids, 2))


def _predictive(video: _Video, rng: np.random.Generator, n: int) -> list[tuple[_Asked, list[_Asked]]]:
    """'What will happen next?' with one unseen collision and one pair that does not collide."""
    if video.future is None or not n:
        return []
    margin, observed = video.config.window_margin, video.world.n_observed
    total = video.future.observation.n_frames
    frames: dict[tuple[int, int], list[int]] = {}
    for e in video.future.observation.events:
        if e.kind == "collision":
            frames.setdefault(_key(e.objects), []).append(e.frame)
    last = {t.object_id: t.position[-1, :2] for t in video.future.observation.tracks}
    correct, wrong = [], []
    for pair in _pairs(video):
        late = [f for f in frames.get(pair, []) if f >= observed - margin]
        if not late:
            if np.linalg.norm(last[pair[0]] - last[pair[1]]) > video.config.clearance:
                wrong.append(pair)
        elif all(observed + margin <= f < total - margin for f in late):
            correct.append(pair)
    out = []
    for i in rng.permutation(len(correct))[:n]:
        if not wrong:
            break
        pairs = [correct[i], wrong[int(rng.integers(len(wrong)))]]
        text = f"{_pick(rng, ['What', 'Which event', 'Which of the following'])} will happen next?"
        question = _mc(video, rng, text, [collision_choice(video, rng, p) for p in pairs], [0, 0], 2)
        if question is not None:
            out.append(question)
    return out


def _counterfactual(video: _Video, rng: np.random.Generator, n: int) -> list[tuple[_Asked, list[_Asked]]]:
    """'What will (not) happen if X is removed?' with collisions with and without X."""
    if video.counterfactuals is None or not n:
        return []
    cutoff = video.world.n_observed - video.config.window_margin
    factual = {_key(e.objects) for e in video.real_events if e.kind == "collision"}
    out = []
    for i in rng.permutation(len(video.seen)):
        if len(out) == n:
            break
        removed = video.seen[i]
        name = _the(video, rng, removed.id)
        outcome = next((o for o in video.counterfactuals.outcomes if o.removed == removed.id and not o.changes), None)
        if name is None or outcome is None:
            continue
        frames: dict[tuple[int, int], list[int]] = {}
        for e in outcome.events:
            if e.kind == "collision":
                frames.setdefault(_key(e.objects), []).append(e.frame)
        pairs = [p for p in _pairs(video, removed.id) if p not in frames or min(frames[p]) < cutoff]
        wh = _pick(rng, ["what", "which event", "which of the following"])
        negation = "not " if rng.random() < 0.5 else ""
        removal = _pick(rng, [f"if {name} is removed", f"without {name}"])
        text = _capital(_pick(rng, [f"{removal}, {wh} will {negation}happen?", f"{wh} will {negation}happen {removal}?"]))
        options = [collision_choice(video, rng, p) for p in pairs]
        priority = [int(p not in factual and p not in frames) for p in pairs]
        question = _mc(video, rng, text, options, priority, video.config.max_options)
        if question is not None:
            out.append(question)
    return out


# ---------------------------------------------------------------- the video's questions
def _draw(rng: np.random.Generator, mean: float) -> int:
    """The integer part of ``mean``, plus one with its fractional part's probability."""
    whole = int(mean)
    return whole + int(rng.random() < mean - whole)


def generate_questions(observation: Observation, future: World | None, counterfactuals: Counterfactuals | None,
                       seed: int, config: QuestionConfig = QuestionConfig()) -> VideoQuestions:
    """CLEVRER-style questions about one video, answered on its ground truth (module docstring).

    Predictive questions need ``future``, counterfactual ones ``counterfactuals``. The same
    records, seed and config give the same questions.
    """
    if {name for name, _ in config.subtypes} - set(DESCRIPTIVE_SUBTYPES):
        raise ValueError(f"unknown descriptive subtype in {config.subtypes}")
    rng = np.random.default_rng([seed, observation.scene_index, _STREAM])
    world = ReasoningWorld.from_records(observation, future, counterfactuals)
    video = _Video(world, perturbed_worlds(world, config.event_margin, config.speed_factor),
                   {o.id: o for o in observation.objects}, future, counterfactuals, config)
    counts = [_draw(rng, mean) for mean in (config.descriptive, config.explanatory, config.predictive,
                                            config.counterfactual)]
    questions: list[Question] = []
    for asked, subtype in _descriptive(video, rng, counts[0]) if video.seen else []:
        questions.append(Question(len(questions), asked.text, "descriptive", asked.program, subtype, asked.answer))
    makers = (("explanatory", _explanatory), ("predictive", _predictive), ("counterfactual", _counterfactual))
    for (kind, make), n in zip(makers, counts[1:]):
        for asked, options in make(video, rng, n):
            choices = tuple(Choice(k, o.text, o.program, o.answer) for k, o in enumerate(options))
            questions.append(Question(len(questions), asked.text, kind, asked.program, choices=choices))
    return VideoQuestions(observation.scene_index, tuple(questions), observation.video_filename)
