"""Random search: train uniformly random architectures until the budget is spent."""
from __future__ import annotations

import torch

from nagkit.benchmarks import Ledger
from nagkit.search.base import check_budget, train_random


class RandomSearch:
    """Uniform sampling from the space (duplicates cost nothing and are redrawn)."""

    name = "rs"

    def run(self, ledger: Ledger, budget: int, generator: torch.Generator) -> None:
        check_budget(ledger, budget)
        train_random(ledger, budget, budget, generator)
