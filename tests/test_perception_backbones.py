"""Shared vision backbones: registry, shapes, and the Temporal Shift Module (offline/online)."""

from __future__ import annotations

import pytest
import torch

from physreason.errors import ConfigError
from physreason.perception.backbones import registry
from physreason.perception.backbones import (
    Backbone,
    CropNet,
    StreamState,
    TemporalShift,
    create_backbone,
    list_backbones,
    register_backbone,
    temporal_shift,
    temporal_shift_step,
)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)


def _clip_batch(model: Backbone, size: int) -> torch.Tensor:
    """Two clips of ``n_segments`` frames for shift backbones, else two images."""
    frames = getattr(model, "n_segments", None) or 1
    return torch.rand(2 * frames, 3, size, size)


def test_registry_lists_the_zoo() -> None:
    assert {
        "cropnet_tiny", "cropnet_small", "resnet_small", "tsm_cropnet_tiny", "tsm_cropnet_small"
    } <= set(list_backbones())


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_has_the_shared_interface(name: str) -> None:
    model = create_backbone(name).eval()
    x = _clip_batch(model, 32)
    with torch.no_grad():
        features = model.forward_features(x)
        pooled = model(x)
    assert isinstance(model, Backbone)
    assert model.feature_dim == model.feature_dims[-1]
    assert features.shape == (x.shape[0], model.feature_dim, 32 // model.stride, 32 // model.stride)
    assert pooled.shape == (x.shape[0], model.feature_dim)

    classifier = create_backbone(name, num_classes=5).eval()
    with torch.no_grad():
        assert classifier(x).shape == (x.shape[0], 5)


@pytest.mark.parametrize("name", ["cropnet_tiny", "resnet_small", "tsm_cropnet_tiny"])
def test_channels_last_gives_the_same_features(name: str) -> None:
    model = create_backbone(name).eval()
    x = _clip_batch(model, 32)
    with torch.no_grad():
        reference = model.forward_features(x)
        model = model.to(memory_format=torch.channels_last)
        out = model.forward_features(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-4)


def test_model_sizes_match_their_targets() -> None:
    def count(model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    assert 500_000 <= count(create_backbone("cropnet_small", num_classes=8)) <= 1_000_000
    assert count(create_backbone("cropnet_tiny")) < 10_000
    small = create_backbone("cropnet_small")
    assert small.stride == 16
    assert small.forward_features(torch.rand(1, 3, 64, 64)).shape == (1, 192, 4, 4)


def test_options_change_the_architecture() -> None:
    wide = create_backbone("cropnet_tiny", width_mult=2.0)
    assert wide.feature_dims == (16, 32)
    conv = create_backbone("cropnet_tiny", stem="conv", stem_stride=2, act="relu")
    assert conv.stride == 4
    assert isinstance(conv.stem[2], torch.nn.ReLU)
    patch = create_backbone("cropnet_tiny", kernel_size=7)
    assert patch.stem[0].kernel_size == (4, 4) and patch.stem[0].stride == (4, 4)
    assert patch.stages[0].blocks[0].dwconv.kernel_size == (7, 7)


@pytest.mark.parametrize(
    "call",
    [
        lambda: create_backbone("no_such_net"),
        lambda: create_backbone("cropnet_tiny", depth=3),
        lambda: create_backbone("cropnet_tiny", dims=(8,), depths=(1, 1)),
        lambda: create_backbone("cropnet_tiny", act="swishy"),
        lambda: create_backbone("cropnet_tiny", kernel_size=4),
        lambda: create_backbone("cropnet_tiny", stem="pyramid"),
        lambda: create_backbone("cropnet_tiny", block="bottleneck"),
        lambda: create_backbone("tsm_cropnet_tiny", shift_direction="sideways"),
    ],
)
def test_bad_options_are_config_errors(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        call()


def test_register_backbone_adds_a_name_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_backbone("test_only_cropnet")
    def factory(**kwargs: object) -> CropNet:
        return CropNet(dims=(4,), depths=(1,), **kwargs)  # type: ignore[arg-type]

    assert "test_only_cropnet" in list_backbones()
    assert create_backbone("test_only_cropnet").feature_dim == 4
    with pytest.raises(ConfigError):
        register_backbone("test_only_cropnet")(factory)


def test_bidirectional_shift_equals_explicit_indexing() -> None:
    clips, frames, channels = 2, 5, 16
    x = torch.randn(clips * frames, channels, 3, 3)
    out = temporal_shift(x, frames, fold_div=8).reshape(clips, frames, channels, 3, 3)
    v = x.reshape(clips, frames, channels, 3, 3)
    fold = channels // 8
    for t in range(frames):
        future = v[:, t + 1, :fold] if t + 1 < frames else torch.zeros_like(v[:, t, :fold])
        past = v[:, t - 1, fold : 2 * fold] if t > 0 else torch.zeros_like(v[:, t, :fold])
        torch.testing.assert_close(out[:, t, :fold], future)
        torch.testing.assert_close(out[:, t, fold : 2 * fold], past)
        torch.testing.assert_close(out[:, t, 2 * fold :], v[:, t, 2 * fold :])


def test_shift_gradient_is_the_reverse_shift() -> None:
    frames, channels = 4, 8
    x = torch.randn(frames, channels, 2, 2, requires_grad=True)
    upstream = torch.randn(frames, channels, 2, 2)
    (temporal_shift(x, frames, fold_div=4, direction="causal") * upstream).sum().backward()
    expected = upstream.clone()
    expected[:, :2] = 0
    expected[:-1, :2] = upstream[1:, :2]
    torch.testing.assert_close(x.grad, expected)


def test_online_shift_equals_offline_causal_shift_frame_by_frame() -> None:
    clips, frames, channels = 3, 6, 16
    x = torch.randn(clips * frames, channels, 4, 4)
    offline = temporal_shift(x, frames, fold_div=8, direction="causal")
    offline = offline.reshape(clips, frames, channels, 4, 4)
    stream = x.reshape(clips, frames, channels, 4, 4)
    buffer = None
    for t in range(frames):
        out, buffer = temporal_shift_step(stream[:, t], buffer, fold_div=8)
        torch.testing.assert_close(out, offline[:, t])


def test_online_backbone_equals_offline_causal_backbone() -> None:
    frames = 5
    model = create_backbone(
        "tsm_cropnet_tiny", n_segments=frames, shift_direction="causal", num_classes=4
    ).eval()
    clip = torch.rand(2 * frames, 3, 16, 16)
    with torch.no_grad():
        offline_features = model.forward_features(clip)
        offline_logits = model(clip)
        offline_features = offline_features.reshape(2, frames, *offline_features.shape[1:])
        offline_logits = offline_logits.reshape(2, frames, -1)
        stream = clip.reshape(2, frames, 3, 16, 16)
        state: StreamState | None = None
        for t in range(frames):
            features, next_state = model.forward_features_step(stream[:, t], state)
            logits, state = model.forward_step(stream[:, t], state)
            assert len(next_state.buffers) == model.n_shift_blocks == 2
            torch.testing.assert_close(features, offline_features[:, t], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(logits, offline_logits[:, t], atol=1e-5, rtol=1e-4)


def test_causal_backbone_ignores_future_frames_and_bidirectional_does_not() -> None:
    frames = 4
    clip = torch.rand(frames, 3, 16, 16)
    changed = clip.clone()
    changed[2:] = torch.rand(2, 3, 16, 16)
    for direction, past_unchanged in (("causal", True), ("bidirectional", False)):
        model = create_backbone(
            "tsm_cropnet_tiny", n_segments=frames, shift_direction=direction
        ).eval()
        with torch.no_grad():
            same = torch.allclose(model(clip)[:2], model(changed)[:2], atol=1e-6)
        assert same == past_unchanged


def test_streaming_misuse_is_a_config_error() -> None:
    frame = torch.rand(1, 3, 16, 16)
    with pytest.raises(ConfigError):
        create_backbone("tsm_cropnet_tiny").forward_step(frame)  # bidirectional
    with pytest.raises(ConfigError):
        create_backbone("cropnet_tiny").forward_step(frame)  # no shift at all
    causal = create_backbone("tsm_cropnet_tiny", shift_direction="causal").eval()
    with pytest.raises(ConfigError):
        causal.forward_step(frame, StreamState(buffers=()))
    with pytest.raises(ConfigError):
        causal(torch.rand(3, 3, 16, 16))  # 3 frames is not a whole 8-frame clip
    with pytest.raises(ConfigError):
        TemporalShift(4, direction="causal").step(torch.rand(1, 8, 2, 2), torch.zeros(1, 2, 2, 2))
