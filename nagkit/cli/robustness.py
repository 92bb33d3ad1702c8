"""``nagkit robustness``: paper Table 5, guided generation toward a robustness metric of the NB201
robustness dataset versus toward clean accuracy (and unguided), looked up in the dataset
(:mod:`nagkit.transfer.robust_guidance`). Needs the downloaded release (``<data root>/robustness``)."""
from __future__ import annotations

import argparse
from dataclasses import replace

from nagkit.cli.common import MAX_SCALE, add_parser, data_root, device, finite_float, seed
from nagkit.profiles import PROFILES


def robustness(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.benchmarks.robustness import RobustnessData
    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.transfer.robust_guidance import robust_guidance, robust_profile

    torch.set_num_threads(1)
    data = RobustnessData(args.root)
    data.check(args.dataset, args.metric)  # bad names fail before the release is read
    _, sde = scorenet_and_sde("nb201")
    config = robust_profile(args.profile, sde)
    if args.guidance_scale is not None:
        config = replace(config, transfer=replace(config.transfer, scale=args.guidance_scale))
    result = robust_guidance(data, args.dataset, args.metric, config, args.seed, args.device)
    lines = [f"guidance toward {args.metric} vs clean accuracy on {args.dataset} (seed {args.seed}, "
             f"w={config.transfer.scale:g}; values from the robustness dataset, %)",
             f"{'arm':<10}{'top ' + args.metric:>22}{'top clean':>11}{'pool mean robust':>18}{'pool mean clean':>17}"]
    for name, arm in result["arms"].items():
        lines.append(f"{name:<10}{arm['top_robust']:>22.2f}{arm['top_clean']:>11.2f}"
                     f"{arm['pool_robust']['mean']:>18.2f}{arm['pool_clean']['mean']:>17.2f}")
    return {**result, "text": "\n".join(lines)}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "robustness", "paper Table 5: generation guided toward robust accuracy (APGD) or "
                                      "corruption accuracy (glass blur) vs toward clean accuracy", robustness)
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or ImageNet16-120 (no corruptions)")
    p.add_argument("--metric", default="apgd",
                   help="apgd[@eps], square/fgsm/pgd[@eps], glass_blur[@severity] or another corruption; "
                        "without @: the mean over the release's levels")
    p.add_argument("--seed", type=seed, default=0, help="generation seed (predictors are fitted with seed 0)")
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--guidance-scale", type=finite_float(0, MAX_SCALE),
                   help="guidance scale w (default: the profile's)")
    p.add_argument("--device", type=device, default="cpu", help="auto, cpu, cuda or cuda:<i>")
    p.add_argument("--root", type=data_root, default=None,
                   help="folder of the robustness release (default <data root>/robustness)")
