"""Transfer NAS on MobileNetV3 (paper Table 2): guided generation, meta-predictor ranking, OFA fine-tuning.

One run on a target dataset: draw ``n_generate`` samples from the MBV3 score network of the profile
(batches of ``batch_size``; guidance by the noise-aware MBV3 meta-predictor conditioned on the target's
ResNet-18 class features, the authors' schedule w = 10,000 - 500 per batch), rank the distinct valid
subnets with the clean meta-predictor, fine-tune the top ``top_k`` from the OFA supernet's weights
(``seeds``, ``train.epochs`` epochs at ``resolution`` px) through one executor, and report the subnet
with the best mean validation accuracy with its test accuracy (mean and 95% t interval over seeds).

It needs downloads (offline: ``FileNotFoundError`` naming each): the MBV3 meta-training records
(``nagkit fetch ofa-records`` after copying MetaD2A's MobileNetV3 predictor database), the ImageNet-32
class features (``nagkit fetch imagenet32-features``), the OFA supernet (``nagkit fetch ofa-mbv3``),
torchvision's ResNet-18 weights and the target's images.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from nagkit.data.artifacts import OFA_NET
from nagkit.data.datasets import dataset_folder, load_splits
from nagkit.diffusion.population import sample_population
from nagkit.device import resolve_device
from nagkit.diffusion.sample import SamplerConfig, generate, model_device
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.executor import Executor
from nagkit.guidance import Objective, Schedule, authors_schedule, make_guidance
from nagkit.paths import cache_dir, data_root
from nagkit.predictors.fit import Device, MetaTrainConfig, meta_train_profile
from nagkit.predictors.ofa_records import SAFE_OFA_RECORDS
from nagkit.profiles import check_profile
from nagkit.spaces import get_space
from nagkit.training.generated import best_by_valid, by_arch, train_many
from nagkit.training.trainer import SEEDS, ImageTrainConfig
from nagkit.transfer.predictors import meta_predictors
from nagkit.transfer.protocol import rank

# Fine-tuning from OFA weights: the paper gives 20 epochs at 224 px; lr, batch and weight decay are nagkit's
# (OFA's fine-tuning scale), not published for Table 2.
FINETUNE = ImageTrainConfig(epochs=20, batch_size=64, lr=0.01, weight_decay=4e-5, dropout=0.1)


@dataclass(frozen=True)
class MBV3TransferConfig:
    """``n_generate`` samples in batches of ``batch_size`` (guidance ``schedule``; ``None``: the authors'
    schedule of the MBV3 space), ``top_k`` fine-tuned for ``seeds``; ``n_train``: a seeded subset of the
    training split per job (``None``: all of it)."""

    n_generate: int = 5000
    batch_size: int = 256
    top_k: int = 30
    seeds: tuple[int, ...] = SEEDS
    resolution: int = 224
    schedule: Schedule | None = None
    max_norm: float | None = None
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig("pc", 1000, batch_size=256))
    meta: MetaTrainConfig = field(default_factory=MetaTrainConfig)
    train: ImageTrainConfig = FINETUNE
    n_train: int | None = None

    def __post_init__(self) -> None:
        if not (self.n_generate >= 1 and self.batch_size >= 1 and self.top_k >= 1 and self.resolution >= 1):
            raise ValueError(f"n_generate, batch_size, top_k and resolution must be >= 1, got {self.n_generate}, "
                             f"{self.batch_size}, {self.top_k}, {self.resolution}")
        if not self.seeds:
            raise ValueError("seeds must name at least one training seed")
        if self.max_norm is not None and not 0 < self.max_norm < math.inf:
            raise ValueError(f"max_norm must be None or finite and > 0, got {self.max_norm}")

    def to_dict(self) -> dict:
        return asdict(self)


def mbv3_transfer_profile(profile: str, **overrides) -> MBV3TransferConfig:
    """``paper``: the protocol above. ``quick``: the same pipeline at CPU size (512 samples, 100-step
    sampler, top 5, one seed, 2 epochs at 224 px; it still needs the downloads). ``smoke``: the paper's
    code path at toy sizes (16 samples, 10 steps, top 2, one seed, one epoch of 32 images at 32 px)."""
    name = check_profile(profile)
    if name == "paper":
        base = MBV3TransferConfig()
    elif name == "quick":
        base = MBV3TransferConfig(n_generate=512, sampler=SamplerConfig("pc", 100, batch_size=256), top_k=5,
                                  seeds=SEEDS[:1], train=replace(FINETUNE, epochs=2))
    else:
        base = MBV3TransferConfig(n_generate=16, batch_size=8, sampler=SamplerConfig("pc", 10, batch_size=8),
                                  top_k=2, seeds=SEEDS[:1], resolution=32, meta=meta_train_profile("smoke"),
                                  train=replace(FINETUNE, epochs=1, batch_size=16), n_train=32)
    return replace(base, **overrides)


def mbv3_records_path(root: Path | str | None = None) -> Path:
    """``<data root>/ofa/metad2a_mbv3.pt``; ``FileNotFoundError`` saying how to make it when missing."""
    path = Path(root or data_root()) / "ofa" / SAFE_OFA_RECORDS
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: copy MetaD2A's MobileNetV3 predictor database into "
                                f"{path.parent / 'predictor'}, then run `nagkit fetch ofa-records`")
    return path


def ofa_weights_path(root: Path | str | None = None) -> Path:
    """``<data root>/ofa/ofa_mbv3_d234_e346_k357_w1.0``; ``FileNotFoundError`` naming the fetch when missing."""
    path = Path(root or data_root()) / "ofa" / OFA_NET
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `nagkit fetch ofa-mbv3`")
    return path


def mbv3_transfer(dataset: str, config: MBV3TransferConfig, seed: int = 0, profile: str = "paper",
                  checkpoint: str | None = None, executor: Executor | None = None, device: Device = "cpu",
                  progress: bool = True) -> dict:
    """One Table 2 run on ``dataset`` (any dataset of :data:`nagkit.data.datasets.SPECS`); ``seed`` drives
    generation, the predictors are meta-trained with seed 0 (cached); the score net is ``checkpoint`` or
    the ``profile``'s (:func:`~nagkit.diffusion.train.scorenet_and_sde`). Fine-tuning jobs checkpoint under
    ``<cache root>/mbv3-transfer`` (an interrupted run resumes them)."""
    records, weights = mbv3_records_path(), ofa_weights_path()  # fail before any work when data is missing
    if not dataset_folder(dataset).is_dir():
        load_splits(dataset)  # FileNotFoundError naming the download
    space = get_space("mbv3")
    model, sde = scorenet_and_sde("mbv3", checkpoint, profile=profile)
    where = resolve_device(device)
    if model_device(model) != where:  # the loaded net is shared within the process: never moved
        model = copy.deepcopy(model).to(where)
    predictors = meta_predictors(dataset, records, config.meta, sde, 0, "mbv3", where)
    schedule = config.schedule or authors_schedule(space)
    sampler = replace(config.sampler, batch_size=config.batch_size)
    generator = torch.Generator().manual_seed(seed)

    def draw(batch: int) -> list[str | None]:
        guidance = make_guidance([Objective(predictors.guide)], sde, schedule, batch, config.max_norm)
        return generate(space, model, sde, config.batch_size, generator, sampler, guidance)

    batches = math.ceil(config.n_generate / config.batch_size)
    population = sample_population(draw, config.n_generate, batches)
    if not population.archs:
        raise ValueError(f"no valid MBV3 subnet in {population.n_drawn} samples; lower the guidance scale")
    ranked = rank(population.archs, predictors.rank, space, where)
    top = ranked[: config.top_k]
    runs = train_many(top, dataset, config.train, config.seeds, executor, space="mbv3",
                      resolution=config.resolution, n_train=config.n_train, ofa_weights=str(weights),
                      checkpoint_dir=str(cache_dir("mbv3-transfer")), progress=progress)
    arch, test = best_by_valid({"archs": top, "runs": runs, "per_arch": by_arch(runs)})
    return {"dataset": dataset, "seed": seed, "selected": arch, "test_acc": test,
            "validity": population.validity, "uniqueness": population.uniqueness, "n_drawn": population.n_drawn,
            "n_unique": population.n_valid_unique, "top": top, "runs": runs, "config": config.to_dict(),
            "text": f"MBV3 transfer on {dataset}: {arch}, test {test['mean']:.2f}% over {len(config.seeds)} "
                    f"seed(s); {population.n_valid_unique} distinct valid of {population.n_drawn} generated"}
