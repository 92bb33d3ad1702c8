"""NAS search strategies through the benchmark ledger (method.md section 5).

``get_strategy(name, **config).run(ledger, budget, generator)``; names in :data:`STRATEGIES`:
``rs`` random search, ``rea`` regularised evolution, ``ls`` local search, ``bananas`` (MLP
ensemble BO), ``gpbo`` (GP BO), ``diffusionnag-bo`` (BO whose acquisition is optimised by guided
generation, :mod:`nagkit.search.diffusion_bo`). Anytime curves over seeds: :mod:`nagkit.search.anytime`.

Registries hold ``"module:attribute"`` names and the names below are imported on first access,
so importing one strategy (``nagkit.search.random_search``) loads only what it needs.
"""
import importlib

_EXPORTS = {
    "ACQUISITIONS": "acquisition", "OPTIMISERS": "acquisition", "Acquisition": "acquisition",
    "AcquisitionScorer": "acquisition", "MutationPool": "acquisition", "RandomPool": "acquisition",
    "get_optimiser": "acquisition",
    "BayesOpt": "bananas", "MLPEnsemble": "bananas", "PathEncoding": "bananas",
    "STRATEGIES": "base", "SearchStrategy": "base", "get_strategy": "base", "mutate": "base", "neighbours": "base",
    "GuidedGeneration": "diffusion_bo", "NoiseAwareEnsemble": "diffusion_bo",
    "PRIORS": "prior", "Prior": "prior", "PriorTerm": "prior", "get_prior": "prior",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):  # noqa: ANN202 - PEP 562 lazy attributes
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
