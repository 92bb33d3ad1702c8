"""NAS search strategies through the benchmark ledger (method.md section 5).

``get_strategy(name, **config).run(ledger, budget, generator)``; names in :data:`STRATEGIES`:
``rs`` random search, ``rea`` regularised evolution, ``ls`` local search, ``bananas`` (MLP
ensemble BO), ``gpbo`` (GP BO), ``diffusionnag-bo`` (BO whose acquisition is optimised by guided
generation, :mod:`nagkit.search.diffusion_bo`). Anytime curves over seeds: :mod:`nagkit.search.anytime`.
"""
from nagkit.search import diffusion_bo, evolution, gpbo, local_search, random_search  # noqa: F401  (registration)
from nagkit.search.acquisition import (ACQUISITIONS, OPTIMISERS, Acquisition, AcquisitionScorer, MutationPool,
                                       RandomPool, get_optimiser)
from nagkit.search.bananas import BayesOpt, MLPEnsemble, PathEncoding, bananas
from nagkit.search.base import STRATEGIES, SearchStrategy, get_strategy, mutate, neighbours
from nagkit.search.diffusion_bo import GuidedGeneration, NoiseAwareEnsemble

__all__ = ["ACQUISITIONS", "OPTIMISERS", "STRATEGIES", "Acquisition", "AcquisitionScorer", "BayesOpt",
           "GuidedGeneration", "MLPEnsemble", "MutationPool", "NoiseAwareEnsemble", "PathEncoding", "RandomPool",
           "SearchStrategy", "bananas", "get_optimiser", "get_strategy", "mutate", "neighbours"]
