"""Program trees: postfix/nested round trips, the operator table, type checking and dialects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from physreason.errors import ParseError
from physreason.reasoning.operators import (
    GT_OPERATORS,
    ITEM,
    ITEM_OF,
    LITERAL_TYPES,
    OPERATORS,
)
from physreason.reasoning.program import (
    SLOT,
    Expr,
    Node,
    fill_slot,
    from_nested,
    from_postfix,
    mc_program,
    to_gt,
    to_nested,
    to_postfix,
)
from physreason.reasoning.typecheck import check, check_program
from realdata import REAL_QUESTIONS


def real_questions() -> list[dict]:
    assert REAL_QUESTIONS.exists(), f"{REAL_QUESTIONS} is missing (shared/ must sit beside the repository)"
    return [q for video in json.loads(REAL_QUESTIONS.read_text()).values() for q in video["questions"]]


# ---------------------------------------------------------------- real programs


def test_real_programs_round_trip() -> None:
    questions = real_questions()
    assert len(questions) == 564
    n_choices = 0
    for question in questions:
        tree = from_postfix(question["program"], slot=True)
        assert to_postfix(tree) == question["program"]
        assert from_nested(to_nested(tree)) == tree
        assert check(tree) == "bool"
        for choice in question["choices"]:
            n_choices += 1
            choice_tree = from_postfix(choice["program"])
            assert to_postfix(choice_tree) == choice["program"]
            assert from_nested(to_nested(choice_tree)) == choice_tree
            assert check(choice_tree) in ("object", "event")
            whole = mc_program(choice["program"], question["program"])
            assert whole == fill_slot(tree, choice_tree)
            assert check(whole) == "bool"
    assert n_choices == 2256


def test_nested_form_reads_like_the_paper() -> None:
    tree = from_postfix(["objects", "green", "filter_color", "unique", "query_shape"])
    assert to_nested(tree) == "query_shape(unique(filter_color(objects(), green)))"
    question = from_postfix(["unseen_events", "belong_to"], slot=True)
    assert to_nested(question) == "belong_to(?, unseen_events())"
    assert from_nested("belong_to( ?,unseen_events( ) )") == question


# ---------------------------------------------------------------- random well-typed programs

_MINIMAL: dict[str, str] = {
    "objects": "objects()",
    "events": "events()",
    "event": "start()",
    "object": "unique(objects())",
    "frame": "get_frame(end())",
    "bool": "exist(objects())",
    "int": "count(events())",
    "word": "query_color(unique(objects()))",
}
_LITERALS: dict[str, list[str]] = {}
for _word, _kind in LITERAL_TYPES.items():
    _LITERALS.setdefault(_kind, []).append(_word)


def _producers(kind: str) -> list[tuple[str, tuple[frozenset[str], ...]]]:
    """Operators yielding ``kind``, with the argument types that make them yield it."""
    found = []
    for spec in OPERATORS.values():
        if spec.result == kind:
            found.append((spec.name, spec.args))
        elif spec.result == ITEM:
            lists = frozenset(t for t in spec.args[0] if ITEM_OF[t] == kind)
            if lists:
                found.append((spec.name, (lists,)))
    return found


@st.composite
def programs(draw: st.DrawFn, kind: str, depth: int = 4) -> Expr:
    """A random well-typed tree yielding ``kind``."""
    if kind in _LITERALS:
        return draw(st.sampled_from(_LITERALS[kind]))
    if depth <= 0:
        return from_nested(_MINIMAL[kind])
    name, arg_types = draw(st.sampled_from(_producers(kind)))
    args = tuple(draw(programs(draw(st.sampled_from(sorted(types))), depth - 1)) for types in arg_types)
    return Node(name, args)


_ROOTS = st.sampled_from(sorted(_MINIMAL)).flatmap(lambda kind: st.tuples(st.just(kind), programs(kind)))


@settings(max_examples=300, deadline=None)
@given(_ROOTS)
def test_random_programs_round_trip_and_type_check(case: tuple[str, Expr]) -> None:
    kind, tree = case
    assert check(tree) == kind
    assert from_postfix(to_postfix(tree)) == tree
    assert from_nested(to_nested(tree)) == tree


@settings(max_examples=200, deadline=None)
@given(_ROOTS)
def test_gt_normalisation_keeps_types(case: tuple[str, Expr]) -> None:
    kind, tree = case
    try:
        gt = to_gt(tree)
    except ParseError as error:  # only the two NS-DR-only operators lack a GT form
        assert any(f"'{op}' has no equivalent" in str(error) for op in ("query_direction", "counterfact_events"))
        return
    assert check(gt) == kind
    assert all(token in GT_OPERATORS or token in LITERAL_TYPES for token in to_postfix(gt))


# ---------------------------------------------------------------- operator table


def test_operator_table_covers_both_dialects() -> None:
    gt = {
        "objects", "events", "unseen_events", "all_events", "start", "end", "filter_color",
        "filter_material", "filter_shape", "filter_moving", "filter_stationary", "filter_in",
        "filter_out", "filter_collision", "filter_before", "filter_after", "filter_order",
        "filter_ancestor", "get_frame", "get_object", "get_col_partner", "get_counterfact",
        "unique", "count", "exist", "query_color", "query_material", "query_shape", "belong_to",
        "negate",
    }  # fmt: skip
    assert GT_OPERATORS == gt
    assert OPERATORS["filter_start"].arity == 1 and OPERATORS["start"].arity == 0
    assert OPERATORS["query_collision_partner"].gt == "get_col_partner"


def test_dialect_normalisation() -> None:
    nsdr = from_nested(
        "query_color(query_collision_partner(filter_order(filter_before(filter_collision(events(), "
        "unique(objects())), filter_end(events())), first), query_object(filter_start(events()))))"
    )
    assert to_nested(to_gt(nsdr)) == (
        "query_color(get_col_partner(filter_order(filter_before(filter_collision(events(), "
        "unique(objects())), end()), first), get_object(start())))"
    )
    counterfact = from_postfix(["all_events", "objects", "unique", "filter_counterfact", "belong_to"], slot=True)
    assert to_postfix(to_gt(counterfact)) == ["all_events", "objects", "unique", "get_counterfact", "belong_to"]
    frames = from_nested("filter_resting(objects(), query_frame(filter_end(events())))")
    assert to_postfix(to_gt(frames)) == ["objects", "end", "get_frame", "filter_stationary"]


# ---------------------------------------------------------------- rejection


@pytest.mark.parametrize(
    ("nested", "message"),
    [
        ("filter_color(objects(), cube)", "'filter_color' argument 2 must be color, got shape: cube"),
        ("filter_in(objects(), objects())", "'filter_in' argument 1 must be events, got objects"),
        ("query_shape(objects())", "'query_shape' argument 1 must be object, got objects"),
        ("get_frame(events())", "'get_frame' argument 1 must be event, got events"),
        ("filter_moving(objects(), first)", "'filter_moving' argument 2 must be frame or null, got order"),
        ("belong_to(objects(), events())", "'belong_to' argument 1 must be event or object, got objects"),
        ("unique(unique(objects()))", "'unique' argument 1 must be events or objects, got object"),
        ("negate(count(objects()))", "'negate' argument 1 must be bool, got int"),
    ],
)
def test_ill_typed_programs_are_rejected(nested: str, message: str) -> None:
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check(from_nested(nested))


def test_program_type_must_be_expected() -> None:
    with pytest.raises(ParseError, match="yields objects, expected bool"):
        check_program(from_nested("objects()"), "bool")
    assert check_program(from_nested("exist(objects())"), "bool") == "bool"


def test_hand_built_trees_are_checked() -> None:
    with pytest.raises(ParseError, match="'unique' takes 1 argument"):
        check(Node("unique"))
    with pytest.raises(ParseError, match="unknown operator 'teleport'"):
        check(Node("teleport"))
    with pytest.raises(ParseError, match="unknown literal 'pink'"):
        check(Node("filter_color", (Node("objects"), "pink")))


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (["objects", "filter_color"], "token 2 'filter_color' takes 2 argument"),
        (["objects", "objects"], "leaves 2 values"),
        (["objects", "pink", "filter_color"], "token 2 'pink' is neither"),
        ([], "leaves 0 values"),
    ],
)
def test_bad_postfix_is_rejected(tokens: list[str], message: str) -> None:
    with pytest.raises(ParseError, match=message):
        from_postfix(tokens)


def test_slot_rules() -> None:
    with pytest.raises(ParseError, match="never uses its choice"):
        from_postfix(["objects", "exist"], slot=True)
    with pytest.raises(ParseError, match="takes 2 argument"):
        from_postfix(["belong_to"], slot=True)
    assert from_postfix(["events", "belong_to"], slot=True) == Node("belong_to", (SLOT, Node("events")))


@pytest.mark.parametrize(
    ("nested", "message"),
    [
        ("objects", "operator 'objects' at character 1 needs parentheses"),
        ("teleport()", "unknown operator 'teleport'"),
        ("unique(objects(), red)", "'unique' at character 1 takes 1 argument"),
        ("filter_color(objects(), pink)", "unknown literal 'pink' at character 25"),
        ("unique(objects()", "unexpected end of text"),
        ("unique(objects()) x", "unexpected 'x' at character 19"),
        ("unique(Objects())", "unexpected 'O' at character 8"),
    ],
)
def test_bad_nested_text_is_rejected(nested: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        from_nested(nested)
