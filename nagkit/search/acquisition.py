"""Acquisition functions (EI, UCB, PI, ITS) and pluggable acquisition optimisers.

A surrogate maps architecture matrices ``X`` (``(B, n_nodes, n_vocab)``) to a predictive mean
and standard deviation, differentiably in ``X``; an :class:`AcquisitionScorer` turns that into
one score per architecture. An acquisition optimiser proposes architectures to train given the
scorer: :class:`RandomPool` and :class:`MutationPool` here, guided generation (DiffusionNAG-BO,
:mod:`nagkit.search.diffusion_bo`) with the same ``propose`` signature; :data:`OPTIMISERS` names them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from nagkit.search.base import mutate, resolve
from nagkit.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nagkit.search.prior import PriorTerm


class Surrogate(Protocol):
    """Predictive model of validation accuracy from architecture matrices."""

    def fit(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None: ...

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` of shape ``(B,)`` in the units of ``y``; differentiable in ``x``."""
        ...


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)


def expected_improvement(mean: torch.Tensor, std: torch.Tensor, best: float, xi: float = 0.0) -> torch.Tensor:
    """E[max(f - best - xi, 0)] for f ~ N(mean, std^2); ``max(mean - best - xi, 0)`` when std = 0."""
    gain = mean - best - xi
    std = std.clamp_min(1e-12)
    z = gain / std
    return gain * torch.special.ndtr(z) + std * _normal_pdf(z)


def probability_of_improvement(mean: torch.Tensor, std: torch.Tensor, best: float, xi: float = 0.0) -> torch.Tensor:
    """P(f > best + xi) for f ~ N(mean, std^2)."""
    return torch.special.ndtr((mean - best - xi) / std.clamp_min(1e-12))


def upper_confidence_bound(mean: torch.Tensor, std: torch.Tensor, kappa: float = 2.0) -> torch.Tensor:
    """mean + kappa * std."""
    return mean + kappa * std


def thompson(mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Independent Thompson sampling (ITS): one draw from N(mean, std^2) per candidate."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + std * noise


ACQUISITIONS = ("ei", "ucb", "pi", "its")


@dataclass(frozen=True)
class Acquisition:
    """One of :data:`ACQUISITIONS` with its parameter (``xi`` for EI/PI, ``kappa`` for UCB)."""

    name: str = "ei"
    xi: float = 0.0
    kappa: float = 2.0

    def __post_init__(self) -> None:
        if self.name not in ACQUISITIONS:
            raise KeyError(f"unknown acquisition {self.name!r}; valid: {list(ACQUISITIONS)}")

    def __call__(self, mean: torch.Tensor, std: torch.Tensor, best: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if self.name == "ei":
            return expected_improvement(mean, std, best, self.xi)
        if self.name == "pi":
            return probability_of_improvement(mean, std, best, self.xi)
        if self.name == "ucb":
            return upper_confidence_bound(mean, std, self.kappa)
        if generator is None:
            raise ValueError("Thompson sampling needs a torch.Generator")
        return thompson(mean, std, generator)


@dataclass
class AcquisitionScorer:
    """Acquisition value of architecture matrices under a fitted surrogate (``best``: incumbent y),
    plus ``prior.weight * prior.clean(x)`` when a transfer prior is given."""

    surrogate: Surrogate
    acquisition: Acquisition
    best: float
    generator: torch.Generator | None = None
    prior: PriorTerm | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.surrogate.predict(x)
        score = self.acquisition(mean, std, self.best, self.generator)
        if self.prior is not None and self.prior.weight > 0:
            score = score + self.prior.weight * self.prior.clean(x).to(score)
        return score


class AcquisitionOptimiser(Protocol):
    """Proposes ``n`` untrained architectures (not in ``exclude``) with high acquisition."""

    def propose(self, space: SearchSpace, scorer: AcquisitionScorer, archs: list[str], values: torch.Tensor,
                n: int, exclude: set[str], generator: torch.Generator) -> list[str]: ...


def top_by_score(space: SearchSpace, scorer: AcquisitionScorer, candidates: list[str], n: int,
                 exclude: set[str]) -> list[str]:
    """The ``n`` best distinct candidates outside ``exclude`` (ties: first proposed first)."""
    pool = [a for a in dict.fromkeys(candidates) if a not in exclude]
    if not pool:
        return []
    with torch.no_grad():
        scores = scorer(space.encode_batch(pool))
    order = torch.sort(scores, descending=True, stable=True).indices[:n]
    return [pool[i] for i in order.tolist()]


@dataclass(frozen=True)
class RandomPool:
    """Score ``size`` uniformly random architectures, propose the best."""

    size: int = 200

    def propose(self, space: SearchSpace, scorer: AcquisitionScorer, archs: list[str], values: torch.Tensor,
                n: int, exclude: set[str], generator: torch.Generator) -> list[str]:
        return top_by_score(space, scorer, space.sample(self.size, generator), n, exclude)


@dataclass(frozen=True)
class MutationPool:
    """Score ``size`` mutants (1..``edits`` one-row changes) of the ``parents`` best trained
    architectures (by value), propose the best (BANANAS' acquisition optimiser)."""

    size: int = 200
    parents: int = 10
    edits: int = 1

    def propose(self, space: SearchSpace, scorer: AcquisitionScorer, archs: list[str], values: torch.Tensor,
                n: int, exclude: set[str], generator: torch.Generator) -> list[str]:
        order = torch.sort(values, descending=True, stable=True).indices[: self.parents].tolist()
        candidates = []
        for i in range(self.size):
            arch = archs[order[i % len(order)]]
            for _ in range(int(torch.randint(1, self.edits + 1, (1,), generator=generator))):
                arch = mutate(space, arch, generator)
            candidates.append(arch)
        return top_by_score(space, scorer, candidates, n, exclude)


# name -> "module:class", imported on use.
OPTIMISERS: dict[str, str] = {
    "random": "nagkit.search.acquisition:RandomPool",
    "mutation": "nagkit.search.acquisition:MutationPool",
    "guided": "nagkit.search.diffusion_bo:GuidedGeneration",
}


def get_optimiser(name: str, **config) -> AcquisitionOptimiser:
    """Build a registered acquisition optimiser; ``KeyError`` lists the valid names."""
    if name not in OPTIMISERS:
        raise KeyError(f"unknown acquisition optimiser {name!r}; valid: {sorted(OPTIMISERS)}")
    return resolve(OPTIMISERS[name])(**config)
