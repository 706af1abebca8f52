"""COCO RLE in numpy, checked against pycocotools (a test-only dependency)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco

from physreason.datasets import rle
from physreason.errors import PhysreasonError

# pycocotools 2.0.11 decode trips numpy 2's __array__ copy-keyword deprecation
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _coco(mask: np.ndarray) -> dict:
    return coco.encode(np.asfortranarray(mask.astype(np.uint8)))


def _check_against_coco(mask: np.ndarray) -> None:
    ref = _coco(mask)
    mine = rle.encode(mask)
    assert mine["size"] == [int(v) for v in ref["size"]]
    assert mine["counts"] == ref["counts"].decode("ascii")
    assert np.array_equal(rle.decode(mine), mask)
    assert rle.area(mine) == int(coco.area(ref))
    assert rle.to_bbox(mine) == [float(v) for v in coco.toBbox(ref)]
    # pycocotools decodes our string too
    assert np.array_equal(coco.decode({"size": mine["size"], "counts": mine["counts"]}), mask)


@pytest.mark.parametrize("density", [0.0, 0.02, 0.5, 0.98, 1.0])
def test_random_masks_match_pycocotools(density: float) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        h, w = rng.integers(1, 40, size=2)
        _check_against_coco(rng.random((h, w)) < density)


def test_clevrer_sized_masks_match_pycocotools() -> None:
    yy, xx = np.mgrid[:320, :480]
    disc = (yy - 160) ** 2 + (xx - 240) ** 2 < 45**2
    corner = (yy < 10) & (xx > 470)
    empty, full = np.zeros((320, 480), bool), np.ones((320, 480), bool)
    for mask in (disc, corner, disc | corner, empty, full):
        _check_against_coco(mask)


def test_large_runs_use_long_codes() -> None:
    # a run of 10^6 zeros then one pixel needs several 5-bit groups and negative deltas
    mask = np.zeros((1000, 1001), bool)
    mask[999, 1000] = True
    mask[0, 3] = True
    _check_against_coco(mask)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1)])
def test_tiny_masks(shape: tuple[int, int]) -> None:
    for fill in (False, True):
        _check_against_coco(np.full(shape, fill))


def test_empty_and_full_runs() -> None:
    empty = np.zeros((2, 3), bool)
    assert rle.encode(empty)["counts"] == _coco(empty)["counts"].decode()
    full = rle.encode(np.ones((2, 3), bool), compressed=False)
    assert full == {"size": [2, 3], "counts": [0, 6]}
    assert rle.to_bbox(rle.encode(np.zeros((4, 4), bool))) == [0.0, 0.0, 0.0, 0.0]


def test_uncompressed_counts_round_trip() -> None:
    rng = np.random.default_rng(1)
    mask = rng.random((13, 17)) < 0.3
    raw = rle.encode(mask, compressed=False)
    assert isinstance(raw["counts"], list)
    assert np.array_equal(rle.decode(raw), mask)
    assert rle.area(raw) == int(mask.sum())
    assert rle.encode(rle.decode(raw)) == rle.encode(mask)
    # pycocotools agrees on the uncompressed form
    ref = coco.frPyObjects(raw, 13, 17)
    assert ref["counts"].decode() == rle.encode(mask)["counts"]


def test_non_bool_masks_count_nonzero_as_inside() -> None:
    m = np.array([[0, 2], [255, 0]], dtype=np.uint8)
    assert np.array_equal(rle.decode(rle.encode(m)), m != 0)


@settings(max_examples=150, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_property_matches_pycocotools(mask: np.ndarray) -> None:
    _check_against_coco(mask)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=40))
def test_property_string_round_trip(runs: list[int]) -> None:
    s = rle.runs_to_string(np.array(runs))
    assert rle.string_to_runs(s).tolist() == runs


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"size": [2, 2], "counts": "0"}, "counts"),  # covers 0 of 4 pixels
        ({"size": [2, 2], "counts": "4\x7f"}, "counts"),  # invalid character
        ({"size": [2, 2], "counts": "é"}, "counts"),
        ({"size": [2, 2], "counts": "P"}, "counts"),  # ends inside a number
        ({"size": [2, 2], "counts": [1, -1, 4]}, "counts"),
        ({"size": [2, 2], "counts": [1, 2.5]}, "counts"),
        ({"size": [2, 2], "counts": 4}, "counts"),
        ({"size": [2], "counts": "4"}, "size"),
        ({"size": [2, -2], "counts": "4"}, "size"),
        ({"counts": "4"}, "size"),
    ],
)
def test_malformed_rle_raises(bad: dict, field: str) -> None:
    with pytest.raises(rle.RLEError) as info:
        rle.decode(bad)
    assert info.value.field == field
    assert isinstance(info.value, PhysreasonError)


def test_encode_rejects_non_2d() -> None:
    with pytest.raises(rle.RLEError, match="2-D"):
        rle.encode(np.zeros((2, 2, 2), bool))
