"""A transfer prior for BO loops: what DiffusionNAG's meta-learned predictor knows before the first training.

:class:`TransferPrior` gives a BO run on an NB201 target the target's leave-one-dataset-out
surrogates (trained on the *other* datasets' tables; the target's labels are never read) in two
ways: the initial design is a transfer-NAG pool (predictor-guided generation, ranked by the clean
surrogate, the ``n_init`` best trained) instead of random cells, and each round's acquisition
gets ``lambda_n * prior(x)`` added (the noise-aware copy inside guided generation), with
``lambda_n = weight * decay / (decay + n)`` fading as ``n`` cells beyond the initial design are
trained. Runs that use it are transfer NAS, not black-box NAS, and are labelled so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from nagkit.benchmarks import Ledger
from nagkit.predictors.fit import surrogate_profile
from nagkit.search.transfer import (Predictors, TransferConfig, generate_population, lodo_predictors,
                                    packaged_nb201, parse_sources, rank)

PRIORS = ("lodo", "imagenet16")


@dataclass(frozen=True)
class PriorTerm:
    """``weight * clean(x)`` for scoring candidates, ``weight * noisy(x_t, sigma)`` for guidance."""

    clean: Callable[[torch.Tensor], torch.Tensor]
    noisy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    weight: float


@dataclass(frozen=True)
class TransferPrior:
    """``sources``: ``"lodo"`` (the target's other NB201 datasets) or ``"imagenet16"``; ``scale``:
    the guidance scale of the initial transfer pool (notebook 05's default)."""

    sources: str = "lodo"
    weight: float = 1.0
    decay: float = 20.0
    scale: float = 10.0

    def __post_init__(self) -> None:
        if self.sources not in PRIORS:
            raise ValueError(f"unknown prior {self.sources!r}; valid: {list(PRIORS)}")
        if self.weight < 0 or self.decay <= 0:
            raise ValueError(f"need weight >= 0 and decay > 0, got {self.weight}, {self.decay}")

    def predictors(self, dataset: str) -> Predictors:
        """The target's surrogates (quick profile, cached under ``<cache root>/surrogates``)."""
        return lodo_predictors(dataset, parse_sources(dataset, self.sources), surrogate_profile("quick"))

    def initial_design(self, ledger: Ledger, predictors: Predictors, n: int, budget: int,
                       generator: torch.Generator) -> None:
        """Train the ``n`` best-ranked cells of a guided transfer pool (fewer when generation
        yields fewer distinct valid cells; the BO loop fills up)."""
        model, sde = packaged_nb201()
        pool = generate_population(model, sde, predictors.guide, TransferConfig(n_unique=n, scale=self.scale),
                                   generator, ledger.benchmark.space)
        for arch in rank(pool.archs, predictors.rank, ledger.benchmark.space):
            if ledger.n_trained >= budget:
                break
            ledger.train(arch)

    def term(self, predictors: Predictors, n_after_init: int) -> PriorTerm:
        """The acquisition's prior term after ``n_after_init`` BO trainings."""
        return PriorTerm(predictors.rank, predictors.guide, self.weight * self.decay / (self.decay + n_after_init))
