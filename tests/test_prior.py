"""The transfer prior of BO loops: initial design from a guided pool, a fading acquisition term."""
from __future__ import annotations

import json

import pytest
import torch

from nagkit.benchmarks import Ledger
from nagkit.cli import main
from nagkit.search import Acquisition, AcquisitionScorer, get_strategy
from nagkit.search.prior import PRIORS, PriorTerm, get_prior
from nagkit.transfer.predictors import Predictors
from nagkit.transfer.prior import TransferPrior

CONV3 = 5  # column of nor_conv_3x3 in the NB201 vocabulary


def conv3_count(x: torch.Tensor) -> torch.Tensor:
    """3x3 convolutions among the operation nodes (input and output node excluded)."""
    return x[:, 1:-1, CONV3].sum(dim=1)


def conv3_predictors() -> Predictors:
    """A stand-in prior that prefers 3x3 convolutions (clean and, on ``(x_t + 1) / 2``, noise-aware)."""
    return Predictors(rank=conv3_count, guide=lambda x_t, sigma: conv3_count((x_t + 1) / 2), label="conv3")


@pytest.fixture
def conv3_prior(monkeypatch):
    monkeypatch.setattr(TransferPrior, "predictors", lambda self, dataset, benchmark="nb201": conv3_predictors())


def test_config_is_validated():
    with pytest.raises(ValueError, match="unknown prior"):
        TransferPrior("cifar10")
    with pytest.raises(ValueError, match="decay"):
        TransferPrior(decay=0)
    with pytest.raises(KeyError, match="unknown prior"):
        get_prior("cifar10")


def test_priors_by_name_are_transfer_priors():
    assert list(PRIORS) == ["lodo", "imagenet16"]
    prior = get_prior("imagenet16", weight=2.0, decay=5.0)
    assert prior == TransferPrior("imagenet16", 2.0, 5.0)
    bo = get_strategy("bananas", prior="lodo", prior_weight=0.5, prior_scale=3.0)
    assert bo.prior == TransferPrior("lodo", weight=0.5, scale=3.0)
    assert get_strategy("bananas", prior=prior).prior is prior and get_strategy("bananas").prior is None
    with pytest.raises(ValueError, match="prior options"):
        get_strategy("bananas", prior=prior, prior_weight=2.0)


def test_term_fades_with_trained_cells():
    prior = TransferPrior(weight=2.0, decay=10.0)
    weights = [prior.term(conv3_predictors(), n).weight for n in (0, 10, 90)]
    assert weights == [2.0, 1.0, 0.2]


def test_scorer_adds_the_weighted_prior(space):
    class Flat:
        def predict(self, x):
            return torch.zeros(len(x)), torch.ones(len(x))

    x = space.encode_batch(space.sample(20, torch.Generator().manual_seed(0)))
    plain = AcquisitionScorer(Flat(), Acquisition("ucb"), 0.0)
    term = PriorTerm(conv3_count, lambda x_t, s: conv3_count(x_t), 0.5)
    with_prior = AcquisitionScorer(Flat(), Acquisition("ucb"), 0.0, prior=term)
    assert torch.allclose(with_prior(x) - plain(x), 0.5 * conv3_count(x).to(plain(x)))


def test_initial_design_trains_the_ranked_guided_pool(bench, space):
    ledger = Ledger(bench, "cifar10")
    TransferPrior(scale=1.0).initial_design(ledger, conv3_predictors(), 8, 100, torch.Generator().manual_seed(0))
    counts = [float(conv3_count(space.encode_batch([r.arch]))[0]) for r in ledger.history]
    assert ledger.n_trained == 8 and counts == sorted(counts, reverse=True)
    random = conv3_count(space.encode_batch(space.sample(200, torch.Generator().manual_seed(1))))
    assert sum(counts) / len(counts) > float(random.float().mean()) + 1.0  # guidance moved the pool


@pytest.mark.parametrize("method", ["diffusionnag-bo", "bananas"])
def test_strategies_with_a_prior_train_the_budget_deterministically(bench, conv3_prior, method):
    tiny = {"n_init": 6, "batch": 3, "epochs": 30, "prior": "lodo"}
    if method == "diffusionnag-bo":
        tiny |= {"samples": 40, "fit_steps": 50}
    runs = []
    for _ in range(2):
        ledger = Ledger(bench, "cifar10")
        get_strategy(method, **tiny).run(ledger, 12, torch.Generator().manual_seed(3))
        runs.append([r.arch for r in ledger.history])
    assert len(set(runs[0])) == 12 and runs[0] == runs[1]


def test_cli_search_with_a_prior(conv3_prior, capsys):
    assert main(["search", "--method", "bananas", "--prior", "lodo", "--budget", "12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["prior"] == "lodo" and len(out["trajectory"]) == 12
    assert main(["search", "--method", "rea", "--prior", "lodo", "--json"]) == 2
    assert "--prior works with" in capsys.readouterr().err
