"""A transfer prior for BO loops: what DiffusionNAG's meta-learned predictor knows before the first training.

:class:`TransferPrior` (the :class:`~nagkit.search.prior.Prior` that ``prior="lodo"`` /
``"imagenet16"`` resolve to) gives a BO run on a target the target's leave-one-dataset-out
surrogates (trained on the *other* datasets' tables; the target's labels are never read) in two
ways: the initial design is a transfer-NAG pool (predictor-guided generation, ranked by the clean
surrogate, the ``n_init`` best trained) instead of random architectures, and each round's
acquisition gets ``lambda_n * prior(x)`` added (the noise-aware copy inside guided generation),
with ``lambda_n = weight * decay / (decay + n)`` fading as ``n`` architectures beyond the initial
design are trained. Runs that use it are transfer NAS, not black-box NAS, and are labelled so.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from nagkit.benchmarks import Ledger
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.predictors.fit import surrogate_profile
from nagkit.search.prior import PriorTerm
from nagkit.transfer.lodo import SOURCE_SETS, BenchmarkLike, as_benchmark, named_sources
from nagkit.transfer.predictors import Predictors, lodo_predictors
from nagkit.transfer.protocol import TransferConfig, generate_population, rank

# "lodo" and every benchmark's named source sets
SOURCES = ("lodo", *dict.fromkeys(name for sets in SOURCE_SETS.values() for name in sets))


@dataclass(frozen=True)
class TransferPrior:
    """``sources``: ``"lodo"`` (the target's other datasets) or a named source set (nb201:
    ``"imagenet16"``); ``scale``: the guidance scale of the initial transfer pool (notebook 05's default)."""

    sources: str = "lodo"
    weight: float = 1.0
    decay: float = 20.0
    scale: float = 10.0

    def __post_init__(self) -> None:
        if self.sources not in SOURCES:
            raise ValueError(f"unknown prior {self.sources!r}; valid: {list(SOURCES)}")
        if self.weight < 0 or self.decay <= 0:
            raise ValueError(f"need weight >= 0 and decay > 0, got {self.weight}, {self.decay}")

    def predictors(self, dataset: str, benchmark: BenchmarkLike = "nb201") -> Predictors:
        """The target's surrogates (quick profile, cached under ``<cache root>/surrogates``)."""
        bench = as_benchmark(benchmark)
        return lodo_predictors(dataset, named_sources(dataset, self.sources, bench), surrogate_profile("quick"),
                               benchmark=bench)

    def initial_design(self, ledger: Ledger, predictors: Predictors, n: int, budget: int,
                       generator: torch.Generator) -> None:
        """Train the ``n`` best-ranked architectures of a guided transfer pool (fewer when generation
        yields fewer distinct valid ones; the BO loop fills up)."""
        space = ledger.benchmark.space
        model, sde = scorenet_and_sde(space.name)
        pool = generate_population(model, sde, predictors.guide, TransferConfig(n_unique=n, scale=self.scale),
                                   generator, space)
        for arch in rank(pool.archs[:n], predictors.rank, space):
            if ledger.n_trained >= budget:
                break
            ledger.train(arch)

    def term(self, predictors: Predictors, n_after_init: int) -> PriorTerm:
        """The acquisition's prior term after ``n_after_init`` BO trainings."""
        return PriorTerm(predictors.rank, predictors.guide, self.weight * self.decay / (self.decay + n_after_init))

    def start(self, ledger: Ledger, n_init: int, budget: int, generator: torch.Generator
              ) -> Callable[[int], PriorTerm]:
        """:class:`~nagkit.search.prior.Prior`: load the target's surrogates, train the initial design."""
        predictors = self.predictors(ledger.dataset, ledger.benchmark)
        self.initial_design(ledger, predictors, n_init, budget, generator)
        return partial(self.term, predictors)
