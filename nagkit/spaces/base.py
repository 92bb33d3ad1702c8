"""The search-space interface every other module is written against."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import torch


@dataclass(frozen=True)
class DiffusionDefaults:
    """What a space declares for its score network, its training and guided generation.

    ``quick_net`` / ``quick_train`` override ``ScoreNetConfig`` / score-net ``TrainConfig`` fields in
    the quick profile; ``guidance_decrement`` is the authors' linear guidance schedule
    (w = 10,000 minus this per generated batch).
    """

    sigma_max: float = 1.0  # VE-SDE sigma_max
    quick_steps: int = 2000
    paper_steps: int = 250_000
    quick_net: dict[str, Any] = field(default_factory=dict)
    quick_train: dict[str, Any] = field(default_factory=dict)
    guidance_decrement: float = 500.0


class SearchSpace(ABC):
    """A space of architectures seen as DAGs with one operation per node.

    An architecture has a readable string form and a matrix form ``X`` of shape
    ``(n_nodes, n_vocab)`` (one-hot rows, or all-zero rows for unused slots where the
    space allows them). The adjacency is a constant of the space.
    """

    name: str
    vocab: tuple[str, ...]
    adjacency: torch.Tensor  # (n_nodes, n_nodes) bool, adjacency[i, j]: edge i -> j
    optional_rows: ClassVar[bool] = False  # all-zero rows (unused slots) are valid
    diffusion: ClassVar[DiffusionDefaults] = DiffusionDefaults()
    # Input encoding of the BO surrogates (``nagkit.search.bananas.get_encoding``): "path" or "onehot".
    surrogate_encoding: ClassVar[str] = "path"
    # Analytic per-architecture properties (name -> unit), computed by ``property_values``.
    analytic_properties: ClassVar[MappingProxyType[str, str]] = MappingProxyType({})

    @property
    def n_nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def n_vocab(self) -> int:
        return len(self.vocab)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_nodes, self.n_vocab)

    @abstractmethod
    def encode(self, arch: str) -> torch.Tensor:
        """String -> float32 matrix of shape ``self.shape``; ``ValueError`` on a bad string."""

    @abstractmethod
    def decode(self, x: torch.Tensor) -> str:
        """Discrete matrix -> string; ``ValueError`` with the reason when ``x`` is invalid."""

    @abstractmethod
    def validate(self, x: torch.Tensor) -> str | None:
        """``None`` when ``x`` is a valid architecture matrix, else the reason."""

    @abstractmethod
    def canonical(self, arch: str) -> str:
        """Key equal for architectures that compute the same function."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        """``n`` valid architectures drawn uniformly at random."""

    def stage_layout(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(slot within stage, stage)`` per node (long tensors) for staged spaces, else ``None``."""
        return None

    def property_values(self, archs: Sequence[str], name: str, **options: Any) -> list[float]:
        """Values of the analytic property ``name`` (one of ``analytic_properties``)."""
        raise KeyError(f"the {self.name} space has no analytic property {name!r}; valid: {list(self.analytic_properties)}")

    def enumerate(self) -> list[str]:
        """All architectures, when the space is finite."""
        raise NotImplementedError(f"the {self.name} space is too large to enumerate")

    def reachability(self) -> torch.Tensor:
        """Transitive closure of the adjacency (bool, ``[i, j]``: a path i -> j exists)."""
        reach = self.adjacency.clone()
        for k in range(self.n_nodes):
            reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
        return reach

    def check_shape(self, x: torch.Tensor) -> None:
        """Reject a matrix whose trailing shape is not ``self.shape``."""
        if tuple(x.shape[-2:]) != self.shape:
            raise ValueError(
                f"{self.name}: expected an architecture matrix of shape {self.shape} "
                f"(nodes x vocabulary), got {tuple(x.shape)}"
            )

    @staticmethod
    def non_finite_row(x: torch.Tensor) -> str | None:
        """The ``validate`` reason for a matrix with a NaN or inf entry (first such row), else ``None``."""
        finite = torch.isfinite(x).all(dim=1)
        if finite.all():
            return None
        return f"row {int((~finite).nonzero()[0])} has a non-finite entry (NaN or inf)"

    def encode_batch(self, archs: Sequence[str]) -> torch.Tensor:
        """Stack encodings into a ``(len(archs), n_nodes, n_vocab)`` tensor."""
        return torch.stack([self.encode(a) for a in archs]) if archs else torch.zeros(0, *self.shape)

    def decode_or_none(self, x: torch.Tensor) -> str | None:
        """Decode, or ``None`` when the matrix is invalid."""
        return None if self.validate(x) is not None else self.decode(x)
