"""The operator table of CLEVRER's program language, in both dialects (reference notes §2.2).

Every operator has a name, the types each argument accepts, a result type and the name it has in
the released-JSON ("GT") dialect. NS-DR's executor names some operators differently; those
entries carry ``gt`` pointing to their GT counterpart, or ``None`` where GT has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from physreason.datasets.vocab import COLORS, MATERIALS, SHAPES

# Value types.
OBJECTS = "objects"
OBJECT = "object"
EVENTS = "events"
EVENT = "event"
FRAME = "frame"
WORD = "word"
BOOL = "bool"
INT = "int"
# Literal types: the bare words a program may contain.
COLOR = "color"
MATERIAL = "material"
SHAPE = "shape"
ORDER = "order"
NULL = "null"
# Result marker of `unique`: the item type of its list argument.
ITEM = "item"

ORDERS: tuple[str, ...] = ("first", "second", "last")

LITERAL_TYPES: dict[str, str] = {
    **{word: COLOR for word in COLORS},
    **{word: MATERIAL for word in MATERIALS},
    **{word: SHAPE for word in SHAPES},
    **{word: ORDER for word in ORDERS},
    "null": NULL,
}
"""Every literal a program may contain, with its type."""

ITEM_OF: dict[str, str] = {OBJECTS: OBJECT, EVENTS: EVENT}
"""The item type of each list type."""


@dataclass(frozen=True)
class OpSpec:
    """One operator: accepted types per argument, result type and its GT-dialect name."""

    name: str
    args: tuple[frozenset[str], ...]
    result: str
    gt: str | None

    @property
    def arity(self) -> int:
        """Number of arguments."""
        return len(self.args)


def _types(*names: str) -> frozenset[str]:
    return frozenset(names)


_LIST = _types(OBJECTS, EVENTS)
_OBJ_SET = _types(OBJECTS, OBJECT)
_FRAME_OR_NULL = _types(FRAME, NULL)

# (name, argument types, result, GT name); GT operators name themselves.
_TABLE: tuple[tuple[str, tuple[frozenset[str], ...], str, str | None], ...] = (
    ("objects", (), OBJECTS, "objects"),
    ("events", (), EVENTS, "events"),
    ("unseen_events", (), EVENTS, "unseen_events"),
    ("all_events", (), EVENTS, "all_events"),
    ("start", (), EVENT, "start"),
    ("end", (), EVENT, "end"),
    ("filter_color", (_types(OBJECTS), _types(COLOR)), OBJECTS, "filter_color"),
    ("filter_material", (_types(OBJECTS), _types(MATERIAL)), OBJECTS, "filter_material"),
    ("filter_shape", (_types(OBJECTS), _types(SHAPE)), OBJECTS, "filter_shape"),
    ("filter_moving", (_types(OBJECTS), _FRAME_OR_NULL), OBJECTS, "filter_moving"),
    ("filter_stationary", (_types(OBJECTS), _FRAME_OR_NULL), OBJECTS, "filter_stationary"),
    ("filter_in", (_types(EVENTS), _OBJ_SET), EVENTS, "filter_in"),
    ("filter_out", (_types(EVENTS), _OBJ_SET), EVENTS, "filter_out"),
    ("filter_collision", (_types(EVENTS), _OBJ_SET), EVENTS, "filter_collision"),
    ("filter_before", (_types(EVENTS), _types(EVENT)), EVENTS, "filter_before"),
    ("filter_after", (_types(EVENTS), _types(EVENT)), EVENTS, "filter_after"),
    ("filter_order", (_types(EVENTS), _types(ORDER)), EVENT, "filter_order"),
    ("filter_ancestor", (_types(EVENTS), _types(EVENT)), EVENTS, "filter_ancestor"),
    ("get_frame", (_types(EVENT),), FRAME, "get_frame"),
    ("get_object", (_types(EVENT),), OBJECT, "get_object"),
    ("get_col_partner", (_types(EVENT), _types(OBJECT)), OBJECT, "get_col_partner"),
    ("get_counterfact", (_types(EVENTS), _types(OBJECT)), EVENTS, "get_counterfact"),
    ("unique", (_LIST,), ITEM, "unique"),
    ("count", (_LIST,), INT, "count"),
    ("exist", (_LIST,), BOOL, "exist"),
    ("query_color", (_types(OBJECT),), WORD, "query_color"),
    ("query_material", (_types(OBJECT),), WORD, "query_material"),
    ("query_shape", (_types(OBJECT),), WORD, "query_shape"),
    ("belong_to", (_types(EVENT, OBJECT), _types(EVENTS)), BOOL, "belong_to"),
    ("negate", (_types(BOOL),), BOOL, "negate"),
    # NS-DR dialect.
    ("query_frame", (_types(EVENT),), FRAME, "get_frame"),
    ("query_object", (_types(EVENT),), OBJECT, "get_object"),
    ("query_collision_partner", (_types(EVENT), _types(OBJECT)), OBJECT, "get_col_partner"),
    ("filter_counterfact", (_types(EVENTS), _types(OBJECT)), EVENTS, "get_counterfact"),
    ("filter_start", (_types(EVENTS),), EVENT, "start"),
    ("filter_end", (_types(EVENTS),), EVENT, "end"),
    ("filter_resting", (_types(OBJECTS), _FRAME_OR_NULL), OBJECTS, "filter_stationary"),
    ("query_direction", (_types(OBJECT), _types(FRAME)), WORD, None),
    ("counterfact_events", (_types(OBJECT),), EVENTS, None),
)

OPERATORS: dict[str, OpSpec] = {
    name: OpSpec(name, args, result, gt) for name, args, result, gt in _TABLE
}
"""Every operator of either dialect, by name."""

GT_OPERATORS: frozenset[str] = frozenset(spec.name for spec in OPERATORS.values() if spec.gt == spec.name)
"""Names of the operators of the released-JSON dialect."""
