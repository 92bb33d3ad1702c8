"""The predictors of a transfer run: a clean one ranks candidates, a noise-aware one guides generation.

``"lodo"``: the target's leave-one-dataset-out surrogates (:mod:`nagkit.transfer.lodo`; the target's
labels are never read). ``"metad2a"``: the paper's dataset-aware meta-predictor on MetaD2A's NB201
records, which needs downloaded ImageNet-32 features, ResNet-18 weights and the target's images
(it fails offline with the loaders' messages).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from nagkit.diffusion.sde import SDE
from nagkit.guidance import Objective
from nagkit.predictors.fit import Device, MetaTrainConfig, SurrogateConfig, predict
from nagkit.transfer.lodo import BenchmarkLike, as_benchmark, lodo_surrogates

if TYPE_CHECKING:
    from nagkit.transfer.protocol import TransferConfig

PREDICTORS = ("lodo", "metad2a")


@dataclass
class Predictors:
    """``rank(one_hot) -> scores`` (clean, no gradient) and ``guide(x_t, sigma) -> scores``
    (noise-aware, differentiable; the guidance objective)."""

    rank: Callable[[torch.Tensor], torch.Tensor]
    guide: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    label: str


def lodo_predictors(target: str, sources: tuple[str, ...], config: SurrogateConfig, seed: int = 0,
                    benchmark: BenchmarkLike = "nb201", device: Device = "cpu") -> Predictors:
    """The surrogates of ``target`` trained on ``sources`` only (cached on disk), on ``device``."""
    s = lodo_surrogates(target, config, seed, sources, benchmark=benchmark, device=device)
    clean, noise = s["clean"], s["noise"]
    return Predictors(lambda x: predict(clean, x, device=device), noise.predict, " + ".join(sources))


def meta_predictors(target: str, records: Path | str, meta: MetaTrainConfig, sde: SDE, seed: int = 0,
                    space: str = "nb201", device: Device = "cpu") -> Predictors:
    """The dataset-aware meta-predictor f(X, D) (clean and noise-aware copies, meta-trained on the
    ``space`` records file ``records`` as ``meta`` says, the noise-aware one under ``sde``) conditioned
    on the target's ResNet-18 class features (``meta.n_per_class`` training images per class).

    ``target``: an NB201 dataset (``cifar10``, ``cifar100``, ``ImageNet16-120``) or any dataset of
    :data:`nagkit.data.datasets.SPECS` (e.g. ``aircraft``, ``pets``), matched case-insensitively.
    Both copies and the target's features are cached (:func:`nagkit.predictors.metad2a.cached_meta_predictor`,
    :func:`nagkit.data.features.target_features`), so only the first call meta-trains; the ImageNet-32
    class features come from ``<data root>/metad2a`` (offline: ``FileNotFoundError`` naming the download).
    """
    from nagkit.data.features import target_features
    from nagkit.predictors.metad2a import SAFE_FEATURES, cached_meta_predictor, default_source_dir
    from nagkit.predictors.model import PredictorConfig
    from nagkit.predictors.set_encoder import SetEncoderConfig

    features = default_source_dir() / SAFE_FEATURES
    clean, _ = cached_meta_predictor(records, features, meta, seed=seed, device=device, space=space)
    noise, _ = cached_meta_predictor(records, features, meta, PredictorConfig(
        noise_aware=True, dataset=SetEncoderConfig()), sde, seed=seed, device=device, space=space)
    where = next(clean.parameters()).device
    encoded = target_features(target.lower(), per_class=meta.n_per_class, seed=seed, device=device)
    feats = encoded.features[None].to(where)
    return Predictors(lambda x: predict(clean, x, dataset=feats, device=where),
                      lambda x, sigma: noise.predict(x, sigma, feats), "MetaD2A meta-predictor")


def metad2a_predictors(target: str, config: SurrogateConfig, seed: int = 0, benchmark: BenchmarkLike = "nb201",
                       device: Device = "cpu") -> Predictors:
    """:func:`meta_predictors` on MetaD2A's packaged NB201 records, meta-trained as ``config.meta`` says
    under ``config``'s SDE."""
    from nagkit.resources import METAD2A_RECORDS

    bench = as_benchmark(benchmark)
    if bench.space.name != "nb201":
        raise ValueError(f"the MetaD2A meta-predictor is meta-trained on NB201 records, not {bench.name}")
    return meta_predictors(target, METAD2A_RECORDS, config.meta, config.sde(), seed, "nb201", device)


def load_predictors(target: str, sources: tuple[str, ...], config: TransferConfig, seed: int = 0,
                    benchmark: BenchmarkLike = "nb201", device: Device = "cpu") -> Predictors:
    """The ranking and guidance predictors ``config.predictor`` names, on ``device``."""
    if config.predictor == "metad2a":
        return metad2a_predictors(target, config.surrogate, seed, benchmark, device)
    return lodo_predictors(target, sources, config.surrogate, seed, benchmark, device)


def accuracy_objectives(guides: Sequence[tuple[str, float]], config: SurrogateConfig, seed: int = 0,
                        benchmark: BenchmarkLike = "nb201", device: Device = "cpu") -> list[Objective]:
    """One ``maximize`` objective per ``(dataset, weight)``: the noise-aware LODO surrogate of that
    dataset's accuracy (trained on the benchmark's other datasets), on ``device``."""
    return [Objective(lodo_surrogates(name, config, seed, benchmark=benchmark, device=device)["noise"].predict,
                      "maximize", weight) for name, weight in guides]
