"""``nagkit search``: one NAS run on a tabular benchmark, printing the incumbent trajectory; ``nagkit bo-mbv3``: one on
the OFA accuracy predictor."""
from __future__ import annotations

import argparse

from nagkit.cli.common import MAX_ARCHS, add_parser, input_file, int_range, registry, seed

PRIOR_METHODS = ("bananas", "diffusionnag-bo")


def search(args: argparse.Namespace) -> dict:
    import torch

    from nagkit.benchmarks import get_benchmark
    from nagkit.search.anytime import run_one
    from nagkit.search.base import STRATEGIES

    torch.set_num_threads(1)  # the surrogates are tiny: extra threads only add overhead
    if args.method not in STRATEGIES:
        raise KeyError(f"unknown method {args.method!r}; valid: {list(STRATEGIES)}")
    bench = get_benchmark(args.space)
    dataset = args.dataset if args.dataset is not None else bench.datasets[0]
    bench.check(dataset)
    n_archs = len(bench.space.enumerate())
    if args.budget > n_archs:
        raise ValueError(f"--budget {args.budget} exceeds the {n_archs:,} architectures of the {bench.name} benchmark")
    spec = {"name": args.method}
    if args.prior:
        if args.method not in PRIOR_METHODS:
            raise ValueError(f"--prior works with {list(PRIOR_METHODS)}, not {args.method!r}")
        spec["prior"] = args.prior
    run = run_one({"label": args.method, "spec": spec, "space": args.space, "dataset": dataset,
                   "seed": args.seed, "budget": args.budget, "val_seed": args.val_seed})
    rows = [{"n_trained": n, "seconds": s, "val_acc": v, "test_acc": t}
            for n, s, v, t in zip(run["n_trained"], run["seconds"], run["val_acc"], run["test_acc"])]
    changed = [r for i, r in enumerate(rows) if i == 0 or r["val_acc"] != rows[i - 1]["val_acc"]]
    hours = bench.cost_unit == "s"  # simulated seconds are shown in hours; other costs as charged
    where = dataset if args.space == "nb201" else f"{bench.name}/{dataset}"
    lines = [f"{args.method}{' (transfer prior: ' + args.prior + ')' if args.prior else ''} on {where}, budget {args.budget}, seed {args.seed}: incumbent (by validation)",
             f"{'trained':>8} {'sim. hours' if hours else 'cost (' + bench.cost_unit + ')':>10} {'val acc':>8} {'test acc':>8}"]
    lines += [f"{r['n_trained']:>8} {r['seconds'] / (3600 if hours else 1):>10.2f} {r['val_acc']:>8.2f} {r['test_acc']:>8.2f}"
              for r in changed]
    until = run["trained_until_optimum"]
    lines.append(f"optimum {run['optimum']:.2f}: " + (f"first trained after {until}" if until else "not trained"))
    return {"method": args.method, "prior": args.prior, "space": args.space, "dataset": dataset,
            "budget": args.budget, "seed": args.seed,
            "trajectory": rows, "final_arch": run["final_arch"], "optimum": run["optimum"],
            "trained_until_optimum": until, "seconds_until_optimum": run["seconds_until_optimum"],
            "text": "\n".join(lines)}


def bo_mbv3(args: argparse.Namespace) -> dict:
    from nagkit.search.ofa_bo import run_mbv3_bo

    run = run_mbv3_bo({"label": args.method, "spec": {"name": args.method}, "seed": args.seed,
                       "budget": args.budget, "predictor": args.weights})
    text = (f"{args.method} on MBV3 / ImageNet (OFA accuracy predictor), budget {args.budget}, seed {args.seed}: "
            f"{run['final_acc']:.2f}% predicted top-1, {run['final_arch']}")
    return {**run, "text": text}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "bo-mbv3", "one BO / search run on MobileNetV3 subnets scored by OFA's ImageNet accuracy "
                                   "predictor (paper Figs. 3-4)", bo_mbv3)
    p.add_argument("--method", default="diffusionnag-bo", help="a search strategy, e.g. diffusionnag-bo, bananas "
                                                               "(an unknown name lists them)")
    p.add_argument("--budget", type=int_range(1, MAX_ARCHS), default=50, help="predictor queries")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--weights", type=input_file, default=None,
                   help="OFA's acc_predictor.pth (default: <data root>/ofa/acc_predictor.pth; `nagkit fetch "
                        "ofa-acc-predictor`)")

    p = add_parser(sub, "search", "one NAS run on a tabular benchmark through the benchmark ledger", search)
    p.add_argument("--method", required=True, help="a search strategy, e.g. rs (an unknown name lists them)")
    p.add_argument("--space", choices=registry("nagkit.benchmarks", "BENCHMARKS"), default="nb201",
                   help="search space whose tabular benchmark is searched (an unknown name lists them)")
    p.add_argument("--dataset", default=None,
                   help="a dataset of the space's benchmark (default: its first), e.g. cifar10 (nb201); "
                        "an unknown name lists them")
    p.add_argument("--budget", type=int_range(1, MAX_ARCHS), default=100,
                   help="architectures to train (at most the chosen space's size, e.g. 15,625 on nb201)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--val-seed", type=int, choices=(777, 888), default=None,
                   help="nb201 benchmark seed for validation accuracy (777/888; default: mean over seeds)")
    p.add_argument("--prior", default=None, choices=registry("nagkit.search.prior", "PRIORS", sort=False),
                   help="transfer NAS: initial design and acquisition prior from surrogates of the benchmark's "
                        "other datasets (lodo) or, on nb201, ImageNet16-120 only (bananas, diffusionnag-bo)")
