"""Static type checking of program trees, so an ill-typed program is rejected before it runs."""

from __future__ import annotations

from physreason.errors import ParseError
from physreason.reasoning.operators import ITEM, ITEM_OF, LITERAL_TYPES, OPERATORS
from physreason.reasoning.program import Expr, Node, Slot, to_nested

ANY = "any"
"""Type of the choice slot: it fits whatever its position accepts."""


def check(expr: Expr) -> str:
    """Return the type of a tree's value; raise ParseError naming the operator and argument at fault."""
    if isinstance(expr, Slot):
        return ANY
    if isinstance(expr, str):
        kind = LITERAL_TYPES.get(expr)
        if kind is None:
            raise ParseError(f"unknown literal '{expr}'")
        return kind
    spec = OPERATORS.get(expr.op)
    if spec is None:
        raise ParseError(f"unknown operator '{expr.op}'")
    if len(expr.args) != spec.arity:
        raise ParseError(f"operator '{expr.op}' takes {spec.arity} argument(s), got {len(expr.args)}")
    found = [check(arg) for arg in expr.args]
    for position, (kind, accepted, arg) in enumerate(zip(found, spec.args, expr.args), start=1):
        if kind != ANY and kind not in accepted:
            raise ParseError(
                f"operator '{expr.op}' argument {position} must be {' or '.join(sorted(accepted))}, "
                f"got {kind}: {_show(arg)}"
            )
    if spec.result == ITEM:
        return ITEM_OF.get(found[0], ANY)
    return spec.result


def _show(arg: Expr) -> str:
    text = to_nested(arg)
    return text if len(text) <= 60 else text[:57] + "..."


def check_program(expr: Expr, *expected: str) -> str:
    """Check a tree and that its value has one of the expected types; return that type."""
    kind = check(expr)
    if kind != ANY and kind not in expected:
        root = expr.op if isinstance(expr, Node) else expr
        raise ParseError(f"program '{root}' yields {kind}, expected {' or '.join(expected)}")
    return kind
