"""Reverse-time samplers and discretisation (method.md section 2).

Samplers integrate from the prior at ``t = 1`` to ``t = eps`` on a uniform time grid (geometric in
sigma for the VE-SDE), then take one Tweedie denoising step ``x + std^2 * score``:

- ``"pc"``: predictor-corrector, as the authors: at each time one Langevin corrector step
  (signal-to-noise ``snr``) then a reverse Euler-Maruyama predictor step.
- ``"ode"``: the probability-flow ODE with Heun's method (deterministic given the prior draw).

``guidance(x_t, t)`` (optional) is added to the network score at every evaluation, so the
conditional score is ``score + guidance``; guidance runs with gradients enabled. Any non-finite
score or state raises ``FloatingPointError`` instead of returning NaN samples.

Sampling runs on the network's device. Random draws come from the (CPU) ``torch.Generator`` and are
copied to the device, so a seed gives the same noise on every device; on an accelerator the
finiteness checks are collected and read once per batch (no host synchronisation per step).

Discretisation, on the [-1, 1] scale: ``"argmax"`` takes each row's largest entry; in spaces with
unused slots a row whose maximum is below 0 (no type more on than off) is empty. ``"threshold"``
is the authors' rule: an entry is on when above 0 (0.5 on the [0, 1] scale); rows with two or more
on entries are then invalid.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nagkit.diffusion.scorenet import ScoreNet
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


class FiniteCheck:
    """Raises ``FloatingPointError`` on a non-finite tensor: at once on the CPU; on an accelerator at
    :meth:`flush` (the flags stay on the device until then, so the hot loop never waits on the host)."""

    def __init__(self, device: torch.device) -> None:
        self.deferred = device.type != "cpu"
        self.pending: list[tuple[torch.Tensor, str, torch.Tensor]] = []

    def __call__(self, v: torch.Tensor, what: str, t: torch.Tensor) -> torch.Tensor:
        if self.deferred:
            self.pending.append((torch.isfinite(v).all(), what, t[0]))
        elif not torch.isfinite(v).all():
            self.fail(what, float(t[0]))
        return v

    def flush(self) -> None:
        if not self.pending:
            return
        ok = torch.stack([flag for flag, _, _ in self.pending]).cpu()
        pending, self.pending = self.pending, []
        if not ok.all():
            _, what, t = pending[int((~ok).nonzero()[0])]
            self.fail(what, float(t))

    @staticmethod
    def fail(what: str, t: float) -> None:
        raise FloatingPointError(f"non-finite {what} at t={t:.5f}; stopping instead of returning NaN samples")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a module's parameters (or buffers; the CPU for a module with neither)."""
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if tensor is None else tensor.device


def score_fn(model: ScoreNet, sde: SDE, guidance: Guidance | None = None,
             check: FiniteCheck | None = None) -> Callable:
    """``(x, t) -> model score (+ guidance)``, checked for non-finite values."""
    check = check or FiniteCheck(model_device(model))

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            s = check(model(x, sde.noise_level(t)), "score-network output", t)
        if guidance is not None:
            s = s + check(guidance(x.detach(), t).detach(), "guidance term", t)
        return s

    return score


def randn(shape: Sequence[int], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal noise drawn from ``generator`` (CPU) and placed on ``device``."""
    return torch.randn(tuple(shape), generator=generator).to(device, non_blocking=True)


def _pc_step(score, sde: SDE, x, t, dt, snr, g):
    grad = score(x, t)
    noise = randn(x.shape, g, x.device)
    grad_norm = grad.flatten(1).norm(dim=1).mean()
    noise_norm = noise.flatten(1).norm(dim=1).mean()
    step = 2 * (snr * noise_norm / grad_norm.clamp_min(1e-12)) ** 2
    x = x + step * grad + torch.sqrt(2 * step) * noise
    drift, diffusion = sde.sde(x, t)
    x = x + (drift - diffusion**2 * score(x, t)) * dt
    return x + diffusion * (-dt) ** 0.5 * randn(x.shape, g, x.device)


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
    device = model_device(model)
    check = FiniteCheck(device)
    score = score_fn(model, sde, guidance, check)
    times = torch.linspace(sde.T, config.eps, config.steps + 1)
    grid = times.to(device)
    out = []
    for start in range(0, n, config.batch_size):
        b = min(config.batch_size, n - start)
        x = sde.prior_sampling((b, *model.shape), generator).to(device)
        for i in range(config.steps):
            t, t_next = grid[i].expand(b), grid[i + 1].expand(b)
            dt = float(times[i + 1] - times[i])
            if config.method == "pc":
                x = _pc_step(score, sde, x, t, dt, config.snr, generator)
            else:
                x = _ode_step(score, sde, x, t, t_next, dt)
            check(x, "sampler state", t)
        t_end = grid[-1].expand(b)
        std = sde.noise_level(t_end)[:, None, None]
        mean = sde.marginal_prob(torch.ones(b, 1, 1, device=device), t_end)[0]  # VP scaling (1 for VE)
        out.append(check((x + std**2 * score(x, t_end)) / mean, "denoised sample", t_end))
        check.flush()
    return torch.cat(out).cpu() if out else torch.zeros(0, *model.shape)


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
    return decode_all(space, discretize(x, rule, space.optional_rows))


def quality_by_rule(space: SearchSpace, model: ScoreNet, sde: SDE, train: Sequence[str], n: int,
                    generator: torch.Generator, config: SamplerConfig = SamplerConfig()) -> dict[str, dict]:
    """Generation metrics of one batch of ``n`` samples under each discretisation rule."""
    x = sample_features(model, sde, n, config, generator)
    allow = space.optional_rows
    return {rule: generation_quality(space, decode_all(space, discretize(x, rule, allow)), train) for rule in RULES}
