"""Small checked accessors for reading JSON records.

Each takes the file ``path`` and the dotted ``where`` of the value so that a bad value raises a
:class:`FormatError` naming both, e.g. ``annotation_00003.json: field 'motion_trajectory[5].objects[2].location'``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from physreason.errors import FormatError


def as_dict(value: Any, path: object, where: str) -> dict:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise FormatError(path, where, f"expected an object, got {type(value).__name__}")
    return value


def as_list(value: Any, path: object, where: str) -> list:
    """``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise FormatError(path, where, f"expected a list, got {type(value).__name__}")
    return value


def get(data: dict, key: str, path: object, where: str) -> Any:
    """``data[key]``; a missing key raises naming ``where.key``."""
    if key not in data:
        raise FormatError(path, _join(where, key), "missing")
    return data[key]


def get_int(data: dict, key: str, path: object, where: str, minimum: int | None = None) -> int:
    """An integer field (booleans rejected), optionally at least ``minimum``."""
    value = get(data, key, path, where)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(path, _join(where, key), f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise FormatError(path, _join(where, key), f"expected an integer >= {minimum}, got {value}")
    return value


def get_float(data: dict, key: str, path: object, where: str) -> float:
    """A finite number field."""
    value = get(data, key, path, where)
    return as_float(value, path, _join(where, key))


def as_float(value: Any, path: object, where: str) -> float:
    """``value`` as a float if it is a finite JSON number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or value in (
            float("inf"), float("-inf")):
        raise FormatError(path, where, f"expected a finite number, got {value!r}")
    return float(value)


def get_str(data: dict, key: str, path: object, where: str, choices: Collection[str] | None = None) -> str:
    """A string field, optionally one of ``choices``."""
    value = get(data, key, path, where)
    if not isinstance(value, str):
        raise FormatError(path, _join(where, key), f"expected a string, got {value!r}")
    if choices is not None and value not in choices:
        raise FormatError(path, _join(where, key), f"unknown value '{value}' (expected one of {', '.join(choices)})")
    return value


def get_bool(data: dict, key: str, path: object, where: str) -> bool:
    """A boolean field."""
    value = get(data, key, path, where)
    if not isinstance(value, bool):
        raise FormatError(path, _join(where, key), f"expected true or false, got {value!r}")
    return value


def get_vector(data: dict, key: str, path: object, where: str, length: int) -> list[float]:
    """A list of exactly ``length`` finite numbers."""
    value = as_list(get(data, key, path, where), path, _join(where, key))
    if len(value) != length:
        raise FormatError(path, _join(where, key), f"expected {length} numbers, got {len(value)}")
    return [as_float(x, path, f"{_join(where, key)}[{i}]") for i, x in enumerate(value)]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
