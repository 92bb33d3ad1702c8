"""One population sampler: draw batches until enough distinct valid architectures exist.

Distinctness is decided by a key function (the string itself, or ``space.canonical`` for
functionally distinct architectures); the population keeps the first string of each key, in
generation order, and counts everything drawn so validity and uniqueness can be reported.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field


@dataclass
class Population:
    """Distinct valid architectures (first string per key, generation order) and what drawing them cost."""

    archs: list[str]
    n_drawn: int
    n_valid: int
    n_batches: int
    valid: list[str] = field(repr=False)  # every valid sample, duplicates kept

    @property
    def n_valid_unique(self) -> int:
        return len(self.archs)

    @property
    def validity(self) -> float:
        return self.n_valid / self.n_drawn if self.n_drawn else 0.0

    @property
    def uniqueness(self) -> float:
        return self.n_valid_unique / self.n_valid if self.n_valid else 0.0


def sample_population(draw: Callable[[int], Sequence[str | None]], n_unique: int, max_batches: int,
                      key: Callable[[str], Hashable] = str) -> Population:
    """Call ``draw(batch_index)`` (decoded samples, ``None`` for invalid ones) until ``n_unique``
    distinct keys are collected or ``max_batches`` batches are drawn; all distinct ones are kept."""
    if n_unique < 1 or max_batches < 1:
        raise ValueError(f"n_unique and max_batches must be >= 1, got {n_unique} and {max_batches}")
    first: dict[Hashable, str] = {}
    valid: list[str] = []
    drawn = batches = 0
    while len(first) < n_unique and batches < max_batches:
        out = draw(batches)
        batches += 1
        drawn += len(out)
        for arch in out:
            if arch is not None:
                valid.append(arch)
                first.setdefault(key(arch), arch)
    return Population(list(first.values()), drawn, len(valid), batches, valid)
