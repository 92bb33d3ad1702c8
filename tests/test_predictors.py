"""Predictors: encoder on any space, noise-aware gradients, set encoder, fitting, LODO surrogates."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nagkit.benchmarks import NB201Benchmark
from nagkit.diffusion.sde import VESDE
from nagkit.predictors import (
    EncoderConfig,
    FitConfig,
    Predictor,
    PredictorConfig,
    SetEncoder,
    SetEncoderConfig,
    SurrogateConfig,
    evaluate,
    fit_predictor,
    noised,
    rank_correlation,
)
from nagkit.spaces import get_space
from nagkit.spaces.base import SearchSpace
from nagkit.transfer.lodo import (
    heldout_correlation,
    lodo_sources,
    lodo_surrogates,
    source_objective,
    space_matrices,
    split,
    train_surrogate,
)

SMALL = EncoderConfig(hidden=32, layers=2)


class ChainSpace(SearchSpace):
    """A chain of 6 slots over 3 types where trailing slots may be unused (all-zero rows)."""

    name = "chain"
    vocab = ("a", "b", "c")

    def __init__(self) -> None:
        self.adjacency = torch.diag(torch.ones(5, dtype=torch.bool), 1)

    def encode(self, arch: str) -> torch.Tensor:
        x = torch.zeros(self.shape)
        for i, ch in enumerate(arch):
            x[i, self.vocab.index(ch)] = 1.0
        return x

    def decode(self, x: torch.Tensor) -> str:
        return "".join(self.vocab[int(r.argmax())] for r in x if r.sum() > 0)

    def validate(self, x: torch.Tensor) -> str | None:
        return None

    def canonical(self, arch: str) -> str:
        return arch

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        lengths = torch.randint(2, 7, (n,), generator=generator).tolist()
        return ["".join(self.vocab[int(i)] for i in torch.randint(0, 3, (k,), generator=generator)) for k in lengths]


@pytest.mark.parametrize("space", [get_space("nb201"), ChainSpace()], ids=["nb201", "chain"])
@pytest.mark.parametrize("conv", ["gcn", "dirgcn"])
def test_predictor_shapes_on_any_space(space: SearchSpace, conv: str) -> None:
    model = Predictor(space, PredictorConfig(encoder=EncoderConfig(hidden=16, layers=4, conv=conv)))
    x = space.encode_batch(space.sample(5, torch.Generator().manual_seed(0)))
    out = model(x)
    assert out.shape == (5,) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="not noise-aware"):
        model(x, sigma=torch.ones(5))


@pytest.mark.parametrize("space", [get_space("nb201"), ChainSpace()], ids=["nb201", "chain"])
def test_noise_aware_gradient_wrt_xt_is_finite_and_nonzero(space: SearchSpace) -> None:
    torch.manual_seed(0)
    model = Predictor(space, PredictorConfig(encoder=SMALL, noise_aware=True))
    x = space.encode_batch(space.sample(4, torch.Generator().manual_seed(1)))
    sde = VESDE(0.1, 5.0)
    xt, sigma = noised(x, sde, torch.tensor([1e-5, 0.3, 0.7, 1.0]), torch.Generator().manual_seed(2))
    xt.requires_grad_(True)
    grad, = torch.autograd.grad(model(xt, sigma).sum(), xt)
    assert grad.shape == x.shape and torch.isfinite(grad).all()
    assert (grad.abs().flatten(1).sum(dim=1) > 0).all()
    with pytest.raises(ValueError, match="needs sigma"):
        model(xt)


def test_noise_level_changes_the_prediction() -> None:
    torch.manual_seed(0)
    space = get_space("nb201")
    model = Predictor(space, PredictorConfig(encoder=SMALL, noise_aware=True))
    x = space.encode_batch(space.sample(3, torch.Generator().manual_seed(0))) * 2 - 1
    assert not torch.allclose(model(x, torch.full((3,), 0.1)), model(x, torch.full((3,), 5.0)))


def test_set_encoder_is_permutation_invariant() -> None:
    torch.manual_seed(0)
    enc = SetEncoder(SetEncoderConfig(feature_dim=12, hidden=8, heads=2, out_dim=56))
    d = torch.randn(2, 5, 7, 12)
    out = enc(d)
    assert out.shape == (2, 56)
    shuffled = d[:, torch.randperm(5)][:, :, torch.randperm(7)]
    assert torch.allclose(enc(shuffled), out, atol=1e-5)
    assert not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match="dataset features"):
        enc(d[0])


def test_dataset_aware_predictor_broadcasts_one_dataset() -> None:
    torch.manual_seed(0)
    space = get_space("nb201")
    model = Predictor(space, PredictorConfig(encoder=SMALL, dataset=SetEncoderConfig(feature_dim=12, hidden=8, heads=2)))
    x = space.encode_batch(space.sample(6, torch.Generator().manual_seed(0)))
    d = torch.randn(1, 4, 5, 12)
    assert model(x, dataset=d).shape == (6,)
    assert not torch.allclose(model(x, dataset=d), model(x, dataset=torch.randn(1, 4, 5, 12)))
    with pytest.raises(ValueError, match="needs dataset"):
        model(x)


def _synthetic(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """NB201 cells with a structured target: 3x3 convs on the path into the output, minus 'none' ops."""
    space = get_space("nb201")
    x = space.encode_batch(space.sample(n, torch.Generator().manual_seed(seed)))
    y = 2 * x[:, [4, 5, 6], 5].sum(1) + x[:, 1:7, 4].sum(1) - 1.5 * x[:, 1:7, 2].sum(1)
    return x, y


def test_fit_learns_and_evaluate_reports_rank_correlation() -> None:
    x, y = _synthetic(600, 0)
    xv, yv = _synthetic(300, 1)
    torch.manual_seed(0)
    model = Predictor(get_space("nb201"), PredictorConfig(encoder=SMALL))
    before = evaluate(model, xv, yv)
    losses = fit_predictor(model, x, y, FitConfig(steps=250, batch_size=64, lr=3e-3, progress=False))
    after = evaluate(model, xv, yv)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert after["spearman"] > 0.85 and after["spearman"] > before["spearman"]
    assert after["n"] == 300 and -1 <= after["kendall"] <= 1
    pred = model.predict(xv).detach()
    assert abs(float(pred.mean()) - float(yv.mean())) < 0.5 * float(yv.std())  # back in target units


def test_noise_aware_fit_ranks_better_at_low_noise() -> None:
    x, y = _synthetic(600, 0)
    xv, yv = _synthetic(300, 1)
    torch.manual_seed(0)
    model = Predictor(get_space("nb201"), PredictorConfig(encoder=SMALL, noise_aware=True))
    sde = VESDE(0.1, 5.0)
    with pytest.raises(ValueError, match="sde"):
        fit_predictor(model, x, y, FitConfig(steps=1, progress=False))
    fit_predictor(model, x, y, FitConfig(steps=300, batch_size=64, lr=3e-3, progress=False), sde)
    low, high = evaluate(model, xv, yv, sde, t=1e-5), evaluate(model, xv, yv, sde, t=1.0)
    assert low["spearman"] > 0.6 and low["spearman"] > high["spearman"] + 0.2


def test_rank_correlation_matches_known_values() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert rank_correlation(np.exp(y), y)["spearman"] == pytest.approx(1.0)
    assert rank_correlation(-y, y)["kendall"] == pytest.approx(-1.0)


def test_split_is_seeded_and_disjoint() -> None:
    a, b = split(100, 0)
    assert len(a) == 100 and len(b) == 15525 and not set(a.tolist()) & set(b.tolist())
    assert torch.equal(split(100, 0)[0], a) and not torch.equal(split(100, 1)[0], a)


def test_source_objective_averages_standardised_sources() -> None:
    assert lodo_sources("cifar10") == ("cifar100", "ImageNet16-120")
    obj = source_objective(("cifar100", "ImageNet16-120"))
    assert obj.shape == (15625,) and abs(obj.mean()) < 1e-9
    c10 = NB201Benchmark().table("cifar10", "test_acc")
    assert rank_correlation(obj, c10)["spearman"] > 0.9  # the sources carry the target's ranking


class RecordingBenchmark(NB201Benchmark):
    """Serves NB201 tables and remembers which datasets were read."""

    def __init__(self) -> None:
        super().__init__()
        self.read = []

    def table(self, dataset: str, metric: str, seed: int | None = None):
        self.read.append(dataset)
        return super().table(dataset, metric, seed)


def test_lodo_surrogates_never_read_the_target_and_are_cached(tmp_path) -> None:
    config = SurrogateConfig(
        n_train=300, predictor=PredictorConfig(encoder=EncoderConfig(hidden=16, layers=2)),
        fit=FitConfig(steps=30, batch_size=64, progress=False), noise_fit=FitConfig(steps=30, batch_size=64, progress=False),
    )
    bench = RecordingBenchmark()
    first = lodo_surrogates("cifar10", config, seed=0, cache_dir=tmp_path, benchmark=bench)
    assert set(bench.read) == {"cifar100", "ImageNet16-120"}
    assert len(list(tmp_path.glob("*.pt"))) == 2
    assert first["clean"].config.noise_aware is False and first["noise"].config.noise_aware is True
    bench.read.clear()
    again = lodo_surrogates("cifar10", config, seed=0, cache_dir=tmp_path, benchmark=bench)
    assert bench.read == []  # loaded from the cache, nothing retrained
    x = space_matrices(bench)[first["heldout_idx"][:50]]
    assert torch.equal(first["clean"].predict(x), again["clean"].predict(x))
    corr = heldout_correlation(first["noise"], "cifar10", config, seed=0, t=1e-5, n_cells=500)
    assert corr["n"] == 500 and -1 <= corr["spearman"] <= 1
    train_surrogate(("cifar100", "ImageNet16-120"), False, config, seed=1, cache_dir=tmp_path, benchmark=bench)
    assert len(list(tmp_path.glob("*.pt"))) == 3
    with pytest.raises(ValueError, match="cannot be a source"):
        lodo_surrogates("cifar10", config, sources=("cifar10",), cache_dir=tmp_path)
