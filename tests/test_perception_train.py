"""Training loops: checkpoints every epoch, resuming, exported weight files that load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physreason.errors import ConfigError, FormatError
from physreason.perception import attributes as attr
from physreason.perception.detector import detection_targets
from physreason.perception.train import PreparedData, export, matched_detections, train_attributes, train_detector


@pytest.fixture
def tiny_data() -> PreparedData:
    rng = np.random.default_rng(0)
    h, w = 192, 256  # full resolution; the prepared images are halved
    images, targets = [], []
    for k in range(4):
        img = np.full((h, w, 3), 150, np.uint8)
        m = np.zeros((1, h, w), bool)
        r, c = 40 + 20 * k, 60 + 30 * k
        m[0, r : r + 24, c : c + 24] = True
        img[m[0]] = (200, 30, 30)
        images.append(img.reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)).astype(np.uint8).transpose(2, 0, 1))
        targets.append(detection_targets(m, h, w).astype(np.float16))
    crops = rng.integers(0, 255, (8, 4, attr.CROP, attr.CROP), dtype=np.uint8)
    labels = np.column_stack([rng.integers(0, 8, 8), rng.integers(0, 2, 8), rng.integers(0, 3, 8)])
    return PreparedData(np.stack(images), np.stack(targets), crops, labels, np.zeros(8, np.int64))


def test_detector_checkpoints_and_resumes(tiny_data, tmp_path):
    net = train_detector(tiny_data, tmp_path, epochs=1, batch=2, width=4, crop=(64, 96), progress=False)
    ckpt = torch.load(tmp_path / "detector.ckpt", weights_only=False)
    assert ckpt["epoch"] == 0
    # a second run with the same settings resumes after the last epoch: nothing left to do
    again = train_detector(tiny_data, tmp_path, epochs=1, batch=2, width=4, crop=(64, 96), progress=False)
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="other settings"):
        train_detector(tiny_data, tmp_path, epochs=2, batch=2, width=4, crop=(64, 96), progress=False)
    export(tmp_path / "detector.pt", net, "detector", {"width": 4})
    assert torch.load(tmp_path / "detector.pt", weights_only=True)["kind"] == "detector"


@pytest.mark.parametrize("mode", ["clean", "fgsm", "advprop"])
def test_attribute_modes_train_and_export(tiny_data, tmp_path, mode):
    model = train_attributes(tiny_data, tmp_path, mode=mode, epochs=1, batch=4, progress=False)
    assert (tmp_path / f"attributes_{mode}.ckpt").exists()
    export(tmp_path / "attributes.pt", model, "attributes", model.config)
    data = torch.load(tmp_path / "attributes.pt", weights_only=True)
    fresh = attr.AttributeNet(**data["config"])
    fresh.load_state_dict(data["state_dict"])  # advprop's auxiliary BatchNorms are gone
    x = torch.rand(2, 4, attr.CROP, attr.CROP)
    with torch.no_grad():
        assert torch.allclose(fresh.eval()(x), model.eval()(x), atol=1e-5)


def test_bad_mode_and_corrupt_checkpoint(tiny_data, tmp_path):
    with pytest.raises(ConfigError):
        train_attributes(tiny_data, tmp_path, mode="cutmix", epochs=1, progress=False)
    (tmp_path / "detector.ckpt").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="detector.ckpt"):
        train_detector(tiny_data, tmp_path, epochs=1, batch=2, width=4, crop=(64, 96), progress=False)


def test_detector_masks_take_the_labels_of_the_ground_truth_they_overlap():
    truth = np.zeros((2, 40, 60), bool)
    truth[0, 5:15, 5:15] = True
    truth[1, 20:30, 30:45] = True
    labels = [(0, 1, 2), (3, 0, 1)]
    detected = np.zeros((3, 40, 60), bool)
    detected[0, 21:30, 30:44] = True  # most of object 1
    detected[1, 5:15, 5:9] = True  # a sliver of object 0: IoU 0.4
    detected[2, 5:16, 5:16] = True  # object 0, a pixel too wide
    masks, labs = matched_detections(detected, truth, labels)
    assert labs == [(3, 0, 1), (0, 1, 2)]
    assert np.array_equal(masks, detected[[0, 2]])
    none, no_labels = matched_detections(detected[:0], truth, labels)
    assert none.shape == (0, 40, 60) and no_labels == []
