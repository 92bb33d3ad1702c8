"""Predictor guidance: conditional score = score + w(t) * grad_x sum_k c_k * objective_k(x_t, sigma(t)).

Objectives wrap *noise-aware* predictors ``f(x_t, sigma) -> (batch,)`` (trained on noised inputs at the score
network's noise levels). ``maximize`` pushes a property up (the authors' use), ``minimize`` down, ``target``
towards a value, ``at_most`` penalises only the excess over a budget (a constraint as a penalty).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from nagkit.diffusion.sde import SDE
from nagkit.spaces.base import SearchSpace

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
KINDS = ("maximize", "minimize", "target", "at_most")
# Constant scale for NB201 accuracy surrogates, chosen in notebook 05 on pseudo-tasks built from source datasets only.
DEFAULT_SCALE = 10.0


@dataclass
class Objective:
    """One guided property: ``predictor(x_t, sigma)`` scored according to ``kind``."""

    predictor: Predictor
    kind: str = "maximize"
    weight: float = 1.0
    value: float | None = None  # the target for "target", the budget for "at_most"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"objective kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("target", "at_most") and self.value is None:
            raise ValueError(f"a {self.kind!r} objective needs a value")
        if not 0 <= self.weight < math.inf:
            raise ValueError(f"objective weight must be finite and >= 0 (use kind='minimize' to push a property "
                             f"down), got {self.weight}")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"objective value must be finite, got {self.value}")

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        y = self.predictor(x, sigma).reshape(-1)
        if self.kind == "maximize":
            score = y
        elif self.kind == "minimize":
            score = -y
        elif self.kind == "target":
            score = -((y - self.value) ** 2)
        else:
            score = -torch.relu(y - self.value) ** 2
        return self.weight * score


@dataclass(frozen=True)
class Schedule:
    """Guidance scale per generated batch and per diffusion time.

    ``constant``: ``w``; ``linear``: the authors' ``w - decrement * batch`` (floored at ``floor``);
    ``annealed``: ``w * (1 - t)``, i.e. strongest near the data end of the reverse process.
    """

    kind: str = "constant"
    w: float = 1.0
    decrement: float = 0.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "linear", "annealed"):
            raise ValueError(f"schedule kind must be constant, linear or annealed, got {self.kind!r}")
        bad = [f"{k}={v!r}" for k, v in (("w", self.w), ("decrement", self.decrement), ("floor", self.floor))
               if not 0 <= v < math.inf]
        if bad:
            raise ValueError(f"guidance scale w, decrement and floor must be finite and >= 0 (a negative scale "
                             f"would minimise the objective), got {', '.join(bad)}")

    def scale(self, batch: int, t: torch.Tensor) -> torch.Tensor:
        if self.kind == "linear":
            return torch.full_like(t, max(self.floor, self.w - self.decrement * batch))
        if self.kind == "annealed":
            return self.w * (1.0 - t)
        return torch.full_like(t, self.w)


def authors_schedule(space: SearchSpace) -> Schedule:
    """w = 10,000 minus the space's ``diffusion.guidance_decrement`` per generated batch (paper: 300 on
    NB201, 500 on MBV3)."""
    return Schedule("linear", 10_000.0, space.diffusion.guidance_decrement)


def make_guidance(objectives: Sequence[Objective], sde: SDE, schedule: Schedule, batch: int = 0,
                  max_norm: float | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The additive score term for a sampler's ``guidance=`` argument.

    The gradient of the summed objectives is taken per sample; ``max_norm`` clips each sample's
    gradient norm. Non-finite gradients raise ``FloatingPointError`` instead of producing NaN samples.
    """
    if not objectives:
        raise ValueError("guidance needs at least one objective")

    def guidance(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            sigma = sde.noise_level(t)
            total = sum(obj(x_in, sigma) for obj in objectives)
            (grad,) = torch.autograd.grad(total.sum(), x_in)
        if grad.device.type == "cpu" and not torch.isfinite(grad).all():  # elsewhere the sampler's deferred check
            raise FloatingPointError("guidance gradient is not finite; lower the scale or check the predictor")
        if max_norm is not None:
            norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
            grad = grad * (max_norm / norms).clamp(max=1.0).view(-1, *([1] * (grad.dim() - 1)))
        w = schedule.scale(batch, t).view(-1, *([1] * (grad.dim() - 1)))
        return w * grad

    return guidance
