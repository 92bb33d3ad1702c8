"""Set-Transformer encoding of a labelled dataset: per-class image features -> one vector."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn.aggr import SetTransformerAggregation


@dataclass(frozen=True)
class SetEncoderConfig:
    """Input ``feature_dim`` (ResNet-18: 512), attention width ``hidden``, output ``out_dim`` (56)."""

    feature_dim: int = 512
    hidden: int = 56
    heads: int = 4
    out_dim: int = 56

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")


class SetEncoder(nn.Module):
    """``(batch, n_classes, n_per_class, feature_dim)`` -> ``(batch, out_dim)``.

    Intra-class pooling (a Set Transformer over each class's images) gives one vector per
    class; inter-class pooling (a second Set Transformer over the class vectors) gives the
    dataset vector. Invariant to the order of images within a class and of the classes.
    """

    def __init__(self, config: SetEncoderConfig = SetEncoderConfig()) -> None:
        super().__init__()
        self.config = config
        self.project = nn.Linear(config.feature_dim, config.hidden)
        self.intra = SetTransformerAggregation(config.hidden, heads=config.heads)
        self.inter = SetTransformerAggregation(config.hidden, heads=config.heads)
        self.out = nn.Linear(config.hidden, config.out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() != 4 or features.shape[-1] != self.config.feature_dim:
            raise ValueError(
                "expected dataset features of shape (batch, n_classes, n_per_class, "
                f"{self.config.feature_dim}), got {tuple(features.shape)}"
            )
        batch, n_classes, n_per_class, _ = features.shape
        h = self.project(features.reshape(-1, self.config.feature_dim))
        dev = features.device
        per_class = self.intra(h, torch.arange(batch * n_classes, device=dev).repeat_interleave(n_per_class))
        per_set = self.inter(per_class, torch.arange(batch, device=dev).repeat_interleave(n_classes))
        return self.out(per_set)
