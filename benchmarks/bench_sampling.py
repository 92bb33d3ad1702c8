"""Sampling throughput and quick-training time of the NB201 score net (a script, not a test).

    .venv/bin/python benchmarks/bench_sampling.py [--n 1000] [--n-authors 1000] [--threads 2]
        [--paper-train-steps 600] [--check-every 100]

Prints, for NB201: valid-unique architectures per second and validity of (a) nagkit's default
sampler on the packaged quick checkpoint, (a') the authors' sampler (1000-step PC) on the same
net, and (b) the authors' configuration (12 layers, width 64, 8 heads, 1000-step PC), whose net
is trained here for ``--paper-train-steps`` steps of the quick recipe (its speed does not depend on
training; its validity is reported as measured); then the wall-clock training time of the quick
NB201 profile until ``--n`` default-sampler samples reach 99% validity (checked every
``--check-every`` steps). ``--n-authors`` samples are drawn with the 1000-step sampler (it costs 100x
the default per sample, so fewer keep the run short; rates are per second either way).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from nagkit.diffusion.checkpoint import load_scorenet, packaged_checkpoint
from nagkit.diffusion.sample import SamplerConfig, generate
from nagkit.diffusion.scorenet import ScoreNetConfig
from nagkit.diffusion.train import TrainConfig, make_sde, profile, train
from nagkit.metrics import validity
from nagkit.spaces import get_space

AUTHORS_SAMPLER = SamplerConfig("pc", 1000)


def measure(space, model, sde, n: int, sampler: SamplerConfig, seed: int = 0, name: str = "") -> dict:
    start = time.perf_counter()
    archs = generate(space, model, sde, n, torch.Generator().manual_seed(seed), sampler)
    seconds = time.perf_counter() - start
    unique = len({a for a in archs if a is not None})
    r = {"n": n, "seconds": seconds, "validity": validity(space, archs), "valid_unique_per_s": unique / seconds}
    if name:
        print(f"{name}: {r['valid_unique_per_s']:.1f} valid-unique/s, validity {r['validity']:.2%}, "
              f"{r['seconds']:.1f} s for {n}", flush=True)
    return r


def time_to_validity(space, target: float, n: int, chunk: int, out: Path) -> dict:
    net, cfg = profile(space, "quick")
    sde, trained, seconds, val = make_sde(cfg), 0, 0.0, 0.0
    while trained < cfg.steps:
        trained += chunk
        result = train(space, net, replace(cfg, steps=trained), out, resume=True, progress=False)
        seconds += result.seconds
        val = measure(space, result.ema, sde, n, SamplerConfig())["validity"]
        print(f"  step {trained}: {seconds:.0f} s of training, validity {val:.2%}", flush=True)
        if val >= target:
            break
    return {"steps": trained, "train_seconds": seconds, "validity": val}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n-authors", type=int, default=1000, help="samples drawn with the 1000-step PC sampler")
    p.add_argument("--paper-train-steps", type=int, default=600)
    p.add_argument("--check-every", type=int, default=100, help="training steps between validity checks")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    model, ckpt = load_scorenet(packaged_checkpoint("nb201"), space)
    sde = make_sde(TrainConfig(**ckpt["train_config"]))
    default = "(a) default " + str(SamplerConfig())
    a = measure(space, model, sde, args.n, SamplerConfig(), name=default)
    measure(space, model, sde, args.n_authors, AUTHORS_SAMPLER, name="(a') quick net, 1000-step PC")
    with tempfile.TemporaryDirectory() as tmp:
        _, cfg = profile(space, "quick")
        paper_net = ScoreNetConfig()  # the authors' sizes
        big = train(space, paper_net, replace(cfg, steps=args.paper_train_steps), Path(tmp) / "b.pt", progress=False)
        b = measure(space, big.ema, sde, args.n_authors, AUTHORS_SAMPLER,
                    name=f"(b) 12x64 net ({args.paper_train_steps} steps), 1000-step PC")
        print(f"speed-up (a) over (b) in samples/s: {(b['seconds'] / b['n']) / (a['seconds'] / a['n']):.0f}x"
              + (f", in valid-unique/s: {a['valid_unique_per_s'] / b['valid_unique_per_s']:.0f}x"
                 if b["valid_unique_per_s"] else " (b has no valid samples: train it longer)"))
        print("quick NB201 score net, training until 99% validity:")
        t = time_to_validity(space, 0.99, args.n, args.check_every, Path(tmp) / "q.pt")
        print(f"reached {t['validity']:.2%} after {t['steps']} steps, {t['train_seconds']:.0f} s of training")


if __name__ == "__main__":
    main()
