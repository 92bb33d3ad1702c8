"""Local search over one-row neighbourhoods with random restarts (White et al. 2021)."""
from __future__ import annotations

import torch

from nagkit.benchmarks import Ledger
from nagkit.search.base import check_budget, neighbours, space_of, train_random


class LocalSearch:
    """Start from the best of ``n_init`` random architectures; train the current architecture's
    neighbours in random order and move to the best one (or the first better one with
    ``first_improvement``); at a local optimum restart from a fresh random architecture."""

    name = "ls"

    def __init__(self, n_init: int = 10, first_improvement: bool = False) -> None:
        self.n_init, self.first_improvement = n_init, first_improvement

    def run(self, ledger: Ledger, budget: int, generator: torch.Generator) -> None:
        check_budget(ledger, budget)
        space = space_of(ledger)
        start = ledger.n_trained
        train_random(ledger, budget, self.n_init, generator)
        current = max(ledger.history[start:], key=lambda r: r.val_acc)
        while ledger.n_trained < budget:
            options = neighbours(space, current.arch)
            best = current
            for i in torch.randperm(len(options), generator=generator).tolist():
                if ledger.n_trained >= budget:
                    return
                record = ledger.train(options[i])
                if record.val_acc > best.val_acc:
                    best = record
                    if self.first_improvement:
                        break
            if best is current:  # local optimum: restart
                before = ledger.n_trained
                train_random(ledger, budget, 1, generator)
                if ledger.n_trained == before:
                    return
                best = ledger.history[-1]
            current = best
