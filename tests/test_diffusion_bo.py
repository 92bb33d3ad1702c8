"""DiffusionNAG-BO: the noise-aware ensemble, the guided-generation optimiser, the strategy and its CLI."""
from __future__ import annotations

import json

import torch

from nagkit.benchmarks import Ledger
from nagkit.cli import main
from nagkit.diffusion.sde import VESDE
from nagkit.search import (OPTIMISERS, STRATEGIES, Acquisition, AcquisitionScorer, GuidedGeneration,
                           NoiseAwareEnsemble, get_optimiser, get_strategy)
from nagkit.search.bananas import MLPEnsemble, normal_scores, onehot_encoding
from nagkit.search.base import resolve

TINY = {"samples": 40, "fit_steps": 50, "epochs": 30, "n_init": 6, "batch": 3}


def test_registered():
    assert "diffusionnag-bo" in STRATEGIES and resolve(OPTIMISERS["guided"]) is GuidedGeneration
    assert isinstance(get_optimiser("guided", samples=8), GuidedGeneration)


def test_noise_aware_ensemble_learns_a_count_and_is_differentiable(space):
    """Target: number of 3x3 convolutions; at low noise the ensemble mean must track it."""
    sde = VESDE(0.1, 5.0)
    x = space.encode_batch(space.sample(300, torch.Generator().manual_seed(0)))
    y = x[:, :, 5].sum(dim=1)
    ens = NoiseAwareEnsemble(members=3, steps=300)
    ens.fit(x, y, sde, torch.Generator().manual_seed(1))
    test = space.encode_batch(space.sample(200, torch.Generator().manual_seed(2)))
    x_t = (test * 2 - 1).requires_grad_(True)
    mean, std = ens.predict(x_t, torch.full((200,), 0.1))
    assert mean.shape == std.shape == (200,) and bool((std >= 0).all())
    truth = test[:, :, 5].sum(dim=1)
    assert torch.corrcoef(torch.stack([mean.detach(), truth]))[0, 1] > 0.8
    (grad,) = torch.autograd.grad(mean.sum(), x_t)
    assert bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0


def test_guided_optimiser_proposes_valid_unseen_distinct(bench, space):
    gen = torch.Generator().manual_seed(0)
    archs = space.sample(12, gen)
    values = torch.tensor([bench.query(a, "cifar10", "val_acc") for a in archs], dtype=torch.float64)
    model = MLPEnsemble(onehot_encoding, members=3, epochs=30)
    targets = normal_scores(values)
    model.fit(space.encode_batch(archs), targets, gen)
    scorer = AcquisitionScorer(model, Acquisition("ucb"), float(targets.max()))
    out = GuidedGeneration(samples=40, fit_steps=50).propose(space, scorer, archs, values, 5, set(archs), gen)
    assert 1 <= len(out) <= 5 and len(set(out)) == len(out)
    assert not set(out) & set(archs)
    assert all(space.decode(space.encode(a)) == a for a in out)


def test_strategy_trains_exactly_the_budget_and_is_deterministic(bench):
    ledgers = []
    for _ in range(2):
        ledger = Ledger(bench, "cifar10")
        get_strategy("diffusionnag-bo", **TINY).run(ledger, 12, torch.Generator().manual_seed(3))
        ledgers.append(ledger)
    assert ledgers[0].n_trained == 12 and len({r.arch for r in ledgers[0].history}) == 12
    assert [r.arch for r in ledgers[0].history] == [r.arch for r in ledgers[1].history]


def test_cli_diffusionnag_bo_json(capsys):
    assert main(["search", "--method", "diffusionnag-bo", "--budget", "12", "--seed", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"method", "dataset", "budget", "seed", "trajectory", "final_arch", "optimum",
            "trained_until_optimum", "seconds_until_optimum"} <= set(out)
    assert out["method"] == "diffusionnag-bo" and len(out["trajectory"]) == 12


def test_cli_bad_method_exits_2(capsys):
    assert main(["search", "--method", "diffusionnag", "--json"]) == 2
    assert "diffusionnag-bo" in capsys.readouterr().err
