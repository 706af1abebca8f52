"""Parse CLEVRER questions and multiple-choice options into GT-dialect postfix programs.

The language is the Lark grammar ``question.lark``. Questions are case-insensitive and may end
in ``?`` or ``.``; anything outside the language raises ParseError naming the word at fault
and its 1-based word and character positions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer
from lark.common import LexerConf
from lark.exceptions import UnexpectedToken
from lark.lexer import Lexer

from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES
from physreason.errors import ParseError
from physreason.reasoning.operators import BOOL, EVENT, INT, OBJECT, ORDERS, WORD
from physreason.reasoning.phrases import (
    Desc,
    EventSpec,
    collisions_with,
    crossings,
    event_of,
    in_motion,
    objects_of,
    the,
    timed,
)
from physreason.reasoning.program import SLOT, Node, to_postfix
from physreason.reasoning.typecheck import check_program

# Word classes of the grammar's declared terminals; the token value is the program literal.
_WORD_CLASSES: dict[str, tuple[str, str]] = {
    **{word: ("COLOR", word) for word in COLORS},
    **{word: ("MATERIAL", word) for word in MATERIALS},
    **{word: ("SHAPE", word) for word in SHAPES},
    **{word + "s": ("SHAPES", word) for word in SHAPES},
    **{word: ("ORDINAL", word) for word in ORDERS},
    "moving": ("MOTION", "moving"),
    "stationary": ("MOTION", "stationary"),
    **{word: ("ATTR", word) for word in ("color", "material", "shape")},
    "before": ("TIMING", "before"),
    "after": ("TIMING", "after"),
}

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ParsedQuestion:
    """A parsed question: its type, descriptive subtype (``None`` otherwise) and program tree."""

    question_type: str
    subtype: str | None
    tree: Node

    @property
    def program(self) -> list[str]:
        """The GT-dialect postfix program."""
        return to_postfix(self.tree)


def _words(text: str) -> list[tuple[int, str]]:
    """Whitespace-separated words with their character offsets; trailing ``?``/``.`` removed."""
    words = [(m.start(), m.group()) for m in _WORD.finditer(text)]
    if words:
        start, last = words[-1]
        last = last.rstrip("?.")
        words[-1:] = [(start, last)] if last else []
    return words


def _fail(text: str, pos: int, what: str) -> ParseError:
    """A ParseError naming the word containing character ``pos``."""
    for number, (start, word) in enumerate(_words(text), start=1):
        if start <= pos < start + len(word):
            return ParseError(f"{what} '{word}' at word {number} (character {start + 1}) in {text!r}")
    return ParseError(f"{what} at character {pos + 1} in {text!r}")


class _WordLexer(Lexer):
    """Splits text into words (and ``'s`` / ``,``) and gives each its terminal."""

    def __init__(self, lexer_conf: LexerConf) -> None:
        keywords = [t for t in lexer_conf.terminals if t.pattern.type == "str"]
        self._types = {t.pattern.value: (t.name, t.pattern.value) for t in keywords}
        self._types.update(_WORD_CLASSES)

    def lex(self, text: str) -> Iterator[Token]:  # type: ignore[override]  # Lark's plain-text interface
        for start, raw in _words(text):
            word = raw.lower().replace("\u2019", "'")
            comma = word.endswith(",")
            word = word.rstrip(",")
            possessive = word.endswith("'s")
            base = word[:-2] if possessive else word
            if base not in self._types:
                raise _fail(text, start, "unknown word")
            yield _token(*self._types[base], start)
            if possessive:
                yield _token("_POSS", "'s", start + len(base))
            if comma:
                yield _token(self._types[","][0], ",", start + len(word))


def _token(kind: str, value: str, start: int) -> Token:
    return Token(kind, value, start_pos=start, line=1, column=start + 1)


def _descriptive(tree: Node) -> ParsedQuestion:
    return ParsedQuestion("descriptive", tree.op, tree)


def _multiple_choice(kind: str, events: Node, negated: bool) -> ParsedQuestion:
    tree = Node("belong_to", (SLOT, events))
    return ParsedQuestion(kind, None, Node("negate", (tree,)) if negated else tree)


class _Build(Transformer[Token, Any]):
    """Builds meanings bottom-up while the LALR parser reduces."""

    # objects and events
    def single(self, children: list[Token | None]) -> Desc:
        color, material, *shape = children
        return Desc(color and str(color), material and str(material), str(shape[0]) if shape else None)

    plural = single

    def entrance(self, children: list[Desc]) -> EventSpec:
        return EventSpec("in", tuple(children))

    def exit(self, children: list[Desc]) -> EventSpec:
        return EventSpec("out", tuple(children))

    def collision(self, children: list[Desc]) -> EventSpec:
        return EventSpec("collision", tuple(children))

    def video_start(self, _children: list[Token]) -> EventSpec:
        return EventSpec("start")

    def video_end(self, _children: list[Token]) -> EventSpec:
        return EventSpec("end")

    def when(self, children: list[EventSpec]) -> EventSpec:
        return children[0]

    def timing(self, children: list[Any]) -> tuple[str, EventSpec]:
        word, spec = children
        return str(word), spec

    def in_out(self, children: list[Token]) -> str:
        return "in" if children[0].startswith("enter") else "out"

    in_out_plural = in_out

    # singular references to one object
    def ref_plain(self, children: list[Desc]) -> Node:
        return the(children[0])

    def ref_moving(self, children: list[Any]) -> Node:
        motion, desc, when = children
        return Node("unique", (in_motion(desc, str(motion), when),))

    def ref_moving_clause(self, children: list[Any]) -> Node:
        desc, motion, when = children
        return Node("unique", (in_motion(desc, str(motion), when),))

    def ref_in_out(self, children: list[Any]) -> Node:
        desc, kind, timing = children
        return Node("get_object", (Node("unique", (timed(crossings(desc, kind), timing),)),))

    def ref_nth_in_out(self, children: list[Any]) -> Node:
        order, desc, kind = children
        return Node("get_object", (Node("filter_order", (crossings(desc, kind), str(order))),))

    def ref_partner(self, children: list[Desc]) -> Node:
        subject, other = children
        return Node("get_col_partner", (Node("unique", (collisions_with(subject, other),)), the(other)))

    def ref_nth_partner(self, children: list[Any]) -> Node:
        order, subject, other = children
        event = Node("filter_order", (collisions_with(subject, other), str(order)))
        return Node("get_col_partner", (event, the(other)))

    # descriptive questions
    def query(self, children: list[Any]) -> ParsedQuestion:
        attr, obj = children
        return _descriptive(Node(f"query_{attr}", (obj,)))

    def _moving(self, op: str, children: list[Any]) -> ParsedQuestion:
        """Count/exist over moving or stationary objects, whichever side of the noun MOTION is on."""
        if isinstance(children[0], Desc):
            children = [children[1], children[0], children[2]]
        motion, desc, when = children
        return _descriptive(Node(op, (in_motion(desc, str(motion), when),)))

    def count_moving(self, children: list[Any]) -> ParsedQuestion:
        return self._moving("count", children)

    def exist_moving(self, children: list[Any]) -> ParsedQuestion:
        return self._moving("exist", children)

    def count_objects(self, children: list[Desc]) -> ParsedQuestion:
        return _descriptive(Node("count", (objects_of(children[0]),)))

    def exist_objects(self, children: list[Desc]) -> ParsedQuestion:
        return _descriptive(Node("exist", (objects_of(children[0]),)))

    def count_in_out(self, children: list[Any]) -> ParsedQuestion:
        desc, kind, timing = children
        return _descriptive(Node("count", (timed(crossings(desc, kind), timing),)))

    def exist_in_out(self, children: list[Any]) -> ParsedQuestion:
        desc, kind, timing = children
        return _descriptive(Node("exist", (timed(crossings(desc, kind), timing),)))

    def count_partners(self, children: list[Desc]) -> ParsedQuestion:
        return _descriptive(Node("count", (collisions_with(*children),)))

    def exist_partners(self, children: list[Desc]) -> ParsedQuestion:
        return _descriptive(Node("exist", (collisions_with(*children),)))

    def count_collisions(self, children: list[Any]) -> ParsedQuestion:
        return _descriptive(Node("count", (timed(crossings(Desc(), "collision"), children[-1]),)))

    def exist_collisions(self, children: list[Any]) -> ParsedQuestion:
        return _descriptive(Node("exist", (timed(crossings(Desc(), "collision"), children[-1]),)))

    # multiple-choice questions
    def explanatory(self, children: list[Any]) -> ParsedQuestion:
        negated, spec = children
        events = Node("filter_ancestor", (Node("events"), event_of(spec)))
        return _multiple_choice("explanatory", events, negated is not None)

    def predictive(self, _children: list[Token]) -> ParsedQuestion:
        return _multiple_choice("predictive", Node("unseen_events"), False)

    def counterfactual(self, children: list[Any]) -> ParsedQuestion:
        removed = next(child for child in children if isinstance(child, Desc))
        negated = any(isinstance(child, Token) and child.type == "NOT" for child in children)
        events = Node("get_counterfact", (Node("all_events"), the(removed)))
        return _multiple_choice("counterfactual", events, negated)

    # choices
    def presence(self, children: list[Desc]) -> Node:
        return the(children[0])

    def past_event(self, children: list[EventSpec]) -> Node:
        return event_of(children[0])

    def future_collision(self, children: list[Desc]) -> Node:
        return event_of(EventSpec("collision", tuple(children)), source="all_events")


@cache
def _parser() -> Lark:
    return Lark.open(
        "question.lark",
        rel_to=__file__,
        parser="lalr",
        lexer=_WordLexer,
        start=["question", "choice"],
        transformer=_Build(),
        maybe_placeholders=True,
    )


def _parse(text: str, start: str) -> Any:
    if not _words(text):
        raise ParseError(f"empty {start}: {text!r}")
    try:
        return _parser().parse(text, start=start)
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            _, word = _words(text)[-1]
            raise ParseError(f"{start} ends too early after '{word}' in {text!r}") from None
        raise _fail(text, exc.token.start_pos, "unexpected word") from None


def read_question(text: str) -> ParsedQuestion:
    """Parse a question into its type, subtype and program tree."""
    parsed: ParsedQuestion = _parse(text, "question")
    expected = BOOL if parsed.subtype is None else {"count": INT, "exist": BOOL}.get(parsed.subtype, WORD)
    check_program(parsed.tree, expected)
    return parsed


def parse_question(text: str) -> list[str]:
    """Parse a question into its GT-dialect postfix program."""
    return read_question(text).program


def parse_choice_tree(text: str) -> Node:
    """Parse a multiple-choice option into its program tree (an object or an event)."""
    tree: Node = _parse(text, "choice")
    check_program(tree, OBJECT, EVENT)
    return tree


def parse_choice(text: str) -> list[str]:
    """Parse a multiple-choice option into its GT-dialect postfix program."""
    return to_postfix(parse_choice_tree(text))
