"""Robust and efficient training modules, each shown on tiny tensors in seconds."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from physreason.errors import ConfigError
from physreason.perception.backbones import backbone_factory, create_backbone
from physreason.perception.training import (
    AdvPropConfig,
    BatchMixer,
    CatastrophicOverfittingMonitor,
    FGSMAdversarialTrainer,
    FGSMConfig,
    LogitDiscriminator,
    MealV2Distiller,
    MixBatchNorm2d,
    NetAugSupernet,
    TeacherEnsemble,
    bn_route,
    convert_to_mix_bn,
    distill_step,
    fast_advprop_step,
    first_conv_weight,
    mixed_cross_entropy,
    netaug_step,
    pgd_attack,
    remove_aux_bn,
    reset_bn_statistics,
    robust_accuracy,
    soft_target_kl,
)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(2)


def _robust_vs_fragile_task(
    n: int, generator: torch.Generator, size: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes carried by a robust and a non-robust feature (Tsipras et al. style).

    The top-left quadrant is 0.5 +- 0.3 and agrees with the label 80% of the time (robust to
    eps = 0.1); a fixed +-0.05 pattern over every pixel agrees always (predictive, but flipped
    by eps = 0.1). Clean training leans on the pattern; adversarial training cannot.
    """
    sign = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
    robust_sign = torch.where(torch.rand(n, generator=generator) < 0.2, -sign, sign).float()
    pattern = torch.randn(3, size, size, generator=torch.Generator().manual_seed(123)).sign()
    x = 0.5 + 0.05 * sign.float().view(-1, 1, 1, 1) * pattern
    x = x + 0.05 * torch.randn(n, 3, size, size, generator=generator)
    x[:, :, : size // 2, : size // 2] = 0.5 + 0.3 * robust_sign.view(-1, 1, 1, 1)
    return x.clamp(0, 1), (sign > 0).long()


# --------------------------------------------------------------------------- attacks / FGSM


def test_pgd_stays_in_the_ball_and_the_image_range() -> None:
    model = create_backbone("cropnet_tiny", num_classes=3).eval()
    x, y = torch.rand(6, 3, 16, 16), torch.randint(0, 3, (6,))
    x_adv = pgd_attack(model, x, y, eps=0.05, step_size=0.02, steps=3, restarts=2)
    assert (x_adv - x).abs().max() <= 0.05 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert all(p.grad is None for p in model.parameters())


def test_fgsm_example_respects_eps_and_the_pixel_mask() -> None:
    model = create_backbone("cropnet_tiny", num_classes=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = FGSMConfig(eps=0.03, mask_ratio=0.5, fixed_mask=True)
    trainer = FGSMAdversarialTrainer(model, optimizer, config, seed=1)
    x, y = torch.rand(4, 3, 16, 16) * 0.8 + 0.1, torch.randint(0, 3, (4,))
    x_adv = trainer.craft(x, y)
    mask = trainer.pixel_mask(x)
    assert mask.shape == (1, 1, 16, 16) and 0.3 < mask.mean() < 0.7
    delta = x_adv - x
    assert delta.abs().max() <= 0.03 + 1e-6
    assert torch.all(delta * (1 - mask) == 0)
    assert (delta.abs() * mask).sum() > 0
    torch.testing.assert_close(trainer.pixel_mask(torch.rand(2, 3, 16, 16)), mask)


def test_first_conv_penalty_is_added_to_the_loss() -> None:
    model = create_backbone("cropnet_tiny", num_classes=3)
    weight = first_conv_weight(model)
    assert weight is model.stem[0].weight
    expected = 0.5 * weight.detach().pow(2).sum().item()
    trainer = FGSMAdversarialTrainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), FGSMConfig(first_conv_l2=0.5)
    )
    result = trainer.step(torch.rand(4, 3, 16, 16), torch.randint(0, 3, (4,)))
    assert result.penalty == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ConfigError):
        first_conv_weight(nn.Linear(3, 3))
    with pytest.raises(ConfigError):
        FGSMConfig(mask_ratio=1.0)


def test_fgsm_training_raises_pgd_accuracy_over_clean_training() -> None:
    eps = 0.1
    data = torch.Generator().manual_seed(0)
    x_train, y_train = _robust_vs_fragile_task(1024, data)
    x_test, y_test = _robust_vs_fragile_task(256, data)
    results = {}
    for adversarial in (False, True):
        torch.manual_seed(0)
        model = create_backbone("cropnet_tiny", num_classes=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        trainer = FGSMAdversarialTrainer(model, optimizer, FGSMConfig(eps=eps))
        batches = torch.Generator().manual_seed(1)
        for _ in range(100):
            index = torch.randint(0, len(x_train), (64,), generator=batches)
            if adversarial:
                trainer.step(x_train[index], y_train[index])
            else:
                loss = F.cross_entropy(model(x_train[index]), y_train[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        results[adversarial] = (
            robust_accuracy(model, x_test, y_test, eps=0),
            robust_accuracy(model, x_test, y_test, eps=eps, steps=10),
        )
    (clean_acc, clean_pgd), (adv_acc, adv_pgd) = results[False], results[True]
    assert clean_acc > 0.95 and clean_pgd < 0.3  # accurate but fragile
    assert adv_acc > 0.7 and adv_pgd > 0.7  # the robust feature's 80%
    assert adv_pgd > clean_pgd + 0.4


# --------------------------------------------------------------------------- CO monitor


def _threshold_model(threshold: float) -> nn.Module:
    """Linear classifier of mean brightness: class 1 iff mean > threshold."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([-torch.ones(48), torch.ones(48)]) * 20 / 48)
        model[1].bias.copy_(torch.tensor([20 * threshold, -20 * threshold]))
    return model


@pytest.mark.parametrize("restore", [True, False])
def test_monitor_flags_a_pgd_collapse_and_restores_the_healthy_weights(restore: bool) -> None:
    x = torch.cat([torch.full((8, 3, 4, 4), 0.3), torch.full((8, 3, 4, 4), 0.7)])
    y = torch.cat([torch.zeros(8), torch.ones(8)]).long()
    model = _threshold_model(0.5)  # margin 0.2 > eps: robust
    monitor = CatastrophicOverfittingMonitor(model, x, y, eps=0.1, restore=restore)
    first = monitor.check()
    assert first.pgd_accuracy == 1.0 and not first.collapsed
    assert not monitor.check().collapsed

    healthy = copy.deepcopy(model.state_dict())
    model.load_state_dict(_threshold_model(0.35).state_dict())  # margin 0.05 < eps for class 0
    collapsed_state = copy.deepcopy(model.state_dict())
    assert robust_accuracy(model, x, y, eps=0) == 1.0  # still right on clean images
    second = monitor.check()
    assert second.collapsed and monitor.collapsed
    assert second.pgd_accuracy == pytest.approx(0.5) and second.reference_accuracy == 1.0
    assert second.restored == restore
    expected = healthy if restore else collapsed_state
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name])


# --------------------------------------------------------------------------- Fast AdvProp


def _stats(model: nn.Module, which: str) -> torch.Tensor:
    return torch.cat([
        getattr(m, which).running_mean.clone()
        for m in model.modules() if isinstance(m, MixBatchNorm2d)
    ])


def test_advprop_keeps_separate_batchnorm_statistics() -> None:
    model = convert_to_mix_bn(create_backbone("cropnet_tiny", num_classes=3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.rand(10, 3, 16, 16), torch.randint(0, 3, (10,))
    result = fast_advprop_step(model, optimizer, x, y, AdvPropConfig(eps=4 / 255))
    assert min(result.clean_loss, result.attack_loss, result.adv_loss) > 0
    main, aux = _stats(model, "main"), _stats(model, "aux")
    assert not torch.allclose(main, aux)

    with bn_route(model, "clean"):
        model(torch.rand(4, 3, 16, 16) + 1)
    assert not torch.allclose(_stats(model, "main"), main)
    torch.testing.assert_close(_stats(model, "aux"), aux)
    main = _stats(model, "main")
    with bn_route(model, "adv"):
        model(torch.rand(4, 3, 16, 16) + 1)
    torch.testing.assert_close(_stats(model, "main"), main)
    assert not torch.allclose(_stats(model, "aux"), aux)

    model.eval()
    with torch.no_grad():
        before = model(x)
        for layer in model.modules():
            if isinstance(layer, MixBatchNorm2d):
                layer.aux.running_mean.fill_(100.0)
        torch.testing.assert_close(model(x), before)  # evaluation never reads aux
        deployable = remove_aux_bn(model)
        assert not any(isinstance(m, MixBatchNorm2d) for m in deployable.modules())
        torch.testing.assert_close(deployable(x), before)
    with pytest.raises(ConfigError):
        with bn_route(deployable, "adv"):
            pass


# --------------------------------------------------------------------------- MEAL-V2


@pytest.mark.parametrize("with_discriminator", [False, True])
def test_distillation_moves_the_student_towards_the_teachers(with_discriminator: bool) -> None:
    teachers = TeacherEnsemble(
        [create_backbone("cropnet_tiny", num_classes=5, width_mult=2.0) for _ in range(2)]
    )
    teacher_state = copy.deepcopy(teachers.state_dict())
    discriminator = LogitDiscriminator(5, (16, 8)) if with_discriminator else None
    distiller = MealV2Distiller(teachers, discriminator, adversarial_weight=0.1)
    student = create_backbone("cropnet_tiny", num_classes=5)
    params = list(student.parameters()) + list(distiller.parameters())
    optimizer = torch.optim.Adam([p for p in params if p.requires_grad], lr=1e-2)
    x = torch.rand(32, 3, 16, 16)
    distiller.train()
    assert not any(m.training for m in teachers.modules())

    student.eval()
    with torch.no_grad():
        start = soft_target_kl(student(x), teachers(x).probs).item()
    student.train()
    for _ in range(40):
        losses = distill_step(student, distiller, optimizer, x)
    student.eval()
    with torch.no_grad():
        end = soft_target_kl(student(x), teachers(x).probs).item()
    assert end < 0.5 * start
    if with_discriminator:
        assert losses.discriminator > 0 and losses.adversarial > 0
        assert all(p.grad is not None for p in discriminator.parameters())
    else:
        assert losses.discriminator == 0 and losses.total == losses.kl
    for name, tensor in teachers.state_dict().items():
        torch.testing.assert_close(tensor, teacher_state[name])


def test_ensemble_target_is_the_mean_of_teacher_softmaxes() -> None:
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    x = torch.randn(5, 4)
    out = TeacherEnsemble([a, b])(x)
    torch.testing.assert_close(out.probs, (a(x).softmax(-1) + b(x).softmax(-1)) / 2)
    torch.testing.assert_close(out.probs.sum(-1), torch.ones(5))
    with pytest.raises(ConfigError):
        TeacherEnsemble([])


# --------------------------------------------------------------------------- CutMix / MixUp


@pytest.mark.parametrize("kind", ["cutmix", "mixup"])
def test_mixed_labels_sum_to_one_and_the_loss_is_the_mixture(kind: str) -> None:
    batch = 8
    labels = torch.arange(batch)  # one class per image, so labels_b names the partner image
    values = (labels.float() + 1) / (batch + 1)
    images = values.view(batch, 1, 1, 1).expand(batch, 3, 12, 12).contiguous()
    mixed = BatchMixer(kind)(images, labels)
    assert mixed.images.shape == images.shape
    torch.testing.assert_close(mixed.labels_a, labels)
    assert torch.all((mixed.weight_b >= 0) & (mixed.weight_b <= 1))
    targets = mixed.soft_targets(batch)
    torch.testing.assert_close(targets.sum(1), torch.ones(batch))

    # weight_b is the share of each image that comes from its partner.
    own, partner = values.view(batch, 1, 1, 1), values[mixed.labels_b].view(batch, 1, 1, 1)
    weight_b = mixed.weight_b.view(batch, 1, 1, 1)
    if kind == "mixup":
        expected = ((1 - weight_b) * own + weight_b * partner).expand_as(images)
        torch.testing.assert_close(mixed.images, expected)
    else:
        pasted = (mixed.images == partner).float().mean(dim=(1, 2, 3))
        swapped = mixed.labels_b != labels
        torch.testing.assert_close(pasted[swapped], mixed.weight_b[swapped])
        assert swapped.any()

    logits = torch.randn(batch, batch)
    manual = torch.stack([
        (1 - w) * F.cross_entropy(logits[i], mixed.labels_a[i])
        + w * F.cross_entropy(logits[i], mixed.labels_b[i])
        for i, w in enumerate(mixed.weight_b)
    ]).mean()
    torch.testing.assert_close(mixed_cross_entropy(logits, mixed), manual)
    torch.testing.assert_close(F.cross_entropy(logits, targets), manual)


def test_mixer_rejects_bad_options_and_shapes() -> None:
    with pytest.raises(ConfigError):
        BatchMixer("mosaic")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        BatchMixer("cutmix", p=2.0)
    with pytest.raises(ConfigError):
        BatchMixer("mixup")(torch.rand(4, 3, 8, 8), torch.arange(3))


# --------------------------------------------------------------------------- NetAug


def test_netaug_narrow_slice_shares_weights_and_exports_standalone() -> None:
    supernet = NetAugSupernet(
        backbone_factory("cropnet_tiny"), base_width=1.0, aug_widths=(1.5, 2.0), num_classes=3
    )
    assert supernet.widths == (1.0, 1.5, 2.0)
    wide_conv = supernet.wide.stem[0].weight
    narrow = supernet.sliced_tensors(1.0)
    assert narrow["stem.0.weight"].shape == (8, 3, 4, 4) and wide_conv.shape == (16, 3, 4, 4)
    assert narrow["stem.0.weight"].data_ptr() == wide_conv.data_ptr()  # a view, not a copy

    x, y = torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,))
    supernet.eval()
    with torch.no_grad():
        before = supernet(x)
        wide_conv[8:].add_(1.0)  # channels outside the base slice: base output unchanged
        torch.testing.assert_close(supernet(x), before)
        wide_conv[:8].mul_(0.5)  # channels inside it: base output changes
        assert not torch.allclose(supernet(x), before)

    supernet.train()
    optimizer = torch.optim.SGD(supernet.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(0)
    steps = [netaug_step(supernet, optimizer, x, y, generator=generator) for _ in range(8)]
    assert {s.aug_width for s in steps} <= {1.5, 2.0}
    assert steps[-1].base_loss < steps[0].base_loss
    assert supernet.active_width == 1.0

    supernet.eval()
    base = supernet.export().eval()
    def count(model: nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    assert count(base) == count(create_backbone("cropnet_tiny", num_classes=3)) < count(supernet)
    with torch.no_grad():
        torch.testing.assert_close(base(x), supernet(x))
    assert base.stem[0].weight.data_ptr() != wide_conv.data_ptr()
    with pytest.raises(ConfigError):
        NetAugSupernet(backbone_factory("cropnet_tiny"), aug_widths=(0.5,))
    with pytest.raises(ConfigError):
        supernet.set_active(3.0)


def test_bn_reestimation_changes_only_running_statistics() -> None:
    model = create_backbone("cropnet_tiny", num_classes=3).eval()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = torch.rand(16, 3, 16, 16)
    assert reset_bn_statistics(model, [batch]) == 1
    assert not model.training
    for name, param in model.named_parameters():
        torch.testing.assert_close(param, params[name])
    stem_out = model.stem[0](batch)
    torch.testing.assert_close(model.stem[1].running_mean, stem_out.mean(dim=(0, 2, 3)))
    assert model.stem[1].momentum == 0.1
