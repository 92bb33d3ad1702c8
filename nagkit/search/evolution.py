"""Regularised evolution (REA, Real et al. 2019) with aging, through the ledger."""
from __future__ import annotations

from collections import deque

import torch

from nagkit.benchmarks import Ledger, TrainRecord
from nagkit.search.base import check_budget, mutate, space_of, train_random


class RegularisedEvolution:
    """Population of ``population`` (oldest dies), tournament of ``sample_size``, one-row mutation."""

    name = "rea"

    def __init__(self, population: int = 20, sample_size: int = 5, max_free: int = 1000) -> None:
        if not 1 <= sample_size <= population:
            raise ValueError(f"need 1 <= sample_size <= population, got {sample_size}, {population}")
        self.population, self.sample_size, self.max_free = population, sample_size, max_free

    def run(self, ledger: Ledger, budget: int, generator: torch.Generator) -> None:
        check_budget(ledger, budget)
        space = space_of(ledger)
        start = ledger.n_trained
        train_random(ledger, budget, self.population, generator)
        pop: deque[TrainRecord] = deque(ledger.history[start:], maxlen=self.population)
        free = 0  # consecutive children that were already trained (cost nothing)
        while ledger.n_trained < budget:
            idx = torch.randperm(len(pop), generator=generator)[: self.sample_size].tolist()
            parent = max((pop[i] for i in idx), key=lambda r: r.val_acc)
            before = ledger.n_trained
            pop.append(ledger.train(mutate(space, parent.arch, generator)))
            free = free + 1 if ledger.n_trained == before else 0
            if free >= self.max_free:
                train_random(ledger, budget, 1, generator)
                free = 0
