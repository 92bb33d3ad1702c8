"""Reverse-time samplers and discretisation (method.md section 2).

Samplers integrate from the prior at ``t = 1`` to ``t = eps`` on a uniform time grid (geometric in
sigma for the VE-SDE), then take one Tweedie denoising step ``x + std^2 * score``:

- ``"pc"``: predictor-corrector, as the authors: at each time one Langevin corrector step
  (signal-to-noise ``snr``) then a reverse Euler-Maruyama predictor step.
- ``"ode"``: the probability-flow ODE with Heun's method (deterministic given the prior draw).

``guidance(x_t, t)`` (optional) is added to the network score at every evaluation, so the
conditional score is ``score + guidance``; guidance runs with gradients enabled. Any non-finite
score or state raises ``FloatingPointError`` instead of returning NaN samples.

Discretisation, on the [-1, 1] scale: ``"argmax"`` takes each row's largest entry; in spaces with
unused slots a row whose maximum is below 0 (no type more on than off) is empty. ``"threshold"``
is the authors' rule: an entry is on when above 0 (0.5 on the [0, 1] scale); rows with two or more
on entries are then invalid.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nagkit.diffusion.scorenet import ScoreNet, allows_empty_rows
from nagkit.diffusion.sde import SDE
from nagkit.metrics import generation_quality
from nagkit.spaces.base import SearchSpace

Guidance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METHODS = ("pc", "ode")
RULES = ("argmax", "threshold")


@dataclass(frozen=True)
class SamplerConfig:
    """Defaults: nagkit's fast sampler (20 PC steps; in notebook 03 the ODE needed more network
    evaluations for the same validity). ``SamplerConfig("pc", 1000)`` is the authors' sampler."""

    method: str = "pc"
    steps: int = 20
    snr: float = 0.16
    eps: float = 1e-5
    batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"sampler method must be one of {METHODS}, got {self.method!r}")
        if not (self.steps >= 1 and self.batch_size >= 1):
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if not 0 <= self.snr < math.inf:
            raise ValueError(f"snr must be finite and >= 0, got {self.snr}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps (the last diffusion time) must be in (0, 1), got {self.eps}")


def _finite(v: torch.Tensor, what: str, t: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(v).all():
        raise FloatingPointError(f"non-finite {what} at t={float(t[0]):.5f}; stopping instead of returning NaN samples")
    return v


def score_fn(model: ScoreNet, sde: SDE, guidance: Guidance | None = None) -> Callable:
    """``(x, t) -> model score (+ guidance)``, checked for non-finite values."""

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            s = _finite(model(x, sde.noise_level(t)), "score-network output", t)
        if guidance is not None:
            s = s + _finite(guidance(x.detach(), t).detach(), "guidance term", t)
        return s

    return score


def _pc_step(score, sde: SDE, x, t, dt, snr, g):
    grad = score(x, t)
    noise = torch.randn(x.shape, generator=g)
    grad_norm = grad.flatten(1).norm(dim=1).mean()
    noise_norm = noise.flatten(1).norm(dim=1).mean()
    step = 2 * (snr * noise_norm / grad_norm.clamp_min(1e-12)) ** 2
    x = x + step * grad + torch.sqrt(2 * step) * noise
    drift, diffusion = sde.sde(x, t)
    x = x + (drift - diffusion**2 * score(x, t)) * dt
    return x + diffusion * (-dt) ** 0.5 * torch.randn(x.shape, generator=g)


def _ode_step(score, sde: SDE, x, t, t_next, dt):
    def velocity(y, s):
        drift, diffusion = sde.sde(y, s)
        return drift - 0.5 * diffusion**2 * score(y, s)

    d = velocity(x, t)
    y = x + d * dt
    return x + 0.5 * (d + velocity(y, t_next)) * dt


def sample_features(model: ScoreNet, sde: SDE, n: int, config: SamplerConfig, generator: torch.Generator,
                    guidance: Guidance | None = None) -> torch.Tensor:
    """``n`` continuous samples ``(n, *model.shape)`` on the [-1, 1] scale."""
    if not n >= 0:
        raise ValueError(f"the number of samples must be >= 0, got {n}")
    model.eval()
    score = score_fn(model, sde, guidance)
    grid = torch.linspace(sde.T, config.eps, config.steps + 1)
    out = []
    for start in range(0, n, config.batch_size):
        b = min(config.batch_size, n - start)
        x = sde.prior_sampling((b, *model.shape), generator)
        for i in range(config.steps):
            t, t_next = grid[i].expand(b), grid[i + 1].expand(b)
            dt = float(grid[i + 1] - grid[i])
            if config.method == "pc":
                x = _pc_step(score, sde, x, t, dt, config.snr, generator)
            else:
                x = _ode_step(score, sde, x, t, t_next, dt)
            _finite(x, "sampler state", t)
        t_end = grid[-1].expand(b)
        std = sde.noise_level(t_end)[:, None, None]
        mean = sde.marginal_prob(torch.ones(b, 1, 1), t_end)[0]  # VP scaling (1 for VE)
        out.append(_finite((x + std**2 * score(x, t_end)) / mean, "denoised sample", t_end))
    return torch.cat(out) if out else torch.zeros(0, *model.shape)


def discretize(x: torch.Tensor, rule: str = "argmax", allow_empty: bool = False) -> torch.Tensor:
    """[-1, 1]-scale samples -> 0/1 matrices (see the module docstring for the rules)."""
    if rule == "threshold":
        return (x > 0).float()
    if rule != "argmax":
        raise ValueError(f"discretisation rule must be one of {RULES}, got {rule!r}")
    onehot = torch.nn.functional.one_hot(x.argmax(dim=-1), x.shape[-1]).float()
    if allow_empty:
        onehot = onehot * (x.max(dim=-1, keepdim=True).values >= 0)
    return onehot


def decode_all(space: SearchSpace, x: torch.Tensor) -> list[str | None]:
    """Decode each discrete matrix; ``None`` for invalid ones."""
    return [space.decode_or_none(m) for m in x]


def generate(space: SearchSpace, model: ScoreNet, sde: SDE, n: int, generator: torch.Generator,
             config: SamplerConfig = SamplerConfig(), guidance: Guidance | None = None,
             rule: str = "argmax") -> list[str | None]:
    """``n`` architecture strings (``None`` where the sample is invalid)."""
    x = sample_features(model, sde, n, config, generator, guidance)
    return decode_all(space, discretize(x, rule, allows_empty_rows(space)))


def quality_by_rule(space: SearchSpace, model: ScoreNet, sde: SDE, train: Sequence[str], n: int,
                    generator: torch.Generator, config: SamplerConfig = SamplerConfig()) -> dict[str, dict]:
    """Generation metrics of one batch of ``n`` samples under each discretisation rule."""
    x = sample_features(model, sde, n, config, generator)
    allow = allows_empty_rows(space)
    return {rule: generation_quality(space, decode_all(space, discretize(x, rule, allow)), train) for rule in RULES}
