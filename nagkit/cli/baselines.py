"""``nagkit gdss``: train the GDSS baseline on a space and score its samples (positional-embedding ablation)."""
from __future__ import annotations

import argparse
import time

from nagkit.cli.common import add_parser, device, int_range, seed
from nagkit.profiles import PROFILES

GDSS_SPACES = ("nb201", "mbv3")
MAX_SAMPLES = 1_000_000


def gdss_cmd(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.baselines import gdss
    from nagkit.spaces import get_space

    space = get_space(args.space)
    cfg = gdss.profile(args.profile, seed=args.seed)
    archs = gdss.training_archs(space, args.profile)
    result = gdss.train(space, cfg, archs, device=args.device, progress=not args.json)
    start = time.perf_counter()
    x, a = gdss.sample(result.model, gdss.make_sde(space), args.samples, cfg, torch.Generator().manual_seed(args.seed))
    sample_seconds = time.perf_counter() - start
    quality = gdss.quality(space, x, a, archs)
    tail = result.losses[-100:]
    data = {"space": space.name, "profile": args.profile, "seed": args.seed, "device": args.device, "n": args.samples,
            "train_steps": cfg.steps, "final_loss": sum(tail) / len(tail), "train_seconds": result.seconds,
            "sample_seconds": sample_seconds, "quality": quality}
    data["text"] = "\n".join(
        [f"GDSS on {space.name}: trained {cfg.steps} steps in {result.seconds:.0f} s, {args.samples} samples in "
         f"{sample_seconds:.0f} s"]
        + [f"  rule {rule:5}: validity {q['validity']:.2%}, uniqueness {q['uniqueness']:.2%}, "
           f"novelty {q['novelty']:.2%}"
           for rule, q in quality.items()])
    return data


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "gdss", "train the GDSS graph-diffusion baseline and measure the validity of its samples",
                   gdss_cmd)
    p.add_argument("--space", choices=GDSS_SPACES, required=True, help="search space")
    p.add_argument("--samples", type=int_range(1, MAX_SAMPLES), default=1000, help="graphs to sample")
    p.add_argument("--seed", type=seed, default=0, help="seed of the initialisation, training draws and sampler")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="GDSS sizes (nagkit.baselines.gdss.profile; default quick); also picks the training set")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), auto, cuda, cuda:1 ...")
