"""Predictor heads f(X), f(X_t, sigma) and f(X, D) on top of the graph encoder."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from nagkit.predictors.encoder import EncoderConfig, GraphEncoder
from nagkit.predictors.set_encoder import SetEncoder, SetEncoderConfig
from nagkit.spaces.base import SearchSpace


@dataclass(frozen=True)
class PredictorConfig:
    """``noise_aware``: condition on the noise level sigma(t); ``dataset``: condition on a
    Set-Transformer encoding of the dataset (``None``: no dataset input)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    noise_aware: bool = False
    dataset: SetEncoderConfig | None = None
    head_hidden: int = 144

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PredictorConfig:
        return cls(
            encoder=EncoderConfig(**d["encoder"]),
            noise_aware=bool(d["noise_aware"]),
            dataset=None if d["dataset"] is None else SetEncoderConfig(**d["dataset"]),
            head_hidden=int(d["head_hidden"]),
        )


def sigma_features(sigma: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of log(sigma), ``(batch,) -> (batch, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=sigma.device) / half)
    arg = torch.log(sigma).unsqueeze(-1) * 250.0 * freqs  # log(sigma) spans a few units
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class Predictor(nn.Module):
    """Regression of a property from an architecture matrix (optionally noise level, dataset).

    Inputs: a clean predictor reads one-hot ``X`` (what ``space.encode`` gives); a noise-aware
    one reads ``X_t`` on the score network's scale (one-hot ``* 2 - 1`` plus noise) and
    ``sigma`` of shape ``(batch,)``; a dataset-aware one also reads features of shape
    ``(batch or 1, n_classes, n_per_class, feature_dim)``. ``forward`` returns standardised
    predictions ``(batch,)``; ``predict`` maps them back to target units with the stored
    ``y_mean`` / ``y_std`` (set by ``fit_predictor``).
    """

    def __init__(self, space: SearchSpace, config: PredictorConfig = PredictorConfig()) -> None:
        super().__init__()
        self.config = config
        self.space_name = space.name
        self.shape = space.shape
        self.encoder = GraphEncoder(space.adjacency, space.n_vocab, config.encoder)
        hidden = config.encoder.hidden
        self.noise_embed = (
            nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
            if config.noise_aware else None
        )
        self.set_encoder = SetEncoder(config.dataset) if config.dataset is not None else None
        in_dim = self.encoder.out_dim + (config.dataset.out_dim if config.dataset is not None else 0)
        self.head = nn.Sequential(nn.Linear(in_dim, config.head_hidden), nn.ReLU(), nn.Linear(config.head_hidden, 1))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None,
                dataset: torch.Tensor | None = None) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.shape or x.dim() != 3:
            raise ValueError(f"expected a batch of {self.space_name} matrices (batch, *{self.shape}), got {tuple(x.shape)}")
        cond = None
        if self.noise_embed is not None:
            if sigma is None:
                raise ValueError("a noise-aware predictor needs sigma (the noise level of x), shape (batch,)")
            sigma = sigma.to(x).expand(x.shape[0])
            cond = self.noise_embed(sigma_features(sigma, self.config.encoder.hidden))
        elif sigma is not None:
            raise ValueError("this predictor is not noise-aware; do not pass sigma")
        h = self.encoder(x, cond)
        if self.set_encoder is not None:
            if dataset is None:
                raise ValueError("a dataset-aware predictor needs dataset features")
            d = self.set_encoder(dataset)
            h = torch.cat([h, d.expand(x.shape[0], -1)], dim=-1)
        elif dataset is not None:
            raise ValueError("this predictor is not dataset-aware; do not pass dataset features")
        return self.head(h).squeeze(-1)

    def predict(self, x: torch.Tensor, sigma: torch.Tensor | None = None,
                dataset: torch.Tensor | None = None) -> torch.Tensor:
        """Prediction in target units (differentiable; wrap in ``torch.no_grad`` to rank)."""
        return self(x, sigma, dataset) * self.y_std + self.y_mean
