"""Transfer NAG on NB201 (method.md section 5): guided generation, predictor ranking, training in rank order.

One run: sample batches from the score network, guided by a noise-aware predictor of the target's
accuracy, until ``n_unique`` distinct valid cells are collected (the candidate pool: the first
``n_unique`` distinct strings in generation order); rank them with the clean predictor; "train"
them in rank order through a :class:`~nagkit.benchmarks.ledger.Ledger` until the target's
optimum is trained (``trained_to_optimum``) or the pool is exhausted (``None``). Stopping at the
optimum uses its test accuracy only as the measurement of the paper's "#trained" column.

Predictors: ``"lodo"`` are the leave-one-dataset-out NB201 surrogates of
:func:`nagkit.predictors.fit.lodo_surrogates` (the target's labels are never read); ``"metad2a"``
is the paper's dataset-aware meta-predictor on MetaD2A data, which needs downloaded ImageNet-32
features, ResNet-18 weights and the target's images (it fails offline with the loaders' messages).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from nagkit.benchmarks.ledger import Ledger, summarise
from nagkit.benchmarks.nb201 import DATASETS, NB201Benchmark
from nagkit.diffusion.sample import SamplerConfig, generate
from nagkit.diffusion.scorenet import ScoreNet
from nagkit.diffusion.sde import SDE
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.executor import get_executor
from nagkit.guidance import DEFAULT_SCALE, Objective, Schedule, make_guidance
from nagkit.predictors.fit import SurrogateConfig, lodo_sources, lodo_surrogates, predict, surrogate_profile
from nagkit.spaces.nb201 import NB201Space

PREDICTORS = ("lodo", "metad2a")
SOURCE_ALIASES = {"imagenet16": ("ImageNet16-120",)}


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
    meta-predictor, the authors' 1,000-step PC sampler and batches of 256 (needs downloads)."""
    if profile == "quick":
        base = TransferConfig(surrogate=surrogate_profile("quick"))
    elif profile == "paper":
        base = TransferConfig(batch_size=256, sampler=SamplerConfig("pc", 1000, batch_size=256),
                              surrogate=surrogate_profile("paper"), predictor="metad2a")
    else:
        raise ValueError(f"profile must be 'quick' or 'paper', got {profile!r}")
    return replace(base, **overrides)


def parse_sources(target: str, spec: str | Sequence[str] = "lodo") -> tuple[str, ...]:
    """``"lodo"`` (the other NB201 datasets), ``"imagenet16"`` or comma-separated dataset names."""
    NB201Benchmark.check(target)
    if isinstance(spec, str):
        if spec == "lodo":
            return lodo_sources(target)
        names = SOURCE_ALIASES.get(spec, tuple(s.strip() for s in spec.split(",") if s.strip()))
    else:
        names = tuple(spec)
    if not names:
        raise ValueError("need at least one source dataset")
    for name in names:
        if name not in DATASETS:
            raise KeyError(f"unknown source {name!r}; valid: ['lodo', 'imagenet16', or names from {list(DATASETS)}]")
    if target in names:
        raise ValueError(f"the target {target!r} cannot be a source of its own predictor")
    return tuple(dict.fromkeys(names))


@dataclass
class Predictors:
    """``rank(one_hot) -> scores`` (clean, no gradient) and ``guide(x_t, sigma) -> scores``
    (noise-aware, differentiable; the guidance objective)."""

    rank: Callable[[torch.Tensor], torch.Tensor]
    guide: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    label: str


def lodo_predictors(target: str, sources: tuple[str, ...], config: SurrogateConfig, seed: int = 0) -> Predictors:
    """The NB201 surrogates of ``target`` trained on ``sources`` only (cached on disk)."""
    s = lodo_surrogates(target, config, seed, sources)
    clean, noise = s["clean"], s["noise"]
    return Predictors(lambda x: predict(clean, x), noise.predict, " + ".join(sources))


def metad2a_predictors(target: str, config: SurrogateConfig, seed: int = 0) -> Predictors:
    """The paper's dataset-aware meta-predictor f(X, D) (clean and noise-aware copies, meta-trained
    on MetaD2A's records) conditioned on the target's ResNet-18 class features."""
    from nagkit.data.datasets import get_spec, load_splits
    from nagkit.data.features import dataset_features
    from nagkit.predictors.metad2a import (SAFE_FEATURES, MetaTrainConfig, default_source_dir, load_class_features,
                                           load_metad2a, meta_train_predictor)
    from nagkit.predictors.model import PredictorConfig
    from nagkit.predictors.set_encoder import SetEncoderConfig

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


def load_predictors(target: str, sources: tuple[str, ...], config: TransferConfig, seed: int = 0) -> Predictors:
    """The ranking and guidance predictors ``config.predictor`` names."""
    if config.predictor == "metad2a":
        return metad2a_predictors(target, config.surrogate, seed)
    return lodo_predictors(target, sources, config.surrogate, seed)


@dataclass
class Population:
    """The candidate pool and what drawing it cost."""

    archs: list[str]
    n_drawn: int
    n_valid: int
    n_valid_unique: int  # distinct valid strings among everything drawn
    n_batches: int

    @property
    def validity(self) -> float:
        return self.n_valid / self.n_drawn if self.n_drawn else 0.0

    @property
    def uniqueness(self) -> float:
        return self.n_valid_unique / self.n_valid if self.n_valid else 0.0


def generate_population(model: ScoreNet, sde: SDE, guide: Callable | None, config: TransferConfig,
                        generator: torch.Generator, space: NB201Space | None = None) -> Population:
    """Draw batches until ``config.n_unique`` distinct valid strings exist (or ``max_batches``).

    Validity and uniqueness count every sample drawn; the pool is the first ``n_unique``
    distinct valid strings in generation order. Batch ``b`` uses the schedule's scale for ``b``.
    """
    space = space or NB201Space()
    sampler = replace(config.sampler, batch_size=config.batch_size)
    unique: dict[str, None] = {}
    drawn = valid = batches = 0
    while len(unique) < config.n_unique and batches < config.max_batches:
        guidance = None
        if guide is not None and config.scale > 0:
            guidance = make_guidance([Objective(guide)], sde, config.guidance_schedule(), batches, config.max_norm)
        out = generate(space, model, sde, config.batch_size, generator, sampler, guidance)
        batches += 1
        drawn += len(out)
        for arch in out:
            if arch is not None:
                valid += 1
                unique.setdefault(arch)
    return Population(list(unique)[: config.n_unique], drawn, valid, len(unique), batches)


def rank(archs: Sequence[str], scorer: Callable[[torch.Tensor], torch.Tensor],
         space: NB201Space | None = None) -> list[str]:
    """``archs`` by descending clean-predictor score (generation order breaks ties)."""
    if not archs:
        return []
    space = space or NB201Space()
    scores = scorer(space.encode_batch(list(archs))).detach().numpy()
    return [archs[i] for i in np.argsort(-scores, kind="stable")]


@dataclass
class TransferResult:
    """One seed of transfer NAG on one target (accuracies in %, seconds simulated by the ledger)."""

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
    seconds_spent: float  # simulated seconds of everything trained (to the optimum or the whole pool)
    population: dict[str, float]  # max / mean / min target test accuracy of the pool
    validity: float
    uniqueness: float
    n_drawn: int
    n_batches: int
    ranked: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def train_in_rank_order(ranked: Sequence[str], dataset: str, benchmark: NB201Benchmark,
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
                    config: TransferConfig, seed: int = 0, benchmark: NB201Benchmark | None = None) -> TransferResult:
    """One transfer-NAG run: guided population, ranking, training in rank order."""
    bench = benchmark or NB201Benchmark()
    bench.check(dataset)
    pop = generate_population(model, sde, predictors.guide, config, torch.Generator().manual_seed(seed))
    if not pop.archs:
        raise ValueError(f"no valid architecture in {pop.n_drawn} samples ({pop.n_batches} batches); "
                         "lower the guidance scale or raise max_batches")
    ranked = rank(pop.archs, predictors.rank)
    ledger, until = train_in_rank_order(ranked, dataset, bench)
    acc = np.array([bench.query(a, dataset, "test_acc") for a in pop.archs])
    inc = ledger.incumbent()
    return TransferResult(
        dataset=dataset, sources=tuple(sources), seed=seed, scale=config.scale,
        selected=ledger.history[0].arch, acc_after_1=ledger.history[0].test_acc,
        trained_to_optimum=until, simulated_seconds_to_optimum=ledger.seconds if until else None,
        incumbent=inc.arch, incumbent_test_acc=inc.test_acc, n_trained=ledger.n_trained, seconds_spent=ledger.seconds,
        population={"max": float(acc.max()), "mean": float(acc.mean()), "min": float(acc.min())},
        validity=pop.validity, uniqueness=pop.uniqueness, n_drawn=pop.n_drawn, n_batches=pop.n_batches,
        ranked=ranked)


def packaged_nb201() -> tuple[ScoreNet, SDE]:
    """The packaged NB201 quick score network and its SDE."""
    return scorenet_and_sde("nb201")


def run_seed(item: dict) -> dict:
    """Executor task: ``{"dataset", "sources", "seed", "config"}`` -> ``TransferResult.to_dict()``.

    Loads the packaged score net and the (cached) predictors of ``sources``; predictors are
    trained with seed 0, ``seed`` drives generation.
    """
    torch.set_num_threads(1)
    model, sde = packaged_nb201()
    sources = tuple(item["sources"])
    predictors = load_predictors(item["dataset"], sources, item["config"], seed=0)
    return transfer_search(model, sde, predictors, item["dataset"], sources, item["config"], item["seed"]).to_dict()


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


def pseudo_task(sources: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A stand-in task built from the sources only: (pseudo-target, its sources) = (the first
    source, the rest). Tuning on it never reads the real target's labels."""
    if len(sources) < 2:
        raise ValueError(f"a pseudo-task needs at least two source datasets, got {sources}")
    return sources[0], sources[1:]


def scale_score(runs: Sequence[dict], min_validity: float = 0.99) -> tuple[bool, float]:
    """Sort key of one guidance scale on a pseudo-task: validity >= ``min_validity`` first, then the
    mean pseudo-target accuracy of the pools (smoother over few seeds than "#trained to the optimum")."""
    s = summarise_runs(runs)
    return (s["validity"] >= min_validity, s["population"]["mean"])


def optimum_rank(scorer: Callable[[torch.Tensor], torch.Tensor], dataset: str,
                 benchmark: NB201Benchmark | None = None) -> int:
    """Position of ``dataset``'s optimum among all 15,625 cells ordered by ``scorer`` (1 = top); an
    evaluation of a ranking predictor, never used to tune one."""
    from nagkit.predictors.fit import nb201_matrices

    bench = benchmark or NB201Benchmark()
    scores = scorer(nb201_matrices()).detach().numpy()
    acc = np.asarray(bench.table(dataset, "test_acc"))[np.argsort(-scores, kind="stable")]
    return int(np.argmax(acc >= acc.max() - 1e-6)) + 1


def choose_scale(target: str, grid: Sequence[float], seeds: Sequence[int], config: TransferConfig,
                 executor=None) -> tuple[float, list[dict]]:
    """Guidance scale for ``target`` chosen on the pseudo-task of its LODO sources (largest
    :func:`scale_score`; the smaller scale on ties). Returns the scale and one row per grid value."""
    pseudo_target, pseudo_sources = pseudo_task(lodo_sources(target))
    items = [{"dataset": pseudo_target, "sources": pseudo_sources, "seed": s, "config": replace(config, scale=w)}
             for w in grid for s in seeds]
    runs = (executor or get_executor()).map(run_seed, items, desc=f"scale for {target}")
    table, best = [], None
    for i, w in enumerate(grid):
        part = runs[i * len(seeds):(i + 1) * len(seeds)]
        key = scale_score(part)
        s = summarise_runs(part)
        table.append({"target": target, "pseudo_target": pseudo_target, "pseudo_sources": pseudo_sources, "scale": w,
                      "validity": s["validity"], "uniqueness": s["uniqueness"],
                      "reached_within_3": s["reached_within_3"],
                      "acc_after_1": s["acc_after_1_summary"]["mean"], "population_mean": s["population"]["mean"]})
        if best is None or key > best[0]:
            best = (key, w)
    return best[1], table


def parse_guide(spec: str) -> tuple[str, float]:
    """``"name[=weight]"`` -> (name, weight); the name must be an NB201 dataset."""
    name, _, weight = spec.partition("=")
    if name not in DATASETS:
        raise KeyError(f"unknown guidance objective {name!r}; valid: {list(DATASETS)} "
                       "(maximise the LODO surrogate of that dataset's accuracy), optionally =weight")
    try:
        value = float(weight) if weight else 1.0
    except ValueError:
        raise ValueError(f"bad weight in --guide {spec!r}: expected name=number") from None
    if not 0 <= value < math.inf:
        raise ValueError(f"bad weight in --guide {spec!r}: must be a finite number >= 0")
    return name, value


def accuracy_objectives(specs: Sequence[str], config: SurrogateConfig, seed: int = 0) -> list[Objective]:
    """One ``maximize`` objective per ``"dataset[=weight]"``: the noise-aware LODO surrogate of
    that dataset's accuracy (trained on the other NB201 datasets)."""
    objectives = []
    for spec in specs:
        name, weight = parse_guide(spec)
        noise = lodo_surrogates(name, config, seed)["noise"]
        objectives.append(Objective(noise.predict, "maximize", weight))
    return objectives
