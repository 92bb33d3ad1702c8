"""The search-strategy interface, its registry, and space-generic mutation / neighbourhoods.

A strategy trains architectures only through a :class:`~nagkit.benchmarks.Ledger` (which counts
distinct architectures and charges simulated training time), selects by validation accuracy,
and stops once ``ledger.n_trained`` reaches its budget. Everything here uses only the
:class:`~nagkit.spaces.base.SearchSpace` interface, so strategies work on any space that has a
benchmark (the space is ``ledger.benchmark.space``).
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

import torch

from nagkit.benchmarks import Ledger
from nagkit.spaces.base import SearchSpace


class SearchStrategy(Protocol):
    """``run`` trains architectures through ``ledger`` until ``ledger.n_trained == budget``."""

    name: str

    def run(self, ledger: Ledger, budget: int, generator: torch.Generator) -> None: ...


# name -> "module:factory", imported on use (importing one strategy never imports the others' stacks).
STRATEGIES: dict[str, str] = {
    "rs": "nagkit.search.random_search:RandomSearch",
    "rea": "nagkit.search.evolution:RegularisedEvolution",
    "ls": "nagkit.search.local_search:LocalSearch",
    "bananas": "nagkit.search.bananas:bananas",
    "gpbo": "nagkit.search.gpbo:gpbo",
    "diffusionnag-bo": "nagkit.search.diffusion_bo:diffusionnag_bo",
}


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` registry entry names (importing its module)."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_strategy(name: str, **config) -> SearchStrategy:
    """Build a registered strategy; ``KeyError`` lists the valid names.

    A prior given by name (``prior="lodo"``, options ``prior_<option>=...``) is built through
    :func:`nagkit.search.prior.get_prior`; a prior object is passed on as it is.
    """
    if name not in STRATEGIES:
        raise KeyError(f"unknown search method {name!r}; valid: {sorted(STRATEGIES)}")
    if "prior" in config:
        options = {k.removeprefix("prior_"): config.pop(k) for k in [k for k in config if k.startswith("prior_")]}
        if isinstance(config["prior"], str):
            from nagkit.search.prior import get_prior

            config["prior"] = get_prior(config["prior"], **options)
        elif options and config["prior"] is not None:
            raise ValueError(f"prior options {sorted(options)} configure a prior given by name, not a prior object")
    return resolve(STRATEGIES[name])(**config)


def space_of(ledger: Ledger) -> SearchSpace:
    """The search space of the ledger's benchmark."""
    return ledger.benchmark.space


def check_budget(ledger: Ledger, budget: int) -> None:
    if budget < 1:
        raise ValueError(f"budget must be >= 1 trained architecture, got {budget}")
    if ledger.n_trained >= budget:
        raise ValueError(f"the ledger already holds {ledger.n_trained} trained architectures (budget {budget})")


def _row_options(space: SearchSpace) -> int:
    """Choices for one row: each type, plus the all-zero row (unused slot)."""
    return space.n_vocab + 1


def _set_row(x: torch.Tensor, row: int, choice: int) -> torch.Tensor:
    y = x.clone()
    y[row] = 0.0
    if choice < x.shape[1]:
        y[row, choice] = 1.0
    return y


def _row_choice(x: torch.Tensor, row: int) -> int:
    return int(x[row].argmax()) if bool(x[row].any()) else x.shape[1]


def neighbours(space: SearchSpace, arch: str) -> list[str]:
    """Every valid architecture that differs from ``arch`` in exactly one node row (fixed order)."""
    x = space.encode(arch)
    out = []
    for row in range(space.n_nodes):
        current = _row_choice(x, row)
        for choice in range(_row_options(space)):
            if choice != current:
                arch2 = space.decode_or_none(_set_row(x, row, choice))
                if arch2 is not None and arch2 != arch:
                    out.append(arch2)
    return out


def mutate(space: SearchSpace, arch: str, generator: torch.Generator, tries: int = 200) -> str:
    """Change one node's operation (one row of ``X``) at random, keeping the architecture valid.

    For NB201 this changes the op of one edge. Falls back to the full neighbourhood when
    random tries keep hitting invalid matrices; ``ValueError`` if ``arch`` has no neighbour.
    """
    x = space.encode(arch)
    n_opt = _row_options(space)
    for _ in range(tries):
        row = int(torch.randint(space.n_nodes, (1,), generator=generator))
        choice = int(torch.randint(n_opt, (1,), generator=generator))
        if choice == _row_choice(x, row):
            continue
        arch2 = space.decode_or_none(_set_row(x, row, choice))
        if arch2 is not None and arch2 != arch:
            return arch2
    options = neighbours(space, arch)
    if not options:
        raise ValueError(f"{arch!r} has no valid one-row mutation in the {space.name} space")
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def train_random(ledger: Ledger, budget: int, n: int, generator: torch.Generator) -> None:
    """Train up to ``n`` new uniformly random architectures (never past ``budget``). Once 100 draws in a
    row hit trained ones (a nearly exhausted finite space), the rest are drawn from the untrained ones."""
    space = space_of(ledger)
    target = min(budget, ledger.n_trained + n)
    misses = 0
    while ledger.n_trained < target:
        if misses >= 100:
            left = [a for a in space.enumerate() if not ledger.is_trained(a)]
            if not left:
                raise ValueError(f"the space is exhausted: all {ledger.n_trained} architectures are trained")
            ledger.train(left[int(torch.randint(len(left), (1,), generator=generator))])
            continue
        before = ledger.n_trained
        ledger.train(space.sample(1, generator)[0])
        misses = misses + 1 if ledger.n_trained == before else 0
