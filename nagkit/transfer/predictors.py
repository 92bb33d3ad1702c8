"""The predictors of a transfer run: a clean one ranks candidates, a noise-aware one guides generation.

``"lodo"``: the target's leave-one-dataset-out surrogates (:mod:`nagkit.transfer.lodo`; the target's
labels are never read). ``"metad2a"``: the paper's dataset-aware meta-predictor on MetaD2A's NB201
records, which needs downloaded ImageNet-32 features, ResNet-18 weights and the target's images
(it fails offline with the loaders' messages).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from nagkit.guidance import Objective
from nagkit.predictors.fit import SurrogateConfig, predict
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
                    benchmark: BenchmarkLike = "nb201") -> Predictors:
    """The surrogates of ``target`` trained on ``sources`` only (cached on disk)."""
    s = lodo_surrogates(target, config, seed, sources, benchmark=benchmark)
    clean, noise = s["clean"], s["noise"]
    return Predictors(lambda x: predict(clean, x), noise.predict, " + ".join(sources))


def metad2a_predictors(target: str, config: SurrogateConfig, seed: int = 0,
                       benchmark: BenchmarkLike = "nb201") -> Predictors:
    """The paper's dataset-aware meta-predictor f(X, D) (clean and noise-aware copies, meta-trained
    on MetaD2A's NB201 records) conditioned on the target's ResNet-18 class features."""
    from nagkit.data.datasets import get_spec, load_splits
    from nagkit.data.features import dataset_features
    from nagkit.predictors.metad2a import (SAFE_FEATURES, MetaTrainConfig, default_source_dir, load_class_features,
                                           load_metad2a, meta_train_predictor)
    from nagkit.predictors.model import PredictorConfig
    from nagkit.predictors.set_encoder import SetEncoderConfig

    bench = as_benchmark(benchmark)
    if bench.space.name != "nb201":
        raise ValueError(f"the MetaD2A meta-predictor is meta-trained on NB201 records, not {bench.name}")
    folder = default_source_dir()
    features = load_class_features(folder / SAFE_FEATURES)  # offline: FileNotFoundError naming the download
    data = load_metad2a()  # the packaged records
    meta = MetaTrainConfig(fit=replace(MetaTrainConfig().fit, seed=seed))
    dim = int(features[0].shape[-1])
    clean, _ = meta_train_predictor(data, features, meta)
    noise, _ = meta_train_predictor(data, features, meta, PredictorConfig(
        noise_aware=True, dataset=SetEncoderConfig(feature_dim=dim)), config.sde())
    target_features = dataset_features(load_splits(target).train, get_spec(target), seed=seed).features[None]
    return Predictors(lambda x: predict(clean, x, dataset=target_features),
                      lambda x, sigma: noise.predict(x, sigma, target_features), "MetaD2A meta-predictor")


def load_predictors(target: str, sources: tuple[str, ...], config: TransferConfig, seed: int = 0,
                    benchmark: BenchmarkLike = "nb201") -> Predictors:
    """The ranking and guidance predictors ``config.predictor`` names."""
    if config.predictor == "metad2a":
        return metad2a_predictors(target, config.surrogate, seed, benchmark)
    return lodo_predictors(target, sources, config.surrogate, seed, benchmark)


def accuracy_objectives(guides: Sequence[tuple[str, float]], config: SurrogateConfig, seed: int = 0,
                        benchmark: BenchmarkLike = "nb201") -> list[Objective]:
    """One ``maximize`` objective per ``(dataset, weight)``: the noise-aware LODO surrogate of that
    dataset's accuracy (trained on the benchmark's other datasets)."""
    return [Objective(lodo_surrogates(name, config, seed, benchmark=benchmark)["noise"].predict, "maximize", weight)
            for name, weight in guides]
