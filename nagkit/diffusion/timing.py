"""Wall-clock rates of score-net training and sampling on a device (``benchmarks/bench_device.py``,
notebook 12). Rates are measurements of this machine, never results to compare across machines."""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from nagkit.diffusion.sample import SamplerConfig, sample_features
from nagkit.diffusion.scorenet import ScoreNet, ScoreNetConfig
from nagkit.diffusion.train import TrainConfig, make_sde, train
from nagkit.spaces.base import SearchSpace


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rate(space: SearchSpace, net: ScoreNetConfig, cfg: TrainConfig, steps: int, device: torch.device) -> float:
    """Training steps per second of the real training loop (``cfg``'s batch, loss, Adam, EMA) over
    ``steps`` steps after one warm-up step; the final checkpoint write is included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ckpt.pt"
        quiet = replace(cfg, steps=1, checkpoint_every=10**9, warmup=1)
        train(space, net, quiet, out, progress=False, device=device)
        _sync(device)
        start = time.perf_counter()
        train(space, net, replace(quiet, steps=1 + steps), out, resume=True, progress=False, device=device)
        _sync(device)
        return steps / (time.perf_counter() - start)


def sample_rate(space: SearchSpace, net: ScoreNetConfig, cfg: TrainConfig, n: int, steps: int,
                device: torch.device) -> float:
    """Samples per second of the PC sampler with ``steps`` steps in batches of up to 256 (untrained
    weights: the speed does not depend on them), after a 2-step warm-up."""
    model = ScoreNet(space, net).to(device).eval()
    sde = make_sde(cfg)
    sampler = SamplerConfig("pc", steps, batch_size=min(n, 256))
    sample_features(model, sde, min(n, 8), replace(sampler, steps=2), torch.Generator().manual_seed(0))
    _sync(device)
    start = time.perf_counter()
    sample_features(model, sde, n, sampler, torch.Generator().manual_seed(0))
    _sync(device)
    return n / (time.perf_counter() - start)
