"""``nagkit transfer``: one seed of transfer NAG on NB201 (guided generation, ranking, training in rank order)."""
from __future__ import annotations

import argparse

from nagkit.benchmarks import DATASETS
from nagkit.cli.common import MAX_SCALE, NB201_CELLS, add_parser, finite_float, int_range, seed


def transfer(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.search.transfer import load_predictors, packaged_nb201, parse_sources, transfer_profile, transfer_search

    torch.set_num_threads(1)  # small graphs: one thread is as fast and never oversubscribes
    if args.space != "nb201":
        raise ValueError(f"transfer NAG runs on the NB201 benchmark only, got --space {args.space!r}")
    if args.dataset not in DATASETS:
        raise KeyError(f"unknown dataset {args.dataset!r}; valid: {list(DATASETS)}")
    overrides = {"n_unique": args.n_unique}
    if args.guidance_scale is not None:
        overrides["scale"] = args.guidance_scale
    config = transfer_profile(args.profile, **overrides)
    sources = parse_sources(args.dataset, args.source)
    model, sde = packaged_nb201()
    predictors = load_predictors(args.dataset, sources, config, seed=0)
    r = transfer_search(model, sde, predictors, args.dataset, sources, config, args.seed)
    pop = r.population
    found = f"after {r.trained_to_optimum} trained" if r.trained_to_optimum else f"not in the pool of {len(r.ranked)}"
    text = (f"transfer NAG on {r.dataset} (predictor from {predictors.label}, w={r.scale:g}, seed {r.seed})\n"
            f"selected (top-ranked): {r.selected}  test acc {r.acc_after_1:.2f}%\n"
            f"optimum {found}; incumbent {r.incumbent_test_acc:.2f}% after {r.n_trained} trained\n"
            f"population of {len(r.ranked)} (validity {r.validity:.1%}, {r.n_drawn} drawn): "
            f"max {pop['max']:.2f} / mean {pop['mean']:.2f} / min {pop['min']:.2f}")
    return {**r.to_dict(), "text": text}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "transfer", "transfer NAG on NB201: guided generation, rank, train in rank order", transfer)
    p.add_argument("--space", default="nb201", help="only nb201 (a benchmark is needed)")
    p.add_argument("--dataset", required=True, help=f"target, one of {list(DATASETS)}")
    p.add_argument("--seed", type=seed, default=0, help="generation seed")
    p.add_argument("--source", default="lodo",
                   help="predictor sources: lodo (the other datasets), imagenet16, or comma-separated names")
    p.add_argument("--guidance-scale", type=finite_float(0, MAX_SCALE),
                   help="guidance scale w (0: unguided; default: the profile's)")
    p.add_argument("--n-unique", type=int_range(1, NB201_CELLS), default=10,
                   help="distinct valid candidates to collect (paper: 10)")
    p.add_argument("--profile", choices=("quick", "paper"), default="quick",
                   help="paper: the MetaD2A meta-predictor and the 1,000-step sampler (needs downloaded features)")
