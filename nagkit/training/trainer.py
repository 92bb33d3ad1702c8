"""The image trainer: architectures trained from scratch with the NB201 recipe, reduced CPU profiles,
seeds and resumption.

NB201 recipe (``profile("paper")``): SGD, Nesterov momentum 0.9, weight decay 5e-4, batch 256,
learning rate 0.1 annealed to 0 by a per-step cosine, 200 epochs; random crop (pad 4) + flip on
CIFAR only (MetaD2A trains Aircraft / Pets at 32 px without augmentation). Seeds 777 / 888 / 999;
results are reported as the mean and 95% t-interval across seeds (``nagkit.stats.summarise_t``).

Networks come from the search space's net builder (``nagkit.nets.NETS``). Each epoch ends with an
atomic checkpoint (``nagkit.storage``) holding weights, optimiser, RNG states and history, loaded
with ``weights_only=True``; rerunning the same job resumes it and gives the same result as an
uninterrupted run. On CPU a job is deterministic given its seed (and a fixed thread count; the
executor's workers use one thread each).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from nagkit.device import resolve_device
from nagkit.data.datasets import ImageSet, Splits, load_splits
from nagkit.nets import get_net
from nagkit.profiles import check_profile
from nagkit.progress import Interrupted, deferred_signals, enabled, progress_bar as tqdm
from nagkit.storage import atomic_torch_save

SEEDS: tuple[int, ...] = (777, 888, 999)


@dataclass(frozen=True)
class ImageTrainConfig:
    """Image-training optimisation and network-size settings (defaults = the NB201 recipe and skeleton).

    Not the score network's ``nagkit.diffusion.train.TrainConfig``."""

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
            raise ValueError(f"bad ImageTrainConfig: {'; '.join(bad)}")


# the image-training config of each profile (names: nagkit.profiles)
PROFILE_CONFIGS: dict[str, ImageTrainConfig] = {
    "paper": ImageTrainConfig(),
    "quick": ImageTrainConfig(epochs=3, batch_size=128, C=8, N=1),
    "smoke": ImageTrainConfig(epochs=1, batch_size=16, C=4, N=1),  # the paper recipe, toy skeleton
}


def profile(name: str, **overrides) -> ImageTrainConfig:
    """A named config (``quick`` | ``paper`` | ``smoke``) with fields overridden: ``profile("quick", epochs=2)``."""
    return dataclasses.replace(PROFILE_CONFIGS[check_profile(name)], **overrides)


def build_model(space: str, arch: str, n_classes: int, in_channels: int, config: ImageTrainConfig, seed: int,
                ofa_weights: str | Path | None = None) -> nn.Module:
    """A freshly initialised network for ``arch`` from ``space``'s net builder (``nagkit.nets.NETS``;
    ``KeyError`` listing the valid spaces), initialisation seeded by ``seed``; builders that take
    pretrained weights (MBV3: an OFA supernet checkpoint as ``ofa_weights``) start from them, the
    others refuse them."""
    return get_net(space)(arch, n_classes, in_channels, config, seed, ofa_weights)


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


def train_network(model: nn.Module, splits: Splits, config: ImageTrainConfig, seed: int, channels: int,
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
    config: ImageTrainConfig
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
    channels = get_net(job.space).input_channels(splits.spec.in_channels)
    model = build_model(job.space, job.arch, splits.spec.n_classes, channels, job.config, job.seed, job.ofa_weights)
    result = train_network(model, splits, job.config, job.seed, channels, job.checkpoint(), job.progress,
                           desc=f"{job.arch[:40]} s{job.seed}")
    return {"arch": job.arch, "space": job.space, "dataset": job.dataset,
            "init": "ofa" if job.ofa_weights is not None else "scratch", **result}
