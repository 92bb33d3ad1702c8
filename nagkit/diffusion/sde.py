"""SDEs as small classes, after Song et al.'s score_sde: ``sde``, ``marginal_prob``,
``prior_sampling``, ``discretize``. Time runs over ``[0, T]`` with ``T = 1``."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch


class SDE(ABC):
    """dx = f(x, t) dt + g(t) dw on tensors of shape (batch, *event_shape)."""

    T: float = 1.0

    def __init__(self, N: int = 1000) -> None:
        self.N = N

    @abstractmethod
    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Drift f(x, t) and diffusion g(t) (broadcastable to x)."""

    @abstractmethod
    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of p_t(x_t | x_0 = x); std has shape (batch,)."""

    @abstractmethod
    def prior_sampling(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """A sample of p_T."""

    def noise_level(self, t: torch.Tensor) -> torch.Tensor:
        """The std of p_t, what networks are conditioned on."""
        return self.marginal_prob(torch.zeros(t.shape[0], 1, device=t.device), t)[1]

    def discretize(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Euler-Maruyama discretisation with step 1/N: (f dt, g sqrt(dt))."""
        dt = 1.0 / self.N
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * math.sqrt(dt)


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (x.dim() - 1)))


class VESDE(SDE):
    """Variance exploding: sigma(t) = sigma_min (sigma_max / sigma_min)^t, zero drift."""

    def __init__(self, sigma_min: float = 0.1, sigma_max: float = 5.0, N: int = 1000) -> None:
        super().__init__(N)
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = sigma_min, sigma_max

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))
        return torch.zeros_like(x), _bcast(g, x)

    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, self.sigma(t)

    def prior_sampling(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * self.sigma_max


class VPSDE(SDE):
    """Variance preserving: beta(t) linear from beta_min to beta_max."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000) -> None:
        super().__init__(N)
        self.beta_min, self.beta_max = beta_min, beta_max

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        beta = _bcast(self.beta(t), x)
        return -0.5 * beta * x, torch.sqrt(beta)

    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_coef = -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min
        return _bcast(torch.exp(log_coef), x) * x, torch.sqrt(1.0 - torch.exp(2.0 * log_coef))

    def prior_sampling(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(shape, generator=generator)
