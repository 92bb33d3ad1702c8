"""``nagkit transfer``: one seed of transfer NAG on a tabular benchmark (guided generation, ranking, training
in rank order), and the parsing of its source and guidance-objective arguments."""
from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nagkit.cli.common import (MAX_ARCHS, MAX_SCALE, add_parser, device, finite_float, input_file, int_range, registry,
                               seed)
from nagkit.profiles import PROFILES

if TYPE_CHECKING:
    from nagkit.benchmarks import TabularBenchmark


def _bench(benchmark: TabularBenchmark | str) -> TabularBenchmark:
    from nagkit.benchmarks import get_benchmark  # torch: only when used

    return get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark


def parse_sources(target: str, spec: str | Sequence[str] = "lodo",
                  benchmark: TabularBenchmark | str = "nb201") -> tuple[str, ...]:
    """``"lodo"`` (the benchmark's other datasets), a named source set (nb201: ``"imagenet16"``) or
    comma-separated dataset names."""
    from nagkit.transfer.lodo import check_sources, named_sources, source_set_names

    bench = _bench(benchmark)
    bench.check(target)
    named = source_set_names(bench)
    if isinstance(spec, str):
        if spec in named:
            return named_sources(target, spec, bench)
        names = tuple(s.strip() for s in spec.split(",") if s.strip())
    else:
        names = tuple(spec)
    if not names:
        raise ValueError("need at least one source dataset")
    for name in names:
        if name not in bench.datasets:
            raise KeyError(f"unknown source {name!r}; valid: {list(named)} or names from {list(bench.datasets)}")
    return check_sources(target, names, bench)


def parse_guide(spec: str, benchmark: TabularBenchmark | str = "nb201") -> tuple[str, float]:
    """``"name[=weight]"`` -> (name, weight); the name must be a dataset of the benchmark."""
    bench = _bench(benchmark)
    name, _, weight = spec.partition("=")
    if name not in bench.datasets:
        raise KeyError(f"unknown guidance objective {name!r}; valid: {list(bench.datasets)} "
                       "(maximise the LODO surrogate of that dataset's accuracy), optionally =weight")
    try:
        value = float(weight) if weight else 1.0
    except ValueError:
        raise ValueError(f"bad weight in --guide {spec!r}: expected name=number") from None
    if not 0 <= value < math.inf:
        raise ValueError(f"bad weight in --guide {spec!r}: must be a finite number >= 0")
    return name, value


def transfer(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.transfer.predictors import load_predictors
    from nagkit.transfer.protocol import transfer_profile, transfer_search

    torch.set_num_threads(1)  # small graphs: one thread is as fast and never oversubscribes
    bench = _bench(args.space)
    bench.check(args.dataset)
    n_archs = len(bench.space.enumerate())
    if args.n_unique > n_archs:
        raise ValueError(f"--n-unique {args.n_unique} exceeds the {n_archs:,} architectures of the {bench.name} benchmark")
    overrides = {"n_unique": args.n_unique}
    if args.guidance_scale is not None:
        overrides["scale"] = args.guidance_scale
    config = transfer_profile(args.profile, **overrides)
    sources = parse_sources(args.dataset, args.source, bench)
    model, sde = scorenet_and_sde(args.space, args.checkpoint, profile=args.profile)
    predictors = load_predictors(args.dataset, sources, config, seed=0, benchmark=bench, device=args.device)
    r = transfer_search(model, sde, predictors, args.dataset, sources, config, args.seed, benchmark=bench,
                        device=args.device)
    pop = r.population
    found = f"after {r.trained_to_optimum} trained" if r.trained_to_optimum else f"not in the pool of {len(r.ranked)}"
    where = r.dataset if args.space == "nb201" else f"{bench.name}/{r.dataset}"
    text = (f"transfer NAG on {where} (predictor from {predictors.label}, w={r.scale:g}, seed {r.seed})\n"
            f"selected (top-ranked): {r.selected}  test acc {r.acc_after_1:.2f}%\n"
            f"optimum {found}; incumbent {r.incumbent_test_acc:.2f}% after {r.n_trained} trained\n"
            f"population of {len(r.ranked)} (validity {r.validity:.1%}, {r.n_drawn} drawn): "
            f"max {pop['max']:.2f} / mean {pop['mean']:.2f} / min {pop['min']:.2f}")
    return {**r.to_dict(), "text": text}


def mbv3_transfer(args: argparse.Namespace) -> dict:
    from nagkit.data.datasets import get_spec
    from nagkit.executor import get_executor
    from nagkit.progress import enabled
    from nagkit.transfer.mbv3 import mbv3_transfer, mbv3_transfer_profile

    get_spec(args.dataset)  # KeyError listing the datasets before any work
    overrides = {"top_k": args.top_k} if args.top_k is not None else {}
    config = mbv3_transfer_profile(args.profile, **overrides)
    progress = enabled(not args.json)
    executor = get_executor(args.executor, progress=progress, gpu_tasks=args.device != "cpu")
    return mbv3_transfer(args.dataset, config, args.seed, args.profile, args.checkpoint, executor, args.device,
                         progress=progress)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "mbv3-transfer", "transfer NAS on MobileNetV3 (paper Table 2): guided generation, "
                                         "meta-predictor ranking, OFA fine-tuning of the top subnets", mbv3_transfer)
    p.add_argument("--dataset", required=True, help="target: cifar10, cifar100, aircraft, pets (an unknown name lists "
                                                    "them)")
    p.add_argument("--seed", type=seed, default=0, help="generation seed")
    p.add_argument("--top-k", type=int_range(1, MAX_ARCHS), default=None,
                   help="subnets to fine-tune (default: the profile's; paper: 30)")
    p.add_argument("--profile", choices=PROFILES, default="paper",
                   help="paper: 5,000 samples, top 30, 3 seeds x 20 epochs at 224 px; every profile needs the "
                        "downloads (`nagkit data status`)")
    p.add_argument("--executor", choices=("serial", "local", "ray"), default="local",
                   help="where the fine-tuning jobs run")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default), auto, cuda ...: generation and "
                                                                 "ranking; other than cpu, one GPU per fine-tuning job")
    p.add_argument("--checkpoint", type=input_file, default=None,
                   help="MBV3 score-net checkpoint (default: the one notebook 02 trains for the profile)")

    p = add_parser(sub, "transfer", "transfer NAG on a tabular benchmark: guided generation, rank, "
                                    "train in rank order", transfer)
    p.add_argument("--space", choices=registry("nagkit.benchmarks", "BENCHMARKS"), default="nb201",
                   help="search space whose tabular benchmark holds the target and its sources "
                        "(an unknown name lists them)")
    p.add_argument("--dataset", required=True,
                   help="target, a dataset of the space's benchmark, e.g. cifar10 (nb201); an unknown name lists them")
    p.add_argument("--seed", type=seed, default=0, help="generation seed")
    p.add_argument("--source", default="lodo",
                   help="predictor sources: lodo (the other datasets), imagenet16 (nb201), or comma-separated names")
    p.add_argument("--guidance-scale", type=finite_float(0, MAX_SCALE),
                   help="guidance scale w (0: unguided; default: the profile's)")
    p.add_argument("--n-unique", type=int_range(1, MAX_ARCHS), default=10,
                   help="distinct valid candidates to collect (paper: 10)")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="paper: the MetaD2A meta-predictor and the 1,000-step sampler (needs downloaded features)")
    p.add_argument("--device", type=device, default="cpu",
                   help="cpu (default), auto, cuda, cuda:1 ...: generation, guidance and ranking")
    p.add_argument("--checkpoint", type=input_file, default=None,
                   help="score-net checkpoint to sample from (default: the profile's: packaged for quick, the one "
                        "notebook 02 trains for paper / smoke)")
