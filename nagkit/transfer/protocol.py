"""The transfer-NAG protocol (method.md section 5): guided generation, predictor ranking, training in rank order.

One run: sample batches from the space's score network, guided by a noise-aware predictor of the
target's accuracy, until ``n_unique`` distinct valid architectures are collected (the candidate
pool: the first ``n_unique`` distinct strings in generation order); rank them with the clean
predictor; "train" them in rank order through a :class:`~nagkit.benchmarks.ledger.Ledger` until
the target's optimum is trained (``trained_to_optimum``) or the pool is exhausted (``None``).
Stopping at the optimum uses its test accuracy only as the measurement of the paper's "#trained"
column. Predictors: :mod:`nagkit.transfer.predictors`.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from nagkit.benchmarks import Ledger, TabularBenchmark
from nagkit.diffusion.population import Population, sample_population
from nagkit.device import resolve_device
from nagkit.diffusion.sample import SamplerConfig, generate, model_device
from nagkit.diffusion.scorenet import ScoreNet
from nagkit.diffusion.sde import SDE
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.guidance import DEFAULT_SCALE, Objective, Schedule, make_guidance
from nagkit.predictors.fit import SurrogateConfig, surrogate_profile
from nagkit.profiles import check_profile
from nagkit.spaces.base import SearchSpace
from nagkit.stats import summarise
from nagkit.transfer.lodo import BenchmarkLike, as_benchmark
from nagkit.transfer.predictors import PREDICTORS, Predictors, load_predictors


@dataclass(frozen=True)
class TransferConfig:
    """``scale``: guidance scale w (0: unguided; the default 10 is what notebook 05 chose on
    pseudo-tasks for both CIFAR targets); ``batch_size`` samples per generated batch, at most
    ``max_batches`` batches; ``max_norm`` clips each sample's guidance gradient."""

    n_unique: int = 10
    scale: float = DEFAULT_SCALE
    schedule: str = "constant"
    batch_size: int = 16
    max_batches: int = 20
    max_norm: float | None = None
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    surrogate: SurrogateConfig = field(default_factory=SurrogateConfig)
    predictor: str = "lodo"

    def __post_init__(self) -> None:
        if not (self.n_unique >= 1 and self.batch_size >= 1 and self.max_batches >= 1):
            raise ValueError(f"n_unique, batch_size and max_batches must be >= 1, got "
                             f"{self.n_unique}, {self.batch_size}, {self.max_batches}")
        if self.max_norm is not None and not 0 < self.max_norm < math.inf:
            raise ValueError(f"max_norm must be None or finite and > 0, got {self.max_norm}")
        if self.predictor not in PREDICTORS:
            raise ValueError(f"predictor must be one of {PREDICTORS}, got {self.predictor!r}")
        Schedule(self.schedule, self.scale)  # validates the schedule kind and the scale (finite, >= 0)

    def guidance_schedule(self) -> Schedule:
        return Schedule(self.schedule, self.scale)


def transfer_profile(profile: str, **overrides) -> TransferConfig:
    """``quick``: LODO surrogates, nagkit's 20-step PC sampler, batches of 16. ``paper``: the
    meta-predictor, the authors' 1,000-step PC sampler and batches of 256 (needs downloads).
    ``smoke``: the paper's predictor and sampler type at a 10-step PC sampler and batches of 16."""
    if check_profile(profile) == "quick":
        base = TransferConfig(surrogate=surrogate_profile("quick"))
    elif profile == "smoke":
        base = TransferConfig(batch_size=16, sampler=SamplerConfig("pc", 10, batch_size=16),
                              surrogate=surrogate_profile("smoke"), predictor="metad2a")
    else:
        base = TransferConfig(batch_size=256, sampler=SamplerConfig("pc", 1000, batch_size=256),
                              surrogate=surrogate_profile("paper"), predictor="metad2a")
    return replace(base, **overrides)


def generate_population(model: ScoreNet, sde: SDE, guide: Callable | None, config: TransferConfig,
                        generator: torch.Generator, space: SearchSpace) -> Population:
    """Draw batches until ``config.n_unique`` distinct valid strings exist (or ``max_batches``).

    Validity and uniqueness count every sample drawn; the pool is the first ``n_unique`` distinct
    valid strings in generation order (``archs[:config.n_unique]``). Batch ``b`` uses the
    schedule's scale for ``b``.
    """
    sampler = replace(config.sampler, batch_size=config.batch_size)

    def draw(batch: int) -> list[str | None]:
        guidance = None
        if guide is not None and config.scale > 0:
            guidance = make_guidance([Objective(guide)], sde, config.guidance_schedule(), batch, config.max_norm)
        return generate(space, model, sde, config.batch_size, generator, sampler, guidance)

    return sample_population(draw, config.n_unique, config.max_batches)


def rank(archs: Sequence[str], scorer: Callable[[torch.Tensor], torch.Tensor], space: SearchSpace,
         device: str | torch.device = "cpu") -> list[str]:
    """``archs`` by descending clean-predictor score (generation order breaks ties); the encodings are
    scored on ``device`` (where the predictor is)."""
    if not archs:
        return []
    scores = scorer(space.encode_batch(list(archs)).to(device)).detach().cpu().numpy()
    return [archs[i] for i in np.argsort(-scores, kind="stable")]


@dataclass
class TransferResult:
    """One seed of transfer NAG on one target (accuracies in %, cost as the ledger charges it)."""

    dataset: str
    sources: tuple[str, ...]
    seed: int
    scale: float
    selected: str  # the top-ranked candidate, trained first
    acc_after_1: float
    trained_to_optimum: int | None  # None: the optimum is not in the pool
    simulated_seconds_to_optimum: float | None
    incumbent: str  # best validation accuracy among the trained
    incumbent_test_acc: float
    n_trained: int
    seconds_spent: float  # simulated cost of everything trained (to the optimum or the whole pool)
    population: dict[str, float]  # max / mean / min target test accuracy of the pool
    validity: float
    uniqueness: float
    n_drawn: int
    n_batches: int
    ranked: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def train_in_rank_order(ranked: Sequence[str], dataset: str, benchmark: TabularBenchmark,
                        tol: float = 1e-6) -> tuple[Ledger, int | None]:
    """Train ``ranked`` in order until the ``dataset`` optimum is trained; the ledger and the
    count at that point (``None`` when the pool is exhausted without it)."""
    ledger = Ledger(benchmark, dataset)
    best = benchmark.optimum(dataset)[1]
    for arch in ranked:
        if ledger.train(arch).test_acc >= best - tol:
            return ledger, ledger.n_trained
    return ledger, None


def transfer_search(model: ScoreNet, sde: SDE, predictors: Predictors, dataset: str, sources: tuple[str, ...],
                    config: TransferConfig, seed: int = 0, benchmark: BenchmarkLike = "nb201",
                    device: str = "cpu") -> TransferResult:
    """One transfer-NAG run: guided population, ranking, training in rank order.

    Generation and ranking run on ``device`` (:func:`nagkit.device.resolve_device`; the predictors must
    be there too): the score net is copied there when it lives elsewhere (a shared network is never
    moved). Random draws come from a CPU generator, so the noise is the same on every device."""
    bench = as_benchmark(benchmark)
    bench.check(dataset)
    where = resolve_device(device)
    if model is not None and model_device(model) != where:
        model = copy.deepcopy(model).to(where)
    pop = generate_population(model, sde, predictors.guide, config, torch.Generator().manual_seed(seed), bench.space)
    pool = pop.archs[: config.n_unique]
    if not pool:
        raise ValueError(f"no valid architecture in {pop.n_drawn} samples ({pop.n_batches} batches); "
                         "lower the guidance scale or raise max_batches")
    ranked = rank(pool, predictors.rank, bench.space, where)
    ledger, until = train_in_rank_order(ranked, dataset, bench)
    acc = np.array([bench.query(a, dataset, "test_acc") for a in pool])
    inc = ledger.incumbent()
    return TransferResult(
        dataset=dataset, sources=tuple(sources), seed=seed, scale=config.scale,
        selected=ledger.history[0].arch, acc_after_1=ledger.history[0].test_acc,
        trained_to_optimum=until, simulated_seconds_to_optimum=ledger.seconds if until else None,
        incumbent=inc.arch, incumbent_test_acc=inc.test_acc, n_trained=ledger.n_trained, seconds_spent=ledger.seconds,
        population={"max": float(acc.max()), "mean": float(acc.mean()), "min": float(acc.min())},
        validity=pop.validity, uniqueness=pop.uniqueness, n_drawn=pop.n_drawn, n_batches=pop.n_batches,
        ranked=ranked)


def run_seed(item: dict) -> dict:
    """Executor task: ``{"dataset", "sources", "seed", "config"[, "space", "device", "profile", "checkpoint"]}`` ->
    ``TransferResult.to_dict()``.

    ``space`` (default ``"nb201"``) names the benchmark; loads the score net of ``profile`` (default
    quick: the packaged one) or ``checkpoint`` (:func:`~nagkit.diffusion.train.scorenet_and_sde`) and the
    (cached) predictors of ``sources``; predictors are trained with seed 0, ``seed`` drives generation;
    ``device`` (default ``"cpu"``) is where predictors, generation and ranking run.
    """
    torch.set_num_threads(1)
    space, device = item.get("space", "nb201"), item.get("device", "cpu")
    model, sde = scorenet_and_sde(space, item.get("checkpoint"), profile=item.get("profile", "quick"))
    sources = tuple(item["sources"])
    predictors = load_predictors(item["dataset"], sources, item["config"], seed=0, benchmark=space, device=device)
    return transfer_search(model, sde, predictors, item["dataset"], sources, item["config"], item["seed"],
                           benchmark=space, device=device).to_dict()


def summarise_runs(runs: Sequence[dict]) -> dict:
    """Per (dataset, sources) group: the per-seed lists and their summaries (mean, 95% CI)."""
    if not runs:
        raise ValueError("no runs to summarise")
    until = [r["trained_to_optimum"] for r in runs]
    pops = {k: [r["population"][k] for r in runs] for k in ("max", "mean", "min")}
    return {
        "n_seeds": len(runs),
        "budget": max(len(r["ranked"]) for r in runs),  # pool size: the most a seed can train
        "seconds_spent": [r["seconds_spent"] for r in runs],
        "trained_to_optimum": until,
        "simulated_seconds_to_optimum": [r["simulated_seconds_to_optimum"] for r in runs],
        "acc_after_1": [r["acc_after_1"] for r in runs],
        "acc_after_1_summary": summarise([r["acc_after_1"] for r in runs]),
        "reached_within_1": float(np.mean([u is not None and u <= 1 for u in until])),
        "reached_within_3": float(np.mean([u is not None and u <= 3 for u in until])),
        "reached": float(np.mean([u is not None for u in until])),
        "trained_to_optimum_summary": summarise([u for u in until if u is not None]) if any(
            u is not None for u in until) else None,
        "population": {k: float(np.mean(v)) for k, v in pops.items()},
        "population_per_seed": pops,
        "population_mean_summary": summarise(pops["mean"]),
        "validity": float(np.mean([r["validity"] for r in runs])),
        "uniqueness": float(np.mean([r["uniqueness"] for r in runs])),
        "samples_drawn": float(np.mean([r["n_drawn"] for r in runs])),
    }
