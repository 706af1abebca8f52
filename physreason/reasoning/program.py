"""Program trees and their two spellings: CLEVRER's postfix token list and a readable nested form.

A program is a tree of :class:`Node` (an operator applied to arguments) whose leaves are
literals (bare words such as ``green`` or ``first``, kept as ``str``). A multiple-choice question
program lacks the value its choice program leaves on the stack; that missing argument is the
:data:`SLOT`, written ``?`` in the nested form and nothing in postfix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Union

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput, UnexpectedToken

from physreason.errors import ParseError
from physreason.reasoning.operators import LITERAL_TYPES, OPERATORS


@dataclass(frozen=True)
class Node:
    """An operator applied to its arguments, left to right."""

    op: str
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class Slot:
    """The place of a choice's value in a multiple-choice question program."""


SLOT = Slot()
Expr = Union[Node, str, Slot]
"""A program (sub)tree: an operator node, a literal word, or the choice slot."""


def to_postfix(expr: Expr) -> list[str]:
    """Serialise a tree to CLEVRER's postfix token list (arguments left to right, then operator)."""
    tokens: list[str] = []
    _emit(expr, tokens)
    return tokens


def _emit(expr: Expr, tokens: list[str]) -> None:
    if isinstance(expr, Node):
        for arg in expr.args:
            _emit(arg, tokens)
        tokens.append(expr.op)
    elif isinstance(expr, str):
        tokens.append(expr)


def from_postfix(tokens: Sequence[str], slot: bool = False) -> Expr:
    """Rebuild the tree of a postfix token list with a stack, using each operator's arity.

    With ``slot=True`` the list is a multiple-choice question program: exactly one operator
    must reach below the bottom of the stack, and that argument becomes :data:`SLOT`.
    """
    stack: list[Expr] = []
    slot_used = False
    for position, token in enumerate(tokens, start=1):
        spec = OPERATORS.get(token)
        if spec is None:
            if token not in LITERAL_TYPES:
                raise ParseError(f"program token {position} '{token}' is neither an operator nor a literal")
            stack.append(token)
            continue
        missing = spec.arity - len(stack)
        if missing == 1 and slot and not slot_used:
            stack.insert(0, SLOT)
            slot_used = True
        elif missing > 0:
            raise ParseError(
                f"program token {position} '{token}' takes {spec.arity} argument(s) "
                f"but only {len(stack)} value(s) are on the stack"
            )
        cut = len(stack) - spec.arity
        args = tuple(stack[cut:])
        del stack[cut:]
        stack.append(Node(token, args))
    if slot and not slot_used:
        raise ParseError("question program never uses its choice's value")
    if len(stack) != 1:
        raise ParseError(f"program leaves {len(stack)} values on the stack, expected 1")
    return stack[0]


def mc_program(choice: Sequence[str], question: Sequence[str]) -> Expr:
    """The tree of a multiple-choice option: the choice program then the question program on one stack."""
    return from_postfix([*choice, *question])


def fill_slot(expr: Expr, value: Expr) -> Expr:
    """Replace the slot of a question tree by a choice's tree."""
    if isinstance(expr, Slot):
        return value
    if isinstance(expr, Node):
        return Node(expr.op, tuple(fill_slot(arg, value) for arg in expr.args))
    return expr


def to_nested(expr: Expr) -> str:
    """Write a tree in the nested form, e.g. ``query_shape(unique(filter_color(objects(), green)))``."""
    if isinstance(expr, Node):
        return f"{expr.op}({', '.join(to_nested(arg) for arg in expr.args)})"
    if isinstance(expr, Slot):
        return "?"
    return expr


class _Build(Transformer[Token, Expr]):
    """Builds trees while the LALR parser reduces (inline transformation)."""

    def call(self, children: list[Any]) -> Node:
        name: Token = children[0]
        args = tuple(arg for arg in children[1:] if arg is not None)
        spec = OPERATORS.get(name)
        if spec is None:
            raise ParseError(f"unknown operator '{name}' at character {name.column}")
        if len(args) != spec.arity:
            raise ParseError(
                f"operator '{name}' at character {name.column} takes {spec.arity} argument(s), got {len(args)}"
            )
        return Node(spec.name, args)

    def literal(self, children: list[Token]) -> str:
        (word,) = children
        if word in OPERATORS:
            raise ParseError(f"operator '{word}' at character {word.column} needs parentheses: {word}(...)")
        if word not in LITERAL_TYPES:
            raise ParseError(f"unknown literal '{word}' at character {word.column}")
        return str(word)

    def slot(self, _children: list[Token]) -> Slot:
        return SLOT


@cache
def _nested_parser() -> Lark:
    return Lark.open("program.lark", rel_to=__file__, parser="lalr", transformer=_Build())


def from_nested(text: str) -> Expr:
    """Parse the nested form into a tree; raises ParseError naming the character at fault."""
    try:
        return _nested_parser().parse(text)  # type: ignore[return-value]
    except UnexpectedToken as exc:
        where = "end of text" if exc.token.type == "$END" else f"'{exc.token}' at character {exc.column}"
        raise ParseError(f"unexpected {where} in program {text!r}") from None
    except UnexpectedInput as exc:
        found = text[exc.pos_in_stream] if exc.pos_in_stream is not None else ""
        raise ParseError(f"unexpected '{found}' at character {exc.column} in program {text!r}") from None


def to_gt(expr: Expr) -> Expr:
    """Rewrite a tree into the released-JSON (GT) dialect, e.g. NS-DR ``query_frame`` → ``get_frame``.

    NS-DR's ``filter_start``/``filter_end`` take an events list; GT's ``start``/``end`` take none,
    so the argument is dropped. Operators GT lacks raise ParseError.
    """
    if not isinstance(expr, Node):
        return expr
    spec = OPERATORS[expr.op]
    if spec.gt is None:
        raise ParseError(f"operator '{expr.op}' has no equivalent in the GT dialect")
    if OPERATORS[spec.gt].arity == 0:
        return Node(spec.gt)
    return Node(spec.gt, tuple(to_gt(arg) for arg in expr.args))
