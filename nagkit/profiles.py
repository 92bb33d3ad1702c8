"""The run profiles, defined once: ``quick`` (offline, CPU, minutes) and ``paper`` (the authors' settings).

Every component keeps its own factory beside its config dataclass, and every factory validates its
profile name through :func:`check_profile`. Where each component's settings come from:

========================  ==============================================  ==============================================
component                 ``quick``                                       ``paper``
========================  ==============================================  ==============================================
score network + training  ``nagkit.diffusion.train.profile``: small net,  same factory: the authors' net (concat head,
                          the space's ``quick_net`` / ``quick_train``     time MLP 256) and ``paper_steps``
surrogates (LODO)         ``nagkit.predictors.fit.surrogate_profile``:    same factory: 10,000 cells, 5,000 / 10,000
                          2,000 cells, 500 / 1,000 steps                  steps
property predictors       ``nagkit.predictors.properties.property_        same factory: 10,000 architectures, 5,000 /
                          profile``: 2,000 architectures, 500 / 800 steps 10,000 steps (the score net's VE-SDE)
transfer NAG              ``nagkit.transfer.protocol.transfer_profile``:  same factory: the MetaD2A meta-predictor, the
                          LODO surrogates, 20-step PC sampler, batch 16   1,000-step PC sampler, batches of 256
image training            ``nagkit.training.trainer.profile``             same factory: the NB201 recipe and skeleton
                          (``PROFILE_CONFIGS``): C=8, N=1, 3 epochs       (C=16, N=5, 200 epochs)
notebook outputs          ``nagkit.notebooks.output_dirs``: ``figures/``  same function: ``results/paper/``
                          and ``results/``
========================  ==============================================  ==============================================

No torch here: the CLI imports :data:`PROFILES` for its ``--profile`` choices.
"""
from __future__ import annotations

PROFILES = ("quick", "paper")


def check_profile(name: str) -> str:
    """``name`` if it is a profile, else a ``ValueError`` naming the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {name!r}")
    return name
