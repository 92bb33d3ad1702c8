"""``nagkit train-scorenet`` and ``nagkit generate``."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from nagkit.cli.common import (MAX_SCALE, add_parser, device, finite_float, input_file, int_range, lazy,
                               output_file, refuse_overwrite, registry, seed)
from nagkit.profiles import PROFILES
from nagkit.storage import atomic_write_text

# Torch-importing functions the handlers call (tests patch these names); other heavy imports are in the handlers.
profile = lazy("nagkit.diffusion.train", "profile")
train = lazy("nagkit.diffusion.train", "train")
load_scorenet = lazy("nagkit.diffusion.checkpoint", "load_scorenet")

MAX_SAMPLES = 1_000_000
MAX_STEPS = 100_000


def train_scorenet(args: argparse.Namespace) -> dict:
    from nagkit.device import resolve_device
    from nagkit.spaces import get_space

    if args.resume and args.force:
        raise ValueError("--resume continues the checkpoint at --out and --force replaces it: pass one of them")
    if not (args.resume or args.force):
        refuse_overwrite(args.out, "--out", "pass --resume to continue training it or --force to replace it")
    space = get_space(args.space)
    net, cfg = profile(space, args.profile, pos_emb=not args.no_pos_emb, seed=args.seed)
    result = train(space, net, cfg, args.out, resume=args.resume, progress=not args.json,
                   device=resolve_device(args.device))
    data = {"space": space.name, "profile": args.profile, "device": args.device, "checkpoint": str(result.path),
            "steps": len(result.losses),
            "final_loss": sum(result.losses[-100:]) / max(1, len(result.losses[-100:])), "seconds": result.seconds}
    data["text"] = (f"trained {space.name} score net to step {data['steps']} in {result.seconds:.0f} s "
                    f"(loss {data['final_loss']:.4f}) -> {result.path}")
    return data


def check_guide(guide: list[str] | None, space_name: str) -> None:
    """Bad ``--guide`` objectives fail here, before any surrogate is trained or sample drawn."""
    from nagkit.benchmarks import BENCHMARKS
    from nagkit.cli.transfer import parse_guide

    if guide and space_name not in BENCHMARKS:
        raise ValueError(f"--guide objectives (benchmark dataset accuracies) need a space with a benchmark "
                         f"({sorted(BENCHMARKS)}), not {space_name!r}")
    for spec in guide or []:
        parse_guide(spec, space_name)


def guidance_for(args: argparse.Namespace, sde):  # noqa: ANN201
    """The guidance term for (checked) ``--guide`` objectives (``None`` without any)."""
    if not args.guide:
        return None
    import torch

    from nagkit.guidance import Schedule, make_guidance
    from nagkit.cli.transfer import parse_guide
    from nagkit.predictors.fit import surrogate_profile
    from nagkit.transfer.predictors import accuracy_objectives

    torch.set_num_threads(1)
    objectives = accuracy_objectives([parse_guide(spec, args.space) for spec in args.guide],
                                     surrogate_profile("quick"), benchmark=args.space)
    return make_guidance(objectives, sde, Schedule("constant", args.guidance_scale))


def generate_cmd(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.device import resolve_device
    from nagkit.diffusion.checkpoint import packaged_checkpoint
    from nagkit.diffusion.sample import SamplerConfig, generate
    from nagkit.diffusion.train import checkpoint_train_config, make_sde, training_set
    from nagkit.guidance import DEFAULT_SCALE
    from nagkit.metrics import generation_quality
    from nagkit.spaces import get_space

    if args.guidance_scale is None:  # the defaults live in torch-importing modules, so they are filled in here
        args.guidance_scale = DEFAULT_SCALE
    default = SamplerConfig()
    sampler = SamplerConfig(default.method if args.sampler is None else args.sampler,
                            default.steps if args.steps is None else args.steps)
    space = get_space(args.space)
    check_guide(args.guide, space.name)
    if not args.force:
        refuse_overwrite(args.out, "--out")
    ckpt_path = Path(args.checkpoint) if args.checkpoint else packaged_checkpoint(space.name, not args.no_pos_emb)
    try:
        model, ckpt = load_scorenet(ckpt_path, space)
    except KeyError as err:
        raise ValueError(f"{ckpt_path}: incomplete score-net checkpoint, it has no {err.args[0]!r} entry") from None
    if args.no_pos_emb and model.config.pos_emb != "none":
        raise ValueError(f"--no-pos-emb given but {ckpt_path} was trained with pos_emb={model.config.pos_emb!r}")
    cfg = checkpoint_train_config(ckpt, ckpt_path)
    device = resolve_device(args.device)
    if args.guide and device.type != "cpu":
        raise ValueError("--guide runs its surrogates on the CPU: drop --device or --guide")
    model = model.to(device)
    sde = make_sde(cfg)
    guidance = guidance_for(args, sde)
    start = time.perf_counter()
    archs = generate(space, model, sde, args.n, torch.Generator().manual_seed(args.seed), sampler, guidance)
    seconds = time.perf_counter() - start
    valid = [a for a in archs if a is not None]
    atomic_write_text(args.out, "".join(a + "\n" for a in valid))
    quality = generation_quality(space, archs, training_set(space, cfg))
    data = {"space": space.name, "checkpoint": str(ckpt_path), "n": args.n, "invalid": args.n - len(valid),
            "sampler": sampler.method, "steps": sampler.steps, "device": str(device), "seconds": seconds, **quality, "out": args.out,
            "guide": args.guide or [], "guidance_scale": args.guidance_scale if args.guide else None}
    data["text"] = (f"wrote {len(valid)} valid architectures to {args.out} ({args.n - len(valid)} invalid skipped) "
                    f"in {seconds:.1f} s; validity {quality['validity']:.2%}, uniqueness {quality['uniqueness']:.2%}, "
                    f"novelty {quality['novelty']:.2%}")
    return data


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "train-scorenet", "train (or resume) a score network on a search space", train_scorenet)
    p.add_argument("--space", choices=registry("nagkit.spaces", "SPACES"), required=True,
                   help="a registered search space, e.g. nb201 (an unknown name lists them)")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="score-net training profile (default quick; an unknown name lists them)")
    p.add_argument("--out", type=output_file, required=True,
                   help="checkpoint path (written atomically, periodically, and when interrupted)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--no-pos-emb", action="store_true", help="ablation: no positional embedding")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    p.add_argument("--force", action="store_true", help="replace an existing --out instead of refusing")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), auto, cuda, cuda:1 ...")
    p = add_parser(sub, "generate", "sample architectures with a score network", generate_cmd)
    p.add_argument("--space", choices=registry("nagkit.spaces", "SPACES"), required=True,
                   help="a registered search space, e.g. nb201 (an unknown name lists them)")
    p.add_argument("--n", type=int_range(1, MAX_SAMPLES), default=1000, help="samples to draw")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--checkpoint", type=input_file, help="default: the packaged quick checkpoint")
    p.add_argument("--sampler", choices=("ode", "pc"), default=None,
                   help="sampler (default: nagkit.diffusion.sample.SamplerConfig's)")
    p.add_argument("--steps", type=int_range(1, MAX_STEPS), default=None,
                   help="sampling steps (default: SamplerConfig's)")
    p.add_argument("--no-pos-emb", action="store_true", help="use the packaged no-positional-embedding checkpoint")
    p.add_argument("--out", type=output_file, required=True,
                   help="file for the valid architecture strings, one per line (written atomically)")
    p.add_argument("--force", action="store_true", help="replace an existing --out instead of refusing")
    p.add_argument("--guide", action="append", metavar="OBJECTIVE[=WEIGHT]",
                   help="maximise the LODO surrogate of an NB201 dataset's accuracy (cifar10, cifar100, "
                        "ImageNet16-120); repeatable")
    p.add_argument("--guidance-scale", type=finite_float(0, MAX_SCALE), default=None,
                   help="guidance scale w for --guide (default: nagkit.guidance.DEFAULT_SCALE)")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), auto, cuda, cuda:1 ... (unguided)")
