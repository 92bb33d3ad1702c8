"""Priors of BO loops: the interface a strategy accepts, and the registry of priors given by name.

A BO strategy takes any :class:`Prior` object; ``prior="<name>"`` in a strategy's config is
resolved by :func:`~nagkit.search.base.get_strategy` through :data:`PRIORS` (``"module:factory"``
names imported on use, so no strategy module imports the transfer stack). ``"lodo"`` and
``"imagenet16"`` are :class:`nagkit.transfer.prior.TransferPrior`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from nagkit.benchmarks import Ledger
from nagkit.search.base import resolve


@dataclass(frozen=True)
class PriorTerm:
    """``weight * clean(x)`` for scoring candidates, ``weight * noisy(x_t, sigma)`` for guidance."""

    clean: Callable[[torch.Tensor], torch.Tensor]
    noisy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    weight: float


class Prior(Protocol):
    """What a BO loop knows about ``ledger.dataset`` before its first training."""

    def start(self, ledger: Ledger, n_init: int, budget: int, generator: torch.Generator
              ) -> Callable[[int], PriorTerm]:
        """Train the prior's initial design (at most ``n_init``, never past ``budget``; the loop fills
        up at random) and return the acquisition's prior term after ``n`` further trainings."""
        ...


# name -> "module:factory"; the factory is called as factory(name, **options).
PRIORS: dict[str, str] = {
    "lodo": "nagkit.transfer.prior:TransferPrior",
    "imagenet16": "nagkit.transfer.prior:TransferPrior",
}


def get_prior(name: str, **options) -> Prior:
    """Build a registered prior (``options``: the factory's, e.g. ``weight``, ``decay``, ``scale``);
    ``KeyError`` lists the valid names."""
    if name not in PRIORS:
        raise KeyError(f"unknown prior {name!r}; valid: {list(PRIORS)}")
    return resolve(PRIORS[name])(name, **options)
