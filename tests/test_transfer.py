import json

import numpy as np
import pytest
import torch

import nagkit.transfer.predictors as tp
import nagkit.transfer.protocol as tr
import nagkit.transfer.tuning as tt
from nagkit.benchmarks import NB201Benchmark, get_benchmark
from nagkit.cli import main
from nagkit.cli.transfer import parse_guide, parse_sources
from nagkit.diffusion.sample import SamplerConfig
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.predictors.encoder import EncoderConfig
from nagkit.predictors.fit import FitConfig, fit_predictor
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.transfer.lodo import lodo_sources, named_sources, space_matrices

BENCH = get_benchmark("nb201")
SPACE = BENCH.space
OPT_C10 = BENCH.optimum("cifar10")[0]
OTHERS = [a for a in SPACE.sample(40, torch.Generator().manual_seed(3)) if a != OPT_C10]


def scripted_generate(batches):
    """A stand-in for the sampler returning the given batches in turn, recording the guidance argument."""
    calls = []

    def fake(space, model, sde, n, generator, config, guidance=None):
        calls.append(guidance)
        out = batches[len(calls) - 1]
        assert len(out) == n == config.batch_size
        return list(out)

    return fake, calls


def oracle(dataset):
    """Clean 'predictor' that scores cells by their true accuracy (to test the loop, not the method)."""
    table = torch.as_tensor(BENCH.table(dataset, "test_acc"), dtype=torch.float32)

    def score(x):
        return table[[SPACE.index(SPACE.decode(m)) for m in x]]

    return score


def test_parse_sources():
    assert parse_sources("cifar10") == ("cifar100", "ImageNet16-120")
    assert parse_sources("cifar100", "imagenet16") == ("ImageNet16-120",)
    assert parse_sources("cifar10", "cifar100, ImageNet16-120") == ("cifar100", "ImageNet16-120")
    assert parse_sources("cifar10", ["cifar100", "cifar100"], BENCH) == ("cifar100",)
    with pytest.raises(ValueError, match="cannot be a source"):
        parse_sources("cifar10", "cifar10,cifar100")
    with pytest.raises(ValueError, match="cannot be a source"):
        parse_sources("ImageNet16-120", "imagenet16")
    with pytest.raises(KeyError, match="unknown source"):
        parse_sources("cifar10", "svhn")
    with pytest.raises(KeyError):
        parse_sources("svhn")


class TwoDatasets(NB201Benchmark):
    """A stand-in benchmark on NB201's space with two of its datasets (LODO needs no more)."""

    name = "two"
    datasets = ("cifar10", "cifar100")


def test_sources_come_from_the_benchmark():
    two = TwoDatasets()
    assert lodo_sources("cifar100", two) == ("cifar10",) == named_sources("cifar100", "lodo", two)
    with pytest.raises(KeyError, match="unknown two dataset"):
        lodo_sources("ImageNet16-120", two)
    with pytest.raises(KeyError, match="unknown source set"):
        named_sources("cifar10", "imagenet16", two)
    one = TwoDatasets()
    one.datasets = ("cifar10",)
    with pytest.raises(ValueError, match="at least two datasets"):
        lodo_sources("cifar10", one)


def test_config_validation():
    with pytest.raises(ValueError):
        tr.TransferConfig(n_unique=0)
    with pytest.raises(ValueError):
        tr.TransferConfig(scale=-1.0)
    with pytest.raises(ValueError):
        tr.TransferConfig(predictor="oracle")
    with pytest.raises(ValueError):
        tr.TransferConfig(schedule="cosine")
    assert tr.transfer_profile("paper").predictor == "metad2a"
    with pytest.raises(ValueError):
        tr.transfer_profile("huge")


def test_population_dedupes_counts_and_stops(monkeypatch):
    a, b, c, d = OTHERS[:4]
    fake, calls = scripted_generate([[a, None, a, b], [None, None, b, c], [d, a, None, d], [a] * 4])
    monkeypatch.setattr(tr, "generate", fake)
    cfg = tr.TransferConfig(n_unique=3, batch_size=4, scale=2.0)
    pop = tr.generate_population(None, None, lambda x, s: x.sum((1, 2)), cfg, torch.Generator(), SPACE)
    assert pop.archs == [a, b, c] and pop.n_batches == 2 and len(calls) == 2  # stops once 3 distinct exist
    assert pop.n_drawn == 8 and pop.n_valid == 5 and pop.validity == 5 / 8 and pop.uniqueness == 3 / 5
    assert all(callable(g) for g in calls)
    # unguided (scale 0) passes no guidance; the batch cap ends the loop when too few distinct cells come
    fake, calls = scripted_generate([[a] * 4] * 3)
    monkeypatch.setattr(tr, "generate", fake)
    pop = tr.generate_population(None, None, None, tr.TransferConfig(n_unique=3, batch_size=4, scale=0.0,
                                                                     max_batches=3), torch.Generator(), SPACE)
    assert pop.archs == [a] and pop.n_batches == 3 and calls == [None] * 3
    # the population keeps every distinct string (uniqueness counts them); the pool is its first n_unique
    fake, calls = scripted_generate([[a, b, c, d]])
    monkeypatch.setattr(tr, "generate", fake)
    pop = tr.generate_population(None, None, None, tr.TransferConfig(n_unique=2, batch_size=4, scale=0.0),
                                 torch.Generator(), SPACE)
    assert pop.archs == [a, b, c, d] and pop.n_valid_unique == 4 and pop.uniqueness == 1.0


def test_rank_orders_by_score_and_keeps_ties_stable():
    archs = OTHERS[:5]
    scores = torch.tensor([1.0, 3.0, 2.0, 3.0, 0.0])
    assert tr.rank(archs, lambda x: scores, SPACE) == [archs[1], archs[3], archs[2], archs[0], archs[4]]
    assert tr.rank([], lambda x: scores, SPACE) == []


def test_train_in_rank_order_stops_at_optimum_or_exhausts():
    ledger, until = tr.train_in_rank_order([OTHERS[0], OTHERS[1], OPT_C10, OTHERS[2]], "cifar10", BENCH)
    assert until == 3 and ledger.n_trained == 3 and ledger.history[-1].arch == OPT_C10
    ledger, until = tr.train_in_rank_order(OTHERS[:5], "cifar10", BENCH)
    assert until is None and ledger.n_trained == 5


def test_transfer_search_with_oracle_ranking(monkeypatch):
    pool = OTHERS[:6] + [OPT_C10]
    fake, _ = scripted_generate([pool[:4], pool[4:] + [None]])
    monkeypatch.setattr(tr, "generate", fake)
    preds = tp.Predictors(oracle("cifar10"), lambda x, s: x.sum((1, 2)), "oracle")
    cfg = tr.TransferConfig(n_unique=7, batch_size=4, scale=1.0)
    r = tr.transfer_search(None, None, preds, "cifar10", ("cifar100",), cfg, seed=0, benchmark=BENCH)
    acc = [BENCH.query(a, "cifar10", "test_acc") for a in pool]
    assert r.selected == OPT_C10 and r.trained_to_optimum == 1 and r.n_trained == 1
    assert r.acc_after_1 == pytest.approx(94.37, abs=0.01) and r.incumbent == OPT_C10
    assert r.simulated_seconds_to_optimum == pytest.approx(BENCH.query(OPT_C10, "cifar10", "train_time"))
    assert r.population == pytest.approx({"max": max(acc), "mean": float(np.mean(acc)), "min": min(acc)})
    assert r.validity == pytest.approx(7 / 8) and sorted(r.ranked) == sorted(pool)
    # a reversed ranking trains the whole pool before the optimum
    worst = tp.Predictors(lambda x: -oracle("cifar10")(x), preds.guide, "anti-oracle")
    fake, _ = scripted_generate([pool[:4], pool[4:] + [None]])
    monkeypatch.setattr(tr, "generate", fake)
    r = tr.transfer_search(None, None, worst, "cifar10", ("cifar100",), cfg, seed=0, benchmark=BENCH)
    assert r.trained_to_optimum == 7 and r.acc_after_1 == pytest.approx(min(acc))


def test_transfer_search_without_valid_samples_raises(monkeypatch):
    fake, _ = scripted_generate([[None] * 4] * 2)
    monkeypatch.setattr(tr, "generate", fake)
    preds = tp.Predictors(oracle("cifar10"), lambda x, s: x.sum((1, 2)), "oracle")
    with pytest.raises(ValueError, match="no valid architecture"):
        tr.transfer_search(None, None, preds, "cifar10", ("cifar100",),
                           tr.TransferConfig(batch_size=4, max_batches=2), benchmark=BENCH)


def test_summarise_runs_fractions():
    runs = [{"trained_to_optimum": u, "simulated_seconds_to_optimum": None if u is None else 10.0 * u,
             "acc_after_1": 90.0 + i, "population": {"max": 94.0, "mean": 90.0, "min": 80.0 + i},
             "validity": 1.0, "uniqueness": 0.9, "n_drawn": 16, "ranked": ["a"] * (6 + i),
             "seconds_spent": 100.0 + i} for i, u in enumerate([1, 3, None, 5])]
    s = tr.summarise_runs(runs)
    assert s["n_seeds"] == 4 and s["trained_to_optimum"] == [1, 3, None, 5]
    assert s["reached_within_1"] == 0.25 and s["reached_within_3"] == 0.5 and s["reached"] == 0.75
    assert s["population"]["min"] == pytest.approx(81.5) and s["acc_after_1_summary"]["mean"] == pytest.approx(91.5)
    assert s["trained_to_optimum_summary"]["n"] == 3
    assert s["budget"] == 9 and s["seconds_spent"] == [100.0, 101.0, 102.0, 103.0]
    with pytest.raises(ValueError):
        tr.summarise_runs([])


def test_pseudo_task_uses_sources_only():
    assert tt.pseudo_task(("cifar100", "ImageNet16-120")) == ("cifar100", ("ImageNet16-120",))
    with pytest.raises(ValueError):
        tt.pseudo_task(("ImageNet16-120",))


def test_loop_with_real_sampler_and_tiny_predictors():
    """End to end on the packaged score net with tiny predictors fitted here (not the paper's)."""
    x = space_matrices("nb201")[:300]
    y = torch.as_tensor(BENCH.table("cifar100", "test_acc")[:300], dtype=torch.float32)
    small = EncoderConfig(hidden=16, layers=1)
    clean = Predictor(SPACE, PredictorConfig(encoder=small))
    noise = Predictor(SPACE, PredictorConfig(encoder=small, noise_aware=True))
    fit = FitConfig(steps=10, progress=False)
    cfg = tr.TransferConfig(n_unique=5, batch_size=8, scale=0.05, sampler=SamplerConfig(steps=5))
    fit_predictor(clean, x, y, fit)
    fit_predictor(noise, x, y, fit, cfg.surrogate.sde())
    preds = tp.Predictors(lambda m: clean.predict(m).detach(), noise.predict, "tiny")
    model, sde = scorenet_and_sde("nb201")
    r = tr.transfer_search(model, sde, preds, "cifar10", ("cifar100",), cfg, seed=1, benchmark=BENCH)
    scores = clean.predict(SPACE.encode_batch(r.ranked)).detach()
    assert torch.all(scores[:-1] >= scores[1:]) and 1 <= len(r.ranked) <= 5
    assert r.n_trained == (r.trained_to_optimum or len(r.ranked)) and r.selected == r.ranked[0]
    assert 0.0 < r.validity <= 1.0 and r.n_drawn % 8 == 0
    assert r.population["min"] <= r.population["mean"] <= r.population["max"] <= 94.38


@pytest.fixture
def fake_cli(monkeypatch):
    fake, _ = scripted_generate([OTHERS[:9] + [OPT_C10, None]])
    monkeypatch.setattr(tr, "generate", fake)
    monkeypatch.setattr(tp, "load_predictors", lambda target, sources, config, seed=0, benchmark="nb201", device="cpu": tp.Predictors(
        oracle(target), lambda x, s: x.sum((1, 2)), " + ".join(sources)))
    monkeypatch.setattr(tr, "transfer_profile", lambda profile, **kw: tr.TransferConfig(batch_size=11, **kw))


def test_cli_transfer_json(fake_cli, capsys):
    assert main(["transfer", "--space", "nb201", "--dataset", "cifar10", "--seed", "2", "--source", "imagenet16",
                 "--guidance-scale", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("selected", "acc_after_1", "trained_to_optimum", "population", "validity", "incumbent_test_acc"):
        assert key in out
    assert out["sources"] == ["ImageNet16-120"] and out["scale"] == 3.0 and out["seed"] == 2
    assert out["selected"] == OPT_C10 and out["trained_to_optimum"] == 1 and out["validity"] == pytest.approx(10 / 11)
    assert set(out["population"]) == {"max", "mean", "min"}


def test_cli_transfer_bad_input_exit_2(fake_cli, capsys):
    assert main(["transfer", "--dataset", "svhn"]) == 2
    assert "valid:" in capsys.readouterr().err
    assert main(["transfer", "--dataset", "cifar10", "--source", "cifar10"]) == 2
    assert main(["transfer", "--dataset", "cifar10", "--source", "mnist"]) == 2
    assert main(["transfer", "--dataset", "cifar10", "--space", "mbv3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and err.count("error") == 3


def test_cli_generate_guide(tmp_path, monkeypatch, capsys):
    from nagkit.guidance import Objective

    seen = {}

    def fake_objectives(guides, config, seed=0, benchmark="nb201"):
        seen["guides"] = list(guides)
        return [Objective(lambda x, s: x.sum((1, 2)), weight=weight) for _, weight in guides]

    monkeypatch.setattr(tp, "accuracy_objectives", fake_objectives)
    out = tmp_path / "archs.txt"
    args = ["generate", "--space", "nb201", "--n", "8", "--steps", "3", "--out", str(out), "--json"]
    assert main(args + ["--guide", "cifar10=2", "--guide", "cifar100", "--guidance-scale", "0.5"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert seen["guides"] == [("cifar10", 2.0), ("cifar100", 1.0)] and res["guide"] == ["cifar10=2", "cifar100"]
    assert res["guidance_scale"] == 0.5 and res["n"] == 8
    assert main(args + ["--guide", "latency"]) == 2
    assert "valid: ['cifar10'" in capsys.readouterr().err
    assert main(args + ["--guide", "cifar10=abc"]) == 2
    assert main(["generate", "--space", "mbv3", "--n", "4", "--out", str(out), "--guide", "cifar10"]) == 2
    assert parse_guide("ImageNet16-120=0.25") == ("ImageNet16-120", 0.25)


def test_optimum_rank():
    table = torch.as_tensor(BENCH.table("cifar10", "test_acc"), dtype=torch.float64)
    assert tt.optimum_rank(lambda x: table, "cifar10", BENCH) == 1
    n_best = int((table >= table.max() - 1e-6).sum())  # the table has ties at the top
    assert tt.optimum_rank(lambda x: -table, "cifar10", BENCH) == 15625 - n_best + 1


def test_choose_scale_prefers_valid_then_pool_mean(monkeypatch):
    from nagkit.executor import get_executor

    outcome = {1.0: (1.0, 90.0), 2.0: (1.0, 92.0), 4.0: (0.9, 95.0)}  # w -> (validity, pool mean)
    seen = []

    def fake_run(item):
        seen.append((item["dataset"], item["sources"]))
        validity, mean = outcome[item["config"].scale]
        return {"trained_to_optimum": None, "simulated_seconds_to_optimum": None, "acc_after_1": mean,
                "population": {"max": mean, "mean": mean, "min": mean}, "validity": validity,
                "uniqueness": 1.0, "n_drawn": 16, "ranked": [], "seconds_spent": 0.0}

    monkeypatch.setattr(tt, "run_seed", fake_run)
    serial = get_executor("serial", progress=False)
    w, table = tt.choose_scale("cifar10", [1.0, 2.0, 4.0], [0, 1], tr.TransferConfig(), serial)
    assert w == 2.0 and len(table) == 3 and set(seen) == {("cifar100", ("ImageNet16-120",))}
