import math

import numpy as np
import pytest

from nagkit.benchmarks import Ledger, NB201Benchmark
from nagkit.stats import summarise

OPT_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
OPT_C100 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
OPT_IMG = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ZERO = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def bench():
    return NB201Benchmark()


def test_known_optima(bench):
    assert bench.query(OPT_C10, "cifar10", "test_acc") == pytest.approx(94.3733, abs=1e-4)
    assert bench.query(OPT_C100, "cifar100", "test_acc") == pytest.approx(73.5133, abs=1e-4)
    assert bench.query(OPT_IMG, "ImageNet16-120", "test_acc") == pytest.approx(47.3111, abs=1e-4)
    assert bench.optimum("cifar10") == (OPT_C10, pytest.approx(94.37333, abs=1e-5))
    assert bench.query(ZERO, "cifar10", "test_acc") == pytest.approx(10.0)


def test_validation_per_seed_and_mean(bench):
    seeds = [bench.query(OPT_C10, "cifar10", "val_acc", s) for s in (777, 888, 999)]
    assert bench.query(OPT_C10, "cifar10", "val_acc") == pytest.approx(np.mean(seeds))
    assert 91.0 < np.mean(seeds) < 92.0
    assert len(set(seeds)) == 3


def test_missing_seed_is_an_error_not_a_nan(bench):
    table = bench.tables.values["cifar10"]["val_acc"]
    i = int(np.flatnonzero(np.isnan(table[:, 2]))[0])
    arch = bench.space.enumerate()[i]
    with pytest.raises(KeyError, match="for seed 999"):
        bench.query(arch, "cifar10", "val_acc", seed=999)
    assert not math.isnan(bench.query(arch, "cifar10", "val_acc"))


def test_costs(bench):
    assert bench.query(OPT_C10, "cifar10", "params") == pytest.approx(1.073466)
    assert bench.query(ZERO, "cifar10", "params") < bench.query(OPT_C10, "cifar10", "params")
    assert bench.query(OPT_C10, "cifar10", "train_time") > 0
    assert 0 < bench.query(OPT_C10, "cifar10", "latency") < 1


def test_tables_have_full_coverage(bench):
    for d in bench.datasets:
        for m in ("val_acc", "test_acc", "train_time", "latency", "params"):
            assert bench.table(d, m).shape == (15625,)
            assert not np.isnan(bench.table(d, m)).any()


def test_bad_names(bench):
    with pytest.raises(KeyError, match="valid: \\['cifar10', 'cifar100', 'ImageNet16-120'\\]"):
        bench.query(OPT_C10, "imagenet", "test_acc")
    with pytest.raises(KeyError, match="valid: \\['val_acc'"):
        bench.query(OPT_C10, "cifar10", "accuracy")
    with pytest.raises(KeyError, match="unknown nb201 seed 1"):
        bench.query(OPT_C10, "cifar10", "val_acc", seed=1)
    with pytest.raises(ValueError, match="only published as the mean"):
        bench.query(OPT_C10, "cifar10", "test_acc", seed=777)
    with pytest.raises(ValueError, match="bad token"):
        bench.query(OPT_C10.replace("skip_connect", "skip"), "cifar10", "test_acc")


def test_ledger_counts_distinct_trainings(bench):
    ledger = Ledger(bench, "cifar10")
    archs = bench.space.enumerate()[:3]
    r1 = ledger.train(archs[0])
    ledger.train(archs[1])
    again = ledger.train(archs[0])
    assert again == r1 and ledger.n_trained == 2
    expected = sum(bench.query(a, "cifar10", "train_time") for a in archs[:2])
    assert ledger.seconds == pytest.approx(expected)
    ledger.train(OPT_C10)
    assert ledger.n_trained == 3 and ledger.trained_until(94.37) == 3
    assert ledger.incumbent().arch == OPT_C10
    traj = ledger.trajectory()
    assert [t["n_trained"] for t in traj] == [1, 2, 3]
    assert traj[-1]["test_acc"] == pytest.approx(94.3733, abs=1e-4)
    assert all(a["val_acc"] <= b["val_acc"] for a, b in zip(traj, traj[1:]))


def test_ledger_rejects_unknown_dataset(bench):
    with pytest.raises(KeyError):
        Ledger(bench, "mnist")


def test_summarise():
    s = summarise([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["n"] == 3
    assert s["ci95"] == pytest.approx(1.96 * 1.0 / 3**0.5)
