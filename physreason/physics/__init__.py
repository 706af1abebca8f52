"""The differentiable planar rigid-body engine in Taichi.

- :mod:`~physreason.physics.model`: the static description of a batch of scenes (shapes,
  mass, restitution, friction, initial state), built from the dataset records;
- :mod:`~physreason.physics.contact`: footprint contact geometry (disc/square);
- :mod:`~physreason.physics.step`: the time step and the Taichi kernels running whole rollouts;
- :mod:`~physreason.physics.state`: sampled trajectories and collision events;
- :mod:`~physreason.physics.engine`: rollouts and losses with gradients for batches;
- :mod:`~physreason.physics.runtime`: Taichi start-up (CPU by default);
- :mod:`~physreason.physics.fit`: fitting initial states, mass ratios, restitution and friction
  to observed tracks (curriculum, batched starts, residuals and a quality flag);
- :mod:`~physreason.physics.priors`: per-material prior means of those parameters, learned from
  fits of training videos, where the fit falls back when the tracks say nothing;
- :mod:`~physreason.physics.rollout`: predictive and counterfactual worlds from fitted parameters
  (counterfactuals anchored on the observation where they diverge from it);
- :mod:`~physreason.physics.predictions`: worlds in VRDP / NS-DR's ``predictions`` JSON layout.

This package imports only the dataset records, never perception or reasoning.
"""

import os

# Taichi prints a version banner on stdout when imported; keep the command's output to its own.
os.environ.setdefault("ENABLE_TAICHI_HEADER_PRINT", "false")
