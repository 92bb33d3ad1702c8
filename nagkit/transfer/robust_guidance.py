"""Guidance toward other objectives (paper Table 5): generate NB201 cells guided toward a robustness
metric of the robustness dataset (:mod:`nagkit.benchmarks.robustness`: robust accuracy under APGD,
accuracy under glass blur) versus toward clean accuracy, and look both up in the dataset.

Three arms share the packaged NB201 score network, the sampler and the seed:

* ``robust``: guided by a noise-aware predictor of the robust metric, ranked by its clean copy; both
  are fitted on a seeded subset of ``n_train`` cells labelled with the dataset's values;
* ``clean``: guided and ranked by the leave-one-dataset-out surrogates of NB201 test accuracy
  (:mod:`nagkit.transfer.lodo`; the target's labels are never read), i.e. the accuracy guidance of Table 1;
* ``unguided``: scale 0, ranked by the robust metric's clean predictor (sample, then filter).

Guidance uses the *standardised* predictor output (``Predictor.forward``), so one scale means the same
push for an objective in % and for the z-scored LODO objective. For each arm the report gives the top-ranked
cell's robust metric and clean accuracy (the dataset's ``clean`` key) and the pool's mean / max of both.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from nagkit.benchmarks.robustness import RobustnessData
from nagkit.device import resolve_device
from nagkit.diffusion.sample import SamplerConfig
from nagkit.diffusion.sde import VESDE
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.paths import cache_dir
from nagkit.predictors.encoder import EncoderConfig
from nagkit.predictors.fit import FitConfig, SurrogateConfig, fit_predictor, predict, surrogate_profile
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.predictors.properties import training_archs
from nagkit.profiles import check_profile
from nagkit.storage import cached_module
from nagkit.transfer.lodo import lodo_surrogates
from nagkit.transfer.protocol import TransferConfig, generate_population, rank

ROBUST_VERSION = 1
ARMS = ("unguided", "clean", "robust")


@dataclass(frozen=True)
class RobustConfig:
    """``robust``: the robust-metric predictors (``n_train`` labelled cells); ``lodo``: the clean-accuracy
    surrogates; ``transfer``: pool size, scale, batches and sampler of the generation (as Table 1's)."""

    robust: SurrogateConfig = field(default_factory=lambda: replace(SurrogateConfig(), metric="robust"))
    lodo: SurrogateConfig = field(default_factory=SurrogateConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def robust_profile(profile: str, sde: VESDE) -> RobustConfig:
    """``quick``: 2,000 labelled cells, Table 1's quick generation (pool 10, batches of 16, 20-step PC);
    ``paper``: 10,000 cells, 5,000 / 10,000 fit steps, the authors' 1,000-step sampler, batches of 256;
    ``smoke``: the paper branch at toy sizes (predictors of width 16, 20 steps). Predictors see the score
    net's VE-SDE ``sde``."""
    sig = {"sigma_min": sde.sigma_min, "sigma_max": sde.sigma_max}
    name = check_profile(profile)
    if name == "quick":
        robust = SurrogateConfig(**sig)
        transfer = TransferConfig(surrogate=replace(surrogate_profile("quick"), **sig))
    elif name == "paper":
        robust = SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                                 noise_fit=FitConfig(steps=10_000, lr=1e-3), **sig)
        transfer = TransferConfig(batch_size=256, sampler=SamplerConfig("pc", 1000, batch_size=256),
                                  surrogate=replace(surrogate_profile("paper"), **sig))
    else:
        toy = FitConfig(steps=20, batch_size=32, progress=False)
        robust = SurrogateConfig(n_train=200, predictor=PredictorConfig(encoder=EncoderConfig(hidden=16, layers=2)),
                                 fit=toy, noise_fit=toy, **sig)
        transfer = TransferConfig(n_unique=4, batch_size=8, max_batches=4, sampler=SamplerConfig("pc", 10),
                                  surrogate=replace(robust, metric="test_acc"))
    return RobustConfig(robust=replace(robust, metric="robust"), lodo=transfer.surrogate, transfer=transfer)


def table_fingerprint(values: np.ndarray) -> str:
    """Hash of a table's values (fixture and release tables never share a cache entry)."""
    return hashlib.sha1(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()[:16]


def robust_key(dataset: str, metric: str, fingerprint: str, noise_aware: bool, config: SurrogateConfig,
               seed: int) -> str:
    fit = config.noise_fit if noise_aware else config.fit
    spec = {"version": ROBUST_VERSION, "dataset": dataset, "metric": metric, "table": fingerprint,
            "noise_aware": noise_aware, "seed": seed, "n_train": config.n_train,
            "predictor": config.predictor.to_dict(), "fit": {k: v for k, v in fit.to_dict().items() if k != "progress"},
            "sde": [config.sigma_min, config.sigma_max] if noise_aware else None}
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def robust_predictor(data: RobustnessData, dataset: str, metric: str, noise_aware: bool,
                     config: SurrogateConfig, seed: int = 0, cache: Path | str | None = None) -> Predictor:
    """Clean or noise-aware predictor of ``metric`` (in %), fitted on the ``config.n_train`` seeded cells
    (:func:`~nagkit.predictors.properties.training_archs`) the release has a value for; cached under
    ``cache`` (default ``<cache root>/robustness``)."""
    space = data.space
    table = data.table(dataset, metric)
    pconf = replace(config.predictor, noise_aware=noise_aware)

    def make() -> Predictor:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return Predictor(space, pconf)

    def train(model: Predictor) -> None:
        archs = training_archs(space, config.n_train, seed)
        y = torch.as_tensor(table[[space.index(a) for a in archs]], dtype=torch.float32)
        keep = torch.isfinite(y)
        if int(keep.sum()) < 2:
            raise ValueError(f"the robustness dataset has fewer than 2 of the {len(archs)} training cells for {metric}")
        x = space.encode_batch([a for a, k in zip(archs, keep.tolist()) if k])
        fit = replace(config.noise_fit if noise_aware else config.fit, seed=seed)
        fit_predictor(model, x, y[keep], fit, config.sde() if noise_aware else None)

    key = robust_key(dataset, metric, table_fingerprint(table), noise_aware, config, seed)
    return cached_module(Path(cache or cache_dir("robustness")) / f"{key}.pt", make, train)


@dataclass
class Arm:
    """One generation arm: its top-ranked cell and pool, looked up in the robustness dataset (%)."""

    name: str
    scale: float
    top: str
    top_robust: float
    top_clean: float
    pool_robust: dict[str, float]  # mean / max over the pool
    pool_clean: dict[str, float]
    validity: float
    n_drawn: int
    pool: list[str]


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.nanmean(values)), "max": float(np.nanmax(values))}


def robust_guidance(data: RobustnessData, dataset: str, metric: str, config: RobustConfig, seed: int = 0,
                    device: str = "cpu", cache: Path | str | None = None, arms: tuple[str, ...] = ARMS) -> dict:
    """Table 5's comparison on ``dataset``: for each arm (``unguided``, ``clean``, ``robust``) generate a pool
    with generation seed ``seed`` (predictors are fitted with seed 0), rank it and look the top cell up.

    Predictors are fitted on the CPU and moved to ``device`` with a copy of the score network for sampling.
    """
    for arm in arms:
        if arm not in ARMS:
            raise ValueError(f"unknown arm {arm!r}; valid: {list(ARMS)}")
    data.check(dataset, metric)
    data.check(dataset, "clean")
    dev = resolve_device(device)
    shared, sde = scorenet_and_sde(data.space.name)
    for name, c in (("robust", config.robust), ("lodo", config.lodo)):
        if (c.sigma_min, c.sigma_max) != (sde.sigma_min, sde.sigma_max):
            raise ValueError(f"the {name} predictors' noise range {(c.sigma_min, c.sigma_max)} is not the score "
                             f"net's {(sde.sigma_min, sde.sigma_max)}; build the config with robust_profile")
    model = copy.deepcopy(shared).to(dev) if dev.type != "cpu" else shared
    space = data.space
    guides, rankers = {}, {}
    if "robust" in arms or "unguided" in arms:
        clean_r = robust_predictor(data, dataset, metric, False, config.robust, 0, cache)
        rankers["robust"] = rankers["unguided"] = lambda x, m=clean_r: predict(m, x)
        guides["unguided"] = None
    if "robust" in arms:
        guides["robust"] = robust_predictor(data, dataset, metric, True, config.robust, 0, cache).to(dev)
    if "clean" in arms:
        s = lodo_surrogates(dataset, config.lodo, 0, cache_dir=None if cache is None else Path(cache) / "lodo",
                            benchmark=data.space.name)
        guides["clean"] = s["noise"].to(dev)
        rankers["clean"] = lambda x, m=s["clean"]: predict(m, x)
    robust_table, clean_table = data.table(dataset, metric), data.table(dataset, "clean")
    out = {}
    for arm in arms:
        net = guides[arm]
        tconf = replace(config.transfer, scale=0.0) if net is None else config.transfer
        pop = generate_population(model, sde, None if net is None else net.forward, tconf,
                                  torch.Generator().manual_seed(seed), space)
        pool = pop.archs[: tconf.n_unique]
        if not pool:
            raise ValueError(f"{arm}: no valid architecture in {pop.n_drawn} samples; lower the guidance scale")
        ranked = rank(pool, rankers[arm], space)
        idx = [space.index(a) for a in ranked]
        out[arm] = Arm(arm, tconf.scale, ranked[0], float(robust_table[idx[0]]), float(clean_table[idx[0]]),
                       _stats(robust_table[idx]), _stats(clean_table[idx]), pop.validity, pop.n_drawn, ranked)
    return {"dataset": dataset, "metric": metric, "seed": seed, "device": str(dev), "root": str(data.root),
            "arms": {k: asdict(v) for k, v in out.items()}, "config": config.to_dict()}


__all__ = ["ARMS", "Arm", "RobustConfig", "robust_guidance", "robust_key", "robust_predictor", "robust_profile",
           "table_fingerprint"]
