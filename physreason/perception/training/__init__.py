"""Robust and efficient training modules, each usable with any backbone.

* :mod:`.attacks`: FGSM and PGD attacks, robust accuracy.
* :mod:`.fgsm`: FGSM adversarial training with the "bag of tricks".
* :mod:`.overfitting_monitor`: the catastrophic-overfitting monitor (PGD check).
* :mod:`.advprop`: Fast AdvProp with auxiliary BatchNorm.
* :mod:`.distillation`: MEAL-V2-style ensemble distillation with an optional discriminator.
* :mod:`.mixing`: CutMix / MixUp through kornia and the mixed-label loss.
* :mod:`.netaug`: NetAug width-augmentation supernet.
* :mod:`.bn_calibration`: BatchNorm statistics re-estimation.
* :mod:`.modes`: temporarily switching train/eval mode.
"""

from physreason.perception.training.advprop import (
    AdvPropConfig,
    AdvPropStepResult,
    MixBatchNorm2d,
    bn_route,
    convert_to_mix_bn,
    fast_advprop_step,
    remove_aux_bn,
)
from physreason.perception.training.attacks import (
    accuracy,
    fgsm_attack,
    pgd_attack,
    robust_accuracy,
)
from physreason.perception.training.bn_calibration import reset_bn_statistics
from physreason.perception.training.distillation import (
    DistillationLosses,
    LogitDiscriminator,
    MealV2Distiller,
    TeacherEnsemble,
    TeacherOutput,
    distill_step,
    soft_target_kl,
)
from physreason.perception.training.fgsm import (
    FGSMAdversarialTrainer,
    FGSMConfig,
    FGSMStepResult,
    first_conv_weight,
)
from physreason.perception.training.mixing import BatchMixer, MixedBatch, mixed_cross_entropy
from physreason.perception.training.modes import evaluation_mode
from physreason.perception.training.netaug import NetAugStepResult, NetAugSupernet, netaug_step
from physreason.perception.training.overfitting_monitor import (
    CatastrophicOverfittingMonitor,
    OverfittingCheck,
)

__all__ = [
    "AdvPropConfig",
    "AdvPropStepResult",
    "BatchMixer",
    "CatastrophicOverfittingMonitor",
    "DistillationLosses",
    "FGSMAdversarialTrainer",
    "FGSMConfig",
    "FGSMStepResult",
    "LogitDiscriminator",
    "MealV2Distiller",
    "MixBatchNorm2d",
    "MixedBatch",
    "NetAugStepResult",
    "NetAugSupernet",
    "OverfittingCheck",
    "TeacherEnsemble",
    "TeacherOutput",
    "accuracy",
    "bn_route",
    "convert_to_mix_bn",
    "distill_step",
    "evaluation_mode",
    "fast_advprop_step",
    "fgsm_attack",
    "first_conv_weight",
    "mixed_cross_entropy",
    "netaug_step",
    "pgd_attack",
    "remove_aux_bn",
    "reset_bn_statistics",
    "robust_accuracy",
    "soft_target_kl",
]
