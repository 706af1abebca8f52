"""CLEVRER proposal files: lossless round trips and validation errors naming file and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from physreason.datasets import rle
from physreason.datasets.proposals import (
    ProposalFrame,
    ProposalObject,
    Proposals,
    read_proposals,
    write_proposals,
)
from physreason.errors import FormatError


def _disc(cy: int, cx: int, r: int = 20) -> np.ndarray:
    yy, xx = np.mgrid[:320, :480]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r**2


def _sample() -> dict[str, Any]:
    """A proposal JSON like CLEVRER's, with two frames and an extra key at each level."""
    frames = []
    for f in range(2):
        objects = [
            {
                "color": "red",
                "material": "metal",
                "shape": "sphere",
                "score": 0.99,
                "mask": rle.encode(_disc(100, 100 + 10 * f)),
            },
            {
                "color": "cyan",
                "material": "rubber",
                "shape": "cube",
                "score": 1,
                "mask": rle.encode(_disc(200, 300), compressed=False),
                "object_id": 3,
                "bbox": [1, 2, 3, 4],
            },
        ]
        frames.append(
            {"frame_filename": f"video_00000/{f + 1}.png", "frame_index": f, "objects": objects}
        )
    frames[1]["note"] = "kept"
    return {"frames": frames, "video_name": "sim_00000"}


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    data = _sample()
    path = tmp_path / "proposal_00000.json"
    path.write_text(json.dumps(data))
    props = read_proposals(path)
    assert props.to_json() == data
    out = tmp_path / "out" / "proposal_00000.json"
    write_proposals(out, props)
    assert json.loads(out.read_text()) == data
    assert read_proposals(out) == props


def test_records() -> None:
    props = Proposals.from_json(_sample())
    frame = props.frames[1]
    assert isinstance(frame, ProposalFrame)
    assert frame.frame_index == 1 and frame.frame_filename == "video_00000/2.png"
    assert frame.extra == {"note": "kept"}
    red, cube = frame.objects
    assert isinstance(red, ProposalObject)
    assert (red.color, red.material, red.shape) == ("red", "metal", "sphere")
    assert red.score == 0.99 and red.object_id is None
    assert np.array_equal(red.mask(), _disc(100, 110))
    assert cube.object_id == 3 and cube.extra == {"bbox": [1, 2, 3, 4]}
    assert np.array_equal(cube.mask(), _disc(200, 300))
    assert props.extra == {"video_name": "sim_00000"}


def test_built_records_write_and_read(tmp_path: Path) -> None:
    obj = ProposalObject("gray", "rubber", "cylinder", 0.5, rle.encode(_disc(50, 60)), object_id=0)
    props = Proposals((ProposalFrame(0, "1.png", (obj,)), ProposalFrame(1, "2.png", ())))
    write_proposals(tmp_path / "p.json", props)
    assert read_proposals(tmp_path / "p.json") == props


def _broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(_sample())
    edit(data)
    return data


def _obj(data: dict[str, Any]) -> dict[str, Any]:
    return data["frames"][1]["objects"][1]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("frames"), "frames"),
        (lambda d: d.update(frames={}), "frames"),
        (lambda d: d["frames"].append(3), "frames[2]"),
        (lambda d: d["frames"][1].pop("objects"), "frames[1].objects"),
        (lambda d: d["frames"][1].update(frame_index=-1), "frames[1].frame_index"),
        (lambda d: d["frames"][1].update(frame_index=True), "frames[1].frame_index"),
        (lambda d: d["frames"][1].update(frame_filename=7), "frames[1].frame_filename"),
        (lambda d: _obj(d).update(color="grey"), "frames[1].objects[1].color"),
        (lambda d: _obj(d).update(material=None), "frames[1].objects[1].material"),
        (lambda d: _obj(d).pop("shape"), "frames[1].objects[1].shape"),
        (lambda d: _obj(d).update(score=1.5), "frames[1].objects[1].score"),
        (lambda d: _obj(d).update(score="high"), "frames[1].objects[1].score"),
        (lambda d: _obj(d).update(object_id="3"), "frames[1].objects[1].object_id"),
        (lambda d: _obj(d).update(mask=[]), "frames[1].objects[1].mask"),
        (lambda d: _obj(d)["mask"].pop("counts"), "frames[1].objects[1].mask.counts"),
        (lambda d: _obj(d)["mask"].update(counts="0"), "frames[1].objects[1].mask.counts"),
        (lambda d: _obj(d)["mask"].update(counts=[1, 2]), "frames[1].objects[1].mask.counts"),
        (lambda d: _obj(d)["mask"].update(size=[320]), "frames[1].objects[1].mask.size"),
    ],
)
def test_malformed_files_name_file_and_field(tmp_path: Path, edit: Any, field: str) -> None:
    path = tmp_path / "proposal_00007.json"
    path.write_text(json.dumps(_broken(edit)))
    with pytest.raises(FormatError) as info:
        read_proposals(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and f"'{field}'" in str(info.value)


def test_not_an_object_or_not_json(tmp_path: Path) -> None:
    path = tmp_path / "proposal_00001.json"
    path.write_text("[1, 2]")
    with pytest.raises(FormatError, match=r"proposal_00001\.json: expected an object"):
        read_proposals(path)
    path.write_text("{not json")
    with pytest.raises(FormatError, match=r"proposal_00001\.json.*invalid JSON"):
        read_proposals(path)
    with pytest.raises(FormatError, match="file not found"):
        read_proposals(tmp_path / "missing.json")


def test_from_json_names_given_path() -> None:
    with pytest.raises(FormatError, match=r"^x/proposal_00002\.json: field 'frames'"):
        Proposals.from_json({"frames": 1}, "x/proposal_00002.json")
