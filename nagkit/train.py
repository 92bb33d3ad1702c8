"""Train architectures from scratch: the NB201 recipe, reduced CPU profiles, seeds and resumption.

NB201 recipe (``profile("paper")``): SGD, Nesterov momentum 0.9, weight decay 5e-4, batch 256,
learning rate 0.1 annealed to 0 by a per-step cosine, 200 epochs; random crop (pad 4) + flip on
CIFAR only (MetaD2A trains Aircraft / Pets at 32 px without augmentation). Seeds 777 / 888 / 999;
results are reported as the mean and 95% t-interval across seeds (``summarize``).

Each epoch ends with an atomic checkpoint (``nagkit.storage``) holding weights, optimiser, RNG states
and history, loaded with ``weights_only=True``; rerunning the same job resumes it and gives the
same result as an uninterrupted run. On CPU a job is deterministic given its seed (and a fixed
thread count; the executor's workers use one thread each).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn
from tqdm.auto import tqdm

from nagkit.data.datasets import ImageSet, Splits, load_splits
from nagkit.executor import Executor, get_executor
from nagkit.progress import Interrupted, deferred_signals, enabled
from nagkit.storage import atomic_torch_save

SEEDS: tuple[int, ...] = (777, 888, 999)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and network-size settings (defaults = the NB201 recipe and skeleton)."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    C: int = 16  # NB201 stem width
    N: int = 5  # NB201 cells per stage
    dropout: float = 0.1  # MBV3 classifier dropout
    augment: bool | None = None  # None: the dataset's default (crop + flip on CIFAR)
    device: str = "auto"  # "auto" = CUDA when present, else CPU
    eval_batch_size: int = 512
    bn_recalibrate: int = 0  # >0: re-estimate BatchNorm statistics on this many training images before evaluating (OFA)

    def __post_init__(self) -> None:
        counts = {"epochs": self.epochs, "batch_size": self.batch_size, "C": self.C, "N": self.N,
                  "eval_batch_size": self.eval_batch_size}
        bad = [f"{k}={v!r} (needs >= 1)" for k, v in counts.items() if not v >= 1]
        if not self.bn_recalibrate >= 0:
            bad.append(f"bn_recalibrate={self.bn_recalibrate!r} (needs >= 0)")
        if not 0 < self.lr < math.inf:
            bad.append(f"lr={self.lr!r} (needs a finite value > 0)")
        if not 0 <= self.weight_decay < math.inf:
            bad.append(f"weight_decay={self.weight_decay!r} (needs a finite value >= 0)")
        bad += [f"{k}={v!r} (needs 0 <= {k} < 1)" for k, v in (("momentum", self.momentum), ("dropout", self.dropout))
                if not 0 <= v < 1]
        if bad:
            raise ValueError(f"bad TrainConfig: {'; '.join(bad)}")


PROFILES: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "quick": TrainConfig(epochs=3, batch_size=128, C=8, N=1),
}


def profile(name: str, **overrides) -> TrainConfig:
    """A named config (``paper`` | ``quick``) with fields overridden, e.g. ``profile("quick", epochs=2)``."""
    if name not in PROFILES:
        raise KeyError(f"unknown training profile {name!r}; valid: {list(PROFILES)}")
    return dataclasses.replace(PROFILES[name], **overrides)


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present, else CPU) or a torch device name; ``ValueError`` for an unknown
    name or a GPU this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:<index>") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"CUDA requested but not available on this machine (device {name!r}); use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


def build_model(space: str, arch: str, n_classes: int, in_channels: int, config: TrainConfig, seed: int,
                ofa_weights: str | Path | None = None) -> nn.Module:
    """A freshly initialised network for ``arch`` (initialisation seeded by ``seed``); an MBV3 subnet
    starts from the OFA supernet's weights when ``ofa_weights`` (a supernet checkpoint) is given."""
    if ofa_weights is not None and space != "mbv3":
        raise ValueError("ofa_weights are OFA MobileNetV3 supernet weights: only for space 'mbv3'")
    if space == "nb201":
        from nagkit.nets.nb201 import build_nb201

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_nb201(arch, n_classes, config.C, config.N, in_channels)
    if space == "mbv3":
        from nagkit.nets.mbv3 import build_mbv3, load_ofa_weights

        model = build_mbv3(arch, n_classes, config.dropout, seed=seed)
        if ofa_weights is not None:
            load_ofa_weights(model, ofa_weights)  # the classifier stays initialised when n_classes differs
        return model
    raise KeyError(f"unknown space {space!r}; valid: ['mbv3', 'nb201']")


def prepare_batch(images: torch.Tensor, splits: Splits, channels: int, augment: bool,
                  generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """uint8 images -> normalised float batch at ``splits.resolution`` (augmented when asked)."""
    x = images.to(device).float().div_(255)
    r = splits.resolution
    if x.shape[-2:] != (r, r):
        x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
    if augment:
        b = x.shape[0]
        offsets = torch.randint(0, 9, (b, 2), generator=generator).to(device)
        flips = (torch.rand(b, generator=generator) < 0.5).to(device)
        padded = F.pad(x, (4, 4, 4, 4))
        ar = torch.arange(r, device=device)
        rows = (offsets[:, 0, None] + ar)[:, None, :, None]
        cols = (offsets[:, 1, None] + ar)[:, None, None, :]
        x = padded[torch.arange(b, device=device)[:, None, None, None],
                   torch.arange(x.shape[1], device=device)[None, :, None, None], rows, cols]
        x = torch.where(flips[:, None, None, None], x.flip(3), x)
    mean = torch.tensor(splits.spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(splits.spec.std, device=device).view(1, -1, 1, 1)
    x = (x - mean) / std
    return x.expand(-1, channels, -1, -1) if x.shape[1] != channels else x


@torch.no_grad()
def recalibrate_bn(model: nn.Module, splits: Splits, channels: int, n_images: int, seed: int,
                   device: torch.device, batch_size: int = 256) -> None:
    """Replace every BatchNorm's running statistics by their exact average over ``n_images`` seeded
    training images (OFA resets subnet statistics this way before evaluating; short runs need it
    because the running averages lag behind fast-changing weights)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or n_images <= 0:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    idx = torch.randperm(len(splits.train), generator=torch.Generator().manual_seed(seed))[:n_images]
    model.train()
    try:
        for i in range(0, len(idx), batch_size):
            model(prepare_batch(splits.train.images[idx[i: i + batch_size]], splits, channels, False, None, device))
    finally:
        for m, momentum in zip(bns, saved):
            m.momentum = momentum
        model.eval()


@torch.no_grad()
def evaluate(model: nn.Module, data: ImageSet, splits: Splits, channels: int, device: torch.device,
             batch_size: int = 512) -> float:
    """Top-1 accuracy (%) on ``data``."""
    model.eval()
    correct = 0
    for i in range(0, len(data), batch_size):
        x = prepare_batch(data.images[i: i + batch_size], splits, channels, False, None, device)
        correct += int((model(x).argmax(1).cpu() == data.labels[i: i + batch_size]).sum())
    return 100.0 * correct / max(len(data), 1)


def train_network(model: nn.Module, splits: Splits, config: TrainConfig, seed: int, channels: int,
                  checkpoint: str | Path | None = None, progress: bool = True, desc: str = "",
                  stop_after: int | None = None) -> dict:
    """Train ``model`` on ``splits.train``; valid / test accuracy (%) at the end.

    ``checkpoint``: file written after every epoch and resumed from if present (its config must
    match). ``stop_after``: leave after this many epochs in total (``finished`` False), e.g. to
    time-slice long jobs; the next call resumes. SIGINT / SIGTERM stop the run at the end of the
    current epoch (after its checkpoint) with :class:`~nagkit.progress.Interrupted`; a second one at once.
    """
    device = resolve_device(config.device)
    model.to(device)
    augment = splits.spec.augment if config.augment is None else config.augment
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                nesterov=config.nesterov, weight_decay=config.weight_decay)
    n = len(splits.train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    data_rng = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    start_epoch, seconds = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if ckpt is not None and ckpt.exists():
            state = torch.load(ckpt, map_location=device, weights_only=True)
            if state["config"] != dataclasses.asdict(config) or state["seed"] != seed:
                raise ValueError(f"checkpoint {ckpt} was written for another config/seed; remove it to restart")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["cpu_rng"])
            data_rng.set_state(state["data_rng"])
            start_epoch, seconds, history = state["epoch"], state["seconds"], state["history"]
        last = config.epochs if stop_after is None else min(config.epochs, stop_after)
        bar = tqdm(range(start_epoch, last), desc=desc or "train", disable=not enabled(progress), leave=False)
        with deferred_signals() as received:
            for epoch in bar:
                t0 = time.perf_counter()
                model.train()
                order = torch.randperm(n, generator=data_rng)
                loss_sum, correct = 0.0, 0
                for step in range(steps_per_epoch):
                    lr = 0.5 * config.lr * (1 + math.cos(math.pi * (epoch * steps_per_epoch + step) / total_steps))
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    idx = order[step * config.batch_size: (step + 1) * config.batch_size]
                    x = prepare_batch(splits.train.images[idx], splits, channels, augment, data_rng, device)
                    y = splits.train.labels[idx].to(device)
                    logits = model(x)
                    loss = F.cross_entropy(logits, y)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    loss_sum += float(loss.detach()) * len(idx)
                    correct += int((logits.argmax(1) == y).sum())
                history["train_loss"].append(loss_sum / n)
                history["train_acc"].append(100.0 * correct / n)
                seconds += time.perf_counter() - t0
                bar.set_postfix(loss=f"{loss_sum / n:.3f}", acc=f"{100.0 * correct / n:.1f}")
                if ckpt is not None:
                    atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                       "cpu_rng": torch.get_rng_state(), "data_rng": data_rng.get_state(),
                                       "epoch": epoch + 1, "seconds": seconds, "history": history,
                                       "config": dataclasses.asdict(config), "seed": seed}, ckpt)
                if (signum := received()) is not None:
                    saved = f"checkpoint {ckpt} holds epoch {epoch + 1}: run again to resume" if ckpt else \
                        "no checkpoint was written (give one, e.g. --checkpoint-dir, to make training resumable)"
                    raise Interrupted(f"training stopped after epoch {epoch + 1} of {config.epochs}; {saved}", signum)
        done = len(history["train_loss"])
    result = {"seed": seed, "epochs": done, "finished": done == config.epochs, "seconds": seconds,
              "resumed_from_epoch": start_epoch, "device": str(device), **history,
              "params": sum(p.numel() for p in model.parameters())}
    if result["finished"]:
        recalibrate_bn(model, splits, channels, config.bn_recalibrate, seed, device)
        result["valid_acc"] = evaluate(model, splits.valid, splits, channels, device, config.eval_batch_size)
        result["test_acc"] = evaluate(model, splits.test, splits, channels, device, config.eval_batch_size)
    return result


@dataclass(frozen=True)
class TrainJob:
    """One (architecture, seed) training on a dataset (optionally a seeded subset of it)."""

    arch: str
    seed: int
    dataset: str
    config: TrainConfig
    space: str = "nb201"
    root: str | None = None
    resolution: int = 32
    n_train: int | None = None
    n_eval: int | None = None
    subset_seed: int = 0
    checkpoint_dir: str | None = None
    progress: bool = True
    ofa_weights: str | None = None  # MBV3: start from these OFA supernet weights instead of from scratch

    def __post_init__(self) -> None:
        sizes = {"resolution": self.resolution, "n_train": self.n_train, "n_eval": self.n_eval}
        bad = [f"{k}={v!r}" for k, v in sizes.items() if v is not None and not v >= 1]
        if bad:
            raise ValueError(f"bad TrainJob: {', '.join(bad)} (need >= 1; None keeps a split whole)")

    def checkpoint(self) -> Path | None:
        if self.checkpoint_dir is None:
            return None
        key = hashlib.sha1(self.arch.encode()).hexdigest()[:12]
        init = "-ofa" if self.ofa_weights is not None else ""
        return Path(self.checkpoint_dir) / f"{self.space}-{self.dataset}-{key}{init}-s{self.seed}.pt"


@lru_cache(maxsize=4)
def _cached_splits(dataset: str, root: str | None, resolution: int) -> Splits:
    return load_splits(dataset, root, resolution)


def job_splits(job: TrainJob) -> Splits:
    splits = _cached_splits(job.dataset, job.root, job.resolution)
    if job.n_train is None and job.n_eval is None:
        return splits
    return splits.subset(job.n_train, job.n_eval, job.subset_seed)


def run_job(job: TrainJob) -> dict:
    """Train one job (top-level, so executors can ship it to worker processes)."""
    splits = job_splits(job)
    channels = 3 if job.space == "mbv3" else splits.spec.in_channels
    model = build_model(job.space, job.arch, splits.spec.n_classes, channels, job.config, job.seed, job.ofa_weights)
    result = train_network(model, splits, job.config, job.seed, channels, job.checkpoint(), job.progress,
                           desc=f"{job.arch[:40]} s{job.seed}")
    return {"arch": job.arch, "space": job.space, "dataset": job.dataset,
            "init": "ofa" if job.ofa_weights is not None else "scratch", **result}


def summarize(values: Iterable[float], confidence: float = 0.95) -> dict:
    """Mean, sample std and the half-width of the t confidence interval (``None`` for one value)."""
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        raise ValueError("summarize needs at least one value")
    half = None
    if len(v) > 1:
        half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "ci95": half,
            "n": len(v), "values": v.tolist()}


def train_many(archs: list[str], dataset: str, config: TrainConfig, seeds: Iterable[int] = SEEDS,
               executor: Executor | None = None, **job_fields) -> list[dict]:
    """Every (arch, seed) pair through ``executor`` (default: local processes); input order kept."""
    jobs = [TrainJob(a, s, dataset, config, **job_fields) for a in archs for s in seeds]
    return (executor or get_executor()).map(run_job, jobs, desc=f"train on {dataset}")


def by_arch(results: list[dict], metric: str = "test_acc") -> dict[str, dict]:
    """Per-architecture ``summarize`` of a metric over seeds."""
    out: dict[str, list[float]] = {}
    for r in results:
        out.setdefault(r["arch"], []).append(r[metric])
    return {a: summarize(v) for a, v in out.items()}


def train_groups(groups: dict[str, list[str]], dataset: str, config: TrainConfig, seeds: Iterable[int] = SEEDS,
                 executor: Executor | None = None, **job_fields) -> dict[str, dict]:
    """Train every group of cells at the same budget; per group: the runs, per-arch and group summaries.

    The group summary pools the per-architecture seed means (one value per architecture).
    """
    seeds = list(seeds)
    names = list(groups)
    flat = [a for g in names for a in groups[g]]
    results = train_many(flat, dataset, config, seeds, executor, **job_fields)
    out, i = {}, 0
    for g in names:
        runs = results[i: i + len(groups[g]) * len(seeds)]
        i += len(runs)
        per_arch = by_arch(runs)
        out[g] = {"archs": groups[g], "runs": runs, "per_arch": per_arch,
                  "test_acc": summarize(s["mean"] for s in per_arch.values()),
                  "valid_acc": summarize(s["mean"] for s in by_arch(runs, "valid_acc").values())}
    return out


def top_by_benchmark(pool: list[str], k: int, dataset: str = "cifar10", metric: str = "val_acc") -> list[str]:
    """The ``k`` cells of ``pool`` with the highest NB201 benchmark value (ties keep pool order)."""
    from nagkit.benchmarks import NB201Benchmark

    bench = NB201Benchmark()
    values = [bench.query(a, dataset, metric) for a in pool]
    order = sorted(range(len(pool)), key=lambda i: -values[i])
    return [pool[i] for i in order[:k]]


def baseline_groups(k: int, pool_size: int, seed: int) -> dict[str, list[str]]:
    """Two groups of ``k`` NB201 cells drawn from one seeded stream: ``CIFAR-10-ranked`` = the top
    ``k`` by CIFAR-10 validation accuracy among ``pool_size`` random cells, ``random`` = the next ``k``
    random cells. Further groups (e.g. guided generation) are added to the dict by the caller."""
    from nagkit.spaces.nb201 import NB201Space

    cells = NB201Space().sample(pool_size + k, torch.Generator().manual_seed(seed))
    return {"CIFAR-10-ranked": top_by_benchmark(cells[:pool_size], k), "random": cells[pool_size:]}


NB201_SOURCES: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass(frozen=True)
class GuidedGeneration:
    """DiffusionNAG's candidate generation on NB201 for a dataset outside the benchmark: the packaged
    score net, guided (constant scale ``w``, maximise) by a noise-aware surrogate of the ``sources``'
    accuracies; rounds of ``batch`` samples until ``min_unique`` functionally distinct valid cells
    (at most ``max_rounds``); ``w = 0`` samples without guidance."""

    w: float = 10.0
    batch: int = 100
    min_unique: int = 10
    max_rounds: int = 5
    sources: tuple[str, ...] = NB201_SOURCES
    steps: int = 20  # predictor-corrector steps (nagkit's fast sampler; the authors use 1000)


def guided_nb201_cells(k: int, seed: int, surrogate=None, config: GuidedGeneration = GuidedGeneration(),
                       cache_dir: str | Path | None = None) -> dict:
    """Generate NB201 cells as ``config`` says, rank the distinct valid ones with the *clean*
    surrogate (trained on the same sources) and return the top ``k`` with the generation record.

    ``surrogate``: a ``nagkit.predictors.fit.SurrogateConfig`` (default: its quick profile); both
    surrogates are cached in ``cache_dir`` (default ``<cache root>/surrogates``). Keys of the result: ``cells`` (top ``k``, best
    first), ``ranked`` ((cell, clean score) of every distinct valid cell, best first), ``valid_cells``
    (every valid sample, duplicates kept), ``generated``, ``valid``, ``unique``, ``rounds``.
    """
    from nagkit.diffusion.sample import SamplerConfig, generate
    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.guidance import Objective, Schedule, make_guidance
    from nagkit.predictors.fit import SurrogateConfig, predict, train_surrogate
    from nagkit.spaces.nb201 import NB201Space

    surrogate = surrogate or SurrogateConfig()
    space = NB201Space()
    model, sde = scorenet_and_sde("nb201")
    if (getattr(sde, "sigma_min", None), getattr(sde, "sigma_max", None)) != (surrogate.sigma_min, surrogate.sigma_max):
        raise ValueError("the noise-aware surrogate must be trained at the score network's noise levels")
    clean = train_surrogate(config.sources, False, surrogate, seed, cache_dir)
    guidance = None
    if config.w:
        noise = train_surrogate(config.sources, True, surrogate, seed, cache_dir)
        guidance = make_guidance([Objective(noise.predict)], sde, Schedule("constant", config.w))
    generator = torch.Generator().manual_seed(seed)
    distinct: dict[str, str] = {}  # canonical form -> first generated string
    valid_cells: list[str] = []
    generated = rounds = 0
    while rounds < config.max_rounds and len(distinct) < max(k, config.min_unique):
        cells = generate(space, model, sde, config.batch, generator, SamplerConfig("pc", config.steps),
                         guidance=guidance)
        generated, rounds = generated + len(cells), rounds + 1
        for cell in cells:
            if cell is not None:
                valid_cells.append(cell)
                distinct.setdefault(space.canonical(cell), cell)
    if len(distinct) < k:
        raise RuntimeError(f"only {len(distinct)} distinct valid cells in {generated} samples; need {k}")
    candidates = list(distinct.values())
    scores = predict(clean, space.encode_batch(candidates)).tolist()
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    ranked = [(candidates[i], scores[i]) for i in order]
    return {"cells": [c for c, _ in ranked[:k]], "ranked": ranked, "valid_cells": valid_cells,
            "generated": generated, "valid": len(valid_cells), "unique": len(distinct), "rounds": rounds}


def generated_mbv3_subnets(k: int, seed: int, n: int = 100, resolution: int = 32, n_classes: int = 10,
                           steps: int = 20) -> dict:
    """``n`` samples of the packaged MBV3 score net (unguided); of the distinct valid subnets the ``k``
    with the most MFLOPs at ``resolution`` (a capacity proxy: no MBV3 accuracy predictor works
    offline). Keys: ``subnets`` (best first), ``generated``, ``valid``, ``unique``."""
    from nagkit.diffusion.sample import SamplerConfig, generate
    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.spaces import mbv3

    space = mbv3.MBV3Space()
    model, sde = scorenet_and_sde("mbv3")
    cells = generate(space, model, sde, n, torch.Generator().manual_seed(seed), SamplerConfig("pc", steps))
    valid = [c for c in cells if c is not None]
    distinct = list(dict.fromkeys(valid))
    if len(distinct) < k:
        raise RuntimeError(f"only {len(distinct)} distinct valid subnets in {n} samples; need {k}")
    ranked = sorted(distinct, key=lambda a: -mbv3.flops(a, resolution, n_classes))
    return {"subnets": ranked[:k], "generated": n, "valid": len(valid), "unique": len(distinct)}


def best_by_valid(group: dict) -> tuple[str, dict]:
    """The group's architecture with the best mean validation accuracy, and its test-accuracy summary
    (the paper's protocol: train candidates, keep the best on validation, report its test mean +- CI)."""
    valid = by_arch(group["runs"], "valid_acc")
    arch = max(group["archs"], key=lambda a: valid[a]["mean"])
    return arch, group["per_arch"][arch]
