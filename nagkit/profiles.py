"""The run profiles, defined once: ``quick`` (offline, CPU, minutes), ``paper`` (the authors' settings) and
``smoke`` (every ``paper`` code path at toy sizes, run by ``tests/test_smoke_profile.py``).

Every component keeps its own factory beside its config dataclass, and every factory validates its
profile name through :func:`check_profile`. ``smoke`` takes the ``paper`` branch of each component (same
network types, head, sampler, predictor, recipe, data files) with sizes a unit test runs in seconds; its
numbers mean nothing. Where each component's settings come from:

=================  =================================  =================================  =================================
component          ``quick``                          ``paper``                          ``smoke``
=================  =================================  =================================  =================================
score network +    ``nagkit.diffusion.train.          same factory: the authors' net     same factory: the paper net type
training           profile``: small net, the space's  (concat head, time MLP 256) and    (concat head, time MLP 4 x width)
                   ``quick_net`` / ``quick_train``    ``paper_steps``                    at 2 layers, width 16; 20 steps
surrogates (LODO)  ``nagkit.predictors.fit.           same factory: 10,000 cells,        same factory: 200 cells, 30 / 30
                   surrogate_profile``: 2,000 cells,  5,000 / 10,000 steps               steps
                   500 / 1,000 steps
meta-predictor     ``nagkit.predictors.fit.meta_      same factory: the authors' 10,000  same factory: 20 steps of 8
                   train_profile``: as ``paper``      steps, 20 images per class         records, 2 images per class
                   (trained only by runs using it)
property           ``nagkit.predictors.properties.    same factory: 10,000               same factory: 200 architectures,
predictors         property_profile``: 2,000          architectures, 5,000 / 10,000      30 / 30 steps (the score net's
                   architectures, 500 / 800 steps     steps (the score net's VE-SDE)     VE-SDE)
transfer NAG       ``nagkit.transfer.protocol.        same factory: the MetaD2A          same factory: the MetaD2A
                   transfer_profile``: LODO           meta-predictor, the 1,000-step PC  meta-predictor, a 10-step PC
                   surrogates, 20-step PC sampler,    sampler, batches of 256            sampler, batches of 16
                   batch 16
image training     ``nagkit.training.trainer.         same factory: the NB201 recipe     same factory: the NB201 recipe
                   profile`` (``PROFILE_CONFIGS``):   and skeleton (C=16, N=5, 200       and skeleton type at C=4, N=1,
                   C=8, N=1, 3 epochs                 epochs)                            1 epoch, batch 16
notebook outputs   ``nagkit.notebooks.output_dirs``:  same function: ``results/paper/``  same function: ``results/smoke/``
                   ``figures/`` and ``results/``
=================  =================================  =================================  =================================

No torch here: the CLI imports :data:`PROFILES` for its ``--profile`` choices.
"""
from __future__ import annotations

PROFILES = ("quick", "paper", "smoke")


def check_profile(name: str) -> str:
    """``name`` if it is a profile, else a ``ValueError`` naming the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {name!r}")
    return name
