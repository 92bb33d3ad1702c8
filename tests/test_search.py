"""Search strategies, acquisition functions and optimisers, anytime curves, ``nagkit search``."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from nagkit.benchmarks import Ledger, NB201Benchmark
from nagkit.cli import main
from nagkit.executor import get_executor
from nagkit.search import (STRATEGIES, Acquisition, AcquisitionScorer, MutationPool, PathEncoding, RandomPool,
                           get_strategy, mutate, neighbours)
from nagkit.search.acquisition import (expected_improvement, get_optimiser, probability_of_improvement,
                                       upper_confidence_bound)
from nagkit.search.anytime import run_grid, summarise_runs
from nagkit.search.bananas import MLPEnsemble, normal_scores, onehot_encoding
from nagkit.search.gpbo import GPSurrogate
from nagkit.spaces import get_space

# Small but real configurations: the BO methods fit their surrogates every round.
TINY = {"rs": {}, "rea": {"population": 10, "sample_size": 3}, "ls": {},
        "bananas": {"epochs": 50, "pool": 50}, "gpbo": {"pool": 50, "n_init": 8, "batch": 2}}


def _run(bench: NB201Benchmark, name: str, budget: int, seed: int, dataset: str = "cifar10", **config) -> Ledger:
    ledger = Ledger(bench, dataset)
    get_strategy(name, **config).run(ledger, budget, torch.Generator().manual_seed(seed))
    return ledger


def test_registry_lists_all_methods():
    assert {"rs", "rea", "ls", "bananas", "gpbo"} <= set(STRATEGIES)
    with pytest.raises(KeyError, match="valid"):
        get_strategy("nope")


def test_random_search_imports_only_what_it_needs():
    """Registries are lazy: one strategy never pulls in the transfer, GP or graph-network stacks."""
    code = ("import sys, nagkit.search.random_search; heavy = ('nagkit.transfer', 'nagkit.diffusion', "
            "'nagkit.predictors', 'botorch', 'gpytorch', 'torch_geometric', 'scipy'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_anytime_runs_on_the_benchmark_of_the_task_space(monkeypatch):
    import nagkit.search.anytime as anytime

    task = {"label": "RS", "spec": {"name": "rs"}, "dataset": "cifar10", "seed": 0, "budget": 5, "val_seed": None}
    assert anytime.task_key(task) == anytime.task_key({**task, "space": "nb201"})  # NB201 keys are unchanged
    assert anytime.task_key(task) != anytime.task_key({**task, "space": "other"})
    assert anytime.run_one({**task, "space": "nb201"})["test_acc"] == anytime.run_one(task)["test_acc"]
    with pytest.raises(KeyError, match="no tabular benchmark"):
        anytime.run_one({**task, "space": "mbv3"})
    assert {t["space"] for t in anytime.make_tasks({"RS": {"name": "rs"}}, ["cifar10"], [0], 5)} == {"nb201"}


@pytest.mark.parametrize("name", sorted(TINY))
def test_strategy_is_deterministic_and_within_budget(bench, name):
    budget = 14 if name == "gpbo" else 20
    a = _run(bench, name, budget, seed=3, **TINY[name])
    b = _run(bench, name, budget, seed=3, **TINY[name])
    assert a.trajectory() == b.trajectory()
    assert [r.arch for r in a.history] == [r.arch for r in b.history]
    # the ledger counts distinct trainings and the strategy stops exactly at its budget
    assert a.n_trained == budget == len({r.arch for r in a.history})
    assert a.seconds == pytest.approx(sum(r.train_seconds for r in a.history))
    other = _run(bench, name, budget, seed=4, **TINY[name])
    assert [r.arch for r in other.history] != [r.arch for r in a.history]


def test_budget_is_checked(bench):
    with pytest.raises(ValueError, match="budget"):
        _run(bench, "rs", 0, seed=0)
    ledger = _run(bench, "rs", 5, seed=0)
    with pytest.raises(ValueError, match="already holds"):
        get_strategy("rea").run(ledger, 5, torch.Generator().manual_seed(0))


def test_mutate_and_neighbours_change_one_edge(space):
    arch = space.sample(1, torch.Generator().manual_seed(0))[0]
    near = neighbours(space, arch)
    assert len(near) == len(set(near)) == 6 * 4  # six edges, four other ops each
    x = space.encode(arch)
    for other in near:
        assert int((space.encode(other) != x).any(dim=1).sum()) == 1
    g = torch.Generator().manual_seed(1)
    assert {mutate(space, arch, g) for _ in range(300)} == set(near)


def test_mutation_is_space_generic():
    """The same helpers work on MobileNetV3 (zero rows = unused slots, so depths change too)."""
    mbv3 = get_space("mbv3")
    g = torch.Generator().manual_seed(0)
    arch = mbv3.sample(1, g)[0]
    x = mbv3.encode(arch)
    for other in [mutate(mbv3, arch, g) for _ in range(20)] + neighbours(mbv3, arch)[:20]:
        assert other != arch and int((mbv3.encode(other) != x).any(dim=1).sum()) == 1
    with pytest.raises(ValueError, match="onehot"):
        PathEncoding(mbv3)  # a 20-node chain: far too many paths


def test_path_encoding_nb201(space):
    enc = PathEncoding(space)
    assert enc.paths == [(0, 1, 3, 6, 7), (0, 1, 5, 7), (0, 2, 6, 7), (0, 4, 7)]
    assert enc.dim == 5**3 + 5**2 + 5**2 + 5
    x = space.encode_batch(space.sample(50, torch.Generator().manual_seed(0)))
    feats = enc(x)
    assert torch.equal(feats.sum(1), torch.full((50,), 4.0))  # one op sequence per path
    # distinct cells get distinct encodings
    assert len({tuple(f.tolist()) for f in feats}) == len({space.decode(xi) for xi in x})


def test_acquisition_functions_on_hand_made_inputs():
    mean = torch.tensor([1.0, 0.0, -1.0, 2.0])
    std = torch.tensor([1.0, 1.0, 1.0, 0.0])
    ei = expected_improvement(mean, std, best=1.0)
    phi0 = 1 / math.sqrt(2 * math.pi)
    assert ei[0] == pytest.approx(phi0)  # mean == best: std * pdf(0)
    assert ei[3] == pytest.approx(1.0)  # no uncertainty: the plain improvement
    assert ei[1] == pytest.approx(-1 * 0.158655 + 0.241971, abs=1e-5)  # gain*Phi(-1) + pdf(-1)
    assert bool((ei[:3].diff() < 0).all())
    assert expected_improvement(torch.tensor([0.0]), torch.tensor([0.0]), best=1.0).item() == 0.0
    pi = probability_of_improvement(mean, std, best=1.0)
    assert pi[0] == pytest.approx(0.5) and pi[1] == pytest.approx(0.158655, abs=1e-5) and pi[3] == 1.0
    assert torch.equal(upper_confidence_bound(mean, std, kappa=2.0), torch.tensor([3.0, 2.0, 1.0, 2.0]))
    its = Acquisition("its")
    draws = its(mean, std, 1.0, torch.Generator().manual_seed(0))
    assert draws[3] == 2.0 and torch.equal(draws, its(mean, std, 1.0, torch.Generator().manual_seed(0)))
    with pytest.raises(KeyError, match="valid"):
        Acquisition("foo")
    # differentiable (guided optimisers need the gradient)
    m = mean.clone().requires_grad_()
    expected_improvement(m, std, best=1.0).sum().backward()
    assert bool((m.grad[:3] > 0).all())


def test_normal_scores():
    z = normal_scores(torch.tensor([10.0, 90.0, 50.0, 91.0], dtype=torch.float64))
    assert torch.equal(torch.argsort(z), torch.tensor([0, 2, 1, 3]))
    assert z.sum().item() == pytest.approx(0.0, abs=1e-12)


class _Oracle:
    """A 'surrogate' that knows the op count of one type (for optimiser tests)."""

    def fit(self, x, y, generator):
        pass

    def predict(self, x):
        score = x[:, :, 5].sum(dim=1)  # number of nor_conv_3x3 nodes
        return score, torch.zeros_like(score)


def test_optimisers_respect_pool_and_exclusions(space):
    scorer = AcquisitionScorer(_Oracle(), Acquisition("ucb"), best=0.0)
    g = torch.Generator().manual_seed(0)
    archs = space.sample(20, g)
    values = torch.arange(20, dtype=torch.float64)
    out = MutationPool(size=100, parents=3).propose(space, scorer, archs, values, 4, set(archs), g)
    parents_near = set().union(*(neighbours(space, a) for a in archs[-3:]))
    assert len(out) == 4 and set(out) <= parents_near and not set(out) & set(archs)
    rand = RandomPool(size=300).propose(space, scorer, archs, values, 5, set(), g)
    assert [space.encode(a)[:, 5].sum().item() for a in rand] == sorted(
        [space.encode(a)[:, 5].sum().item() for a in rand], reverse=True)
    assert space.encode(rand[0])[:, 5].sum() >= 4  # the best of 300 random cells
    with pytest.raises(KeyError, match="valid"):
        get_optimiser("diffusion-not-yet")


@pytest.mark.parametrize("make", [lambda s: MLPEnsemble(onehot_encoding, epochs=300), lambda s: GPSurrogate()])
def test_surrogates_learn_a_simple_property(space, make):
    g = torch.Generator().manual_seed(0)
    train = space.encode_batch(space.sample(60, g))
    y = train[:, :, 5].sum(dim=1).double()  # number of 3x3 convolutions
    model = make(space)
    model.fit(train, y, g)
    test = space.encode_batch(space.sample(200, g))
    mean, std = model.predict(test)
    truth = test[:, :, 5].sum(dim=1).double()
    assert mean.shape == std.shape == (200,) and bool((std >= 0).all())
    assert np.corrcoef(mean.detach().numpy(), truth.numpy())[0, 1] > 0.9


def test_local_search_evolution_and_bananas_beat_random_search(bench):
    """Mean incumbent test accuracy on CIFAR-10 (measured when this test was sized). RS, REA and LS are table
    lookups with integer random draws, identical on every machine: over seeds 0-9 at budget 60, RS 93.78,
    REA 94.14, LS 94.17 (at budget 100 over 20 seeds: 93.88 / 94.19 / 94.30). BANANAS (budget 30, 50 epochs)
    fits MLPs, so its runs vary across CPUs: over seeds 0-7 its paired gain over RS was 0.17-1.32 (mean 0.60,
    sd 0.45), so the mean gain stays above 0.1 unless BANANAS loses about 3 standard errors."""
    final = {name: np.mean([_run(bench, name, 60, s).incumbent().test_acc for s in range(10)])
             for name in ("rs", "rea", "ls")}
    assert final["rea"] > final["rs"] + 0.15 and final["ls"] > final["rs"] + 0.15
    rs30 = np.mean([_run(bench, "rs", 30, s).incumbent().test_acc for s in range(8)])
    ban30 = np.mean([_run(bench, "bananas", 30, s, epochs=50).incumbent().test_acc for s in range(8)])
    assert ban30 > rs30 + 0.1


def test_anytime_summary_is_json_ready():
    methods = {"RS": {"name": "rs"}, "LS": {"name": "ls", "budget": 15}}
    runs = run_grid(methods, ["cifar10", "cifar100"], [0, 1], 20, get_executor("serial", progress=False))
    assert len(runs) == 8 and {r["budget"] for r in runs if r["label"] == "LS"} == {15}
    summary = summarise_runs(runs)
    entry = summary["cifar100"]["LS"]
    assert entry["by_count"]["n_trained"] == list(range(1, 16)) and len(entry["by_count"]["ci95"]) == 15
    assert entry["trained_until_optimum"]["runs"] == 2
    times = entry["by_time"]["seconds"]
    assert times == sorted(times)
    # incumbent test accuracy at a count equals the runs' mean
    at5 = np.mean([r["test_acc"][4] for r in runs if r["label"] == "LS" and r["dataset"] == "cifar100"])
    assert entry["by_count"]["mean"][4] == pytest.approx(at5)
    json.dumps(summary)


def test_run_grid_cache_resumes_and_keys_on_the_task(tmp_path, monkeypatch):
    import nagkit.search.anytime as anytime

    methods = {"RS": {"name": "rs"}}
    serial = get_executor("serial", progress=False)
    first = run_grid(methods, ["cifar10"], [0, 1], 12, serial, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2

    def fail(task):
        raise AssertionError("a cached run was recomputed")

    monkeypatch.setattr(anytime, "run_one", fail)
    again = run_grid({"random": {"name": "rs"}}, ["cifar10"], [0, 1], 12, serial, cache_dir=tmp_path)
    assert [r["label"] for r in again] == ["random", "random"]  # the label is not part of the key
    assert [r["test_acc"] for r in again] == [r["test_acc"] for r in first]
    with pytest.raises(AssertionError, match="recomputed"):  # another seed is a new task
        run_grid(methods, ["cifar10"], [2], 12, serial, cache_dir=tmp_path)
    monkeypatch.setattr(anytime, "code_fingerprint", lambda: "edited code")
    with pytest.raises(AssertionError, match="recomputed"):  # so is the same task after a code change
        run_grid(methods, ["cifar10"], [0], 12, serial, cache_dir=tmp_path)


def test_cli_search(capsys):
    assert main(["search", "--method", "rea", "--budget", "25", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["trajectory"]) == 25 and out["trajectory"][-1]["n_trained"] == 25
    vals = [t["val_acc"] for t in out["trajectory"]]
    assert vals == sorted(vals)  # the incumbent is chosen by validation accuracy
    assert main(["search", "--method", "ls", "--budget", "5"]) == 0
    assert "incumbent" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--method", "foo"], ["--method", "rs", "--dataset", "mnist"],
                                  ["--method", "rs", "--budget", "0"]])
def test_cli_bad_input_exits_2(capsys, argv):
    assert main(["search", *argv]) == 2
    assert "error" in capsys.readouterr().err
