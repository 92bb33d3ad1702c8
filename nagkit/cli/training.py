"""``nagkit fetch`` (datasets and other downloads) and ``nagkit train`` (one architecture, one seed, from scratch)."""
from __future__ import annotations

import argparse
import dataclasses

from nagkit.cli.common import (add_parser, data_root, device, finite_float, input_file, int_range, lazy, output_dir,
                               registry, seed)
from nagkit.profiles import PROFILES
from nagkit.progress import Interrupted, enabled

run_job = lazy("nagkit.training.trainer", "run_job")  # torch: imported when called (tests patch this name)
DATASETS = registry("nagkit.data.datasets", "SPECS", sort=False)

MAX_IMAGES = 10**9  # subset sizes; beyond a dataset's size they are refused once it is loaded


def fetch(args: argparse.Namespace) -> dict:
    from nagkit.data.artifacts import fetch_artifact  # offline: FileNotFoundError naming the manual route (exit 2)

    return fetch_artifact(args.name, args.root, timeout=args.timeout, progress=not args.json, base_url=args.base_url)


def train(args: argparse.Namespace) -> dict:
    from nagkit.training.trainer import TrainJob, job_splits, profile  # torch: only when run

    overrides = {k: v for k, v in (("epochs", args.epochs), ("C", args.C), ("N", args.N),
                                   ("batch_size", args.batch_size), ("device", args.device)) if v is not None}
    config = profile(args.profile, **overrides)
    job = TrainJob(args.arch, args.seed, args.dataset, config, space=args.space, root=args.root,
                   resolution=args.resolution, n_train=args.n_train, n_eval=args.n_eval,
                   checkpoint_dir=args.checkpoint_dir, progress=enabled(not args.json), ofa_weights=args.ofa_weights)
    full = job_splits(dataclasses.replace(job, n_train=None, n_eval=None))
    for flag, n, have in (("--n-train", args.n_train, len(full.train)),
                          ("--n-eval", args.n_eval, min(len(full.valid), len(full.test)))):
        if n is not None and n > have:
            raise ValueError(f"{flag} {n} exceeds the {have:,} images {args.dataset} has for it")
    try:
        result = run_job(job)
    except Interrupted:  # the trainer stopped at an epoch boundary and says what it saved
        raise
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once
        saved = (f"finished epochs are checkpointed in {args.checkpoint_dir}: rerun the same command to resume"
                 if args.checkpoint_dir else "nothing was saved (pass --checkpoint-dir to make the run resumable)")
        raise Interrupted(f"stopped; {saved}") from None
    text = (f"{args.dataset} seed {args.seed}, {result['epochs']} epochs, {result['params']:,} params: "
            f"valid {result['valid_acc']:.2f}%  test {result['test_acc']:.2f}%  ({result['seconds']:.1f} s)")
    return {**result, "config": dataclasses.asdict(config), "text": text}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_parser(sub, "fetch", "download a dataset or another artifact of `nagkit data status` (checksums "
                                 "verified where published, partial downloads resumed)", fetch)
    p.add_argument("name", choices=registry("nagkit.data.artifacts", "FETCHABLE", sort=False),
                   help="a dataset (e.g. cifar10) or a file such as metad2a-records, imagenet32-features (the "
                        "five MetaD2A files, converted), ofa-mbv3; an unknown name lists them")
    p.add_argument("--root", type=data_root, default=None,
                   help="data root (default $NAGKIT_DATA or ~/.cache/nagkit/data)")
    p.add_argument("--timeout", type=finite_float(0.01, 86_400), default=30.0,
                   help="seconds to wait for the host to connect or send data before failing (0.01 to 86400)")
    p.add_argument("--base-url", default=None,
                   help="download <base-url>/<file name> from this mirror instead of the official hosts")

    p = add_parser(sub, "train", "train one architecture from scratch and report valid/test accuracy", train)
    p.add_argument("arch", help="architecture string (NB201 cell or MBV3 subnet)")
    p.add_argument("--space", choices=registry("nagkit.nets", "NETS"), default="nb201",  # the spaces with a net builder
                   help="a space with a net builder (an unknown name lists them)")
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist",
                   help="fashion-mnist works offline; the others need `nagkit fetch` first")
    p.add_argument("--root", type=data_root, default=None,
                   help="data root (default $NAGKIT_DATA or ~/.cache/nagkit/data)")
    p.add_argument("--profile", choices=PROFILES, default="paper",
                   help="paper = NB201 recipe and skeleton (C=16, N=5, 200 epochs); quick = reduced")
    p.add_argument("--epochs", type=int_range(1, 10_000), default=None)
    p.add_argument("--seed", type=seed, default=777)
    p.add_argument("--C", type=int_range(1, 1024), default=None, help="NB201 stem channels")
    p.add_argument("--N", type=int_range(1, 64), default=None, help="NB201 cells per stage")
    p.add_argument("--batch-size", type=int_range(1, 65_536), default=None)
    p.add_argument("--resolution", type=int_range(8, 1024), default=32, help="image side in pixels")
    p.add_argument("--n-train", type=int_range(1, MAX_IMAGES), default=None,
                   help="train on a seeded subset of this size")
    p.add_argument("--n-eval", type=int_range(1, MAX_IMAGES), default=None, help="valid/test subsets of this size")
    p.add_argument("--device", type=device, default=None, help="auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--checkpoint-dir", type=output_dir, default=None, help="per-epoch checkpoints; rerun to resume")
    p.add_argument("--ofa-weights", type=input_file, default=None,
                   help="MBV3 only: start from this OFA supernet checkpoint (ofa_mbv3_d234_e346_k357_w1.0) "
                        "instead of from scratch; never downloaded")
