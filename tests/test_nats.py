"""load_nats_tables on small fake files in the official NATS-Bench tss format (written with nats_bench's
own classes and pickle_save, read back through nats_bench.create)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nats_bench import ArchResults, ResultsCount, pickle_save

from nagkit.benchmarks import Ledger, NB201Benchmark
from nagkit.benchmarks.nats import PER_SEED, SEARCH_SPLIT, load_nats_tables, nats_benchmark
from nagkit.benchmarks.nb201 import DATASETS, SEEDS
from nagkit.spaces.nb201 import NB201Space

N = 5
# Each split's evaluation sets, as in NATS-Bench; "test" names the set behind 'test-accuracy'.
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
TEST_SET = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}
CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
MISSING = {(2, "cifar100", 999), (3, "cifar10-valid", 888)}  # (cell, split, seed) runs left out


def _run(rng: np.random.Generator, arch: str, split: str, seed: int, epochs: int, params: float) -> tuple:
    """One ResultsCount with random final values; returns it and what the loader should read."""
    final = {name: float(rng.uniform(20, 95)) for name in ("train", *EVAL_SETS[split])}
    curve = np.linspace(0.2, 1.0, epochs)
    per_epoch, latency = float(rng.uniform(5, 20)), float(rng.uniform(0.005, 0.03))
    config = {"arch_str": arch, "channel": 16, "num_cells": 5, "class_num": CLASSES[split]}
    result = ResultsCount(split, None, {e: final["train"] * c for e, c in enumerate(curve)},
                          {e: 1.0 / c for e, c in enumerate(curve)}, params, 100 * params, config, seed,
                          epochs, [latency])
    result.reset_pseudo_train_times(per_epoch)
    keys = {f"{name}@{e}": (name, c) for name in EVAL_SETS[split] for e, c in enumerate(curve)}
    result.update_eval({k: final[n] * c for k, (n, c) in keys.items()}, {k: 1.0 / c for k, (_, c) in keys.items()},
                       {k: 0.5 for k in keys})
    return result, {**final, "train_time": per_epoch * epochs, "latency": latency}


def _cell(rng: np.random.Generator, i: int, arch: str, epochs: int) -> tuple[ArchResults, dict]:
    cell, truth = ArchResults(i, arch), {}
    for split in EVAL_SETS:
        params = float(rng.uniform(0.1, 1.5))
        for seed in SEEDS:
            if (i, split, seed) not in MISSING:
                result, truth[split, seed] = _run(rng, arch, split, seed, epochs, params)
                truth[split, seed]["params"] = params
                cell.update(split, seed, result)
    return cell, truth


def write_fake_nats(root: Path, n_cells: int = N, archs: list[str] | None = None, single_file: bool = False) -> dict:
    """Fake benchmark of ``n_cells`` cells (hp '12' and '200'); returns the hp-200 truth per (cell, split, seed)."""
    archs = archs or NB201Space().enumerate()[:n_cells]
    rng = np.random.default_rng(0)
    truth, states = {}, {}
    for i, arch in enumerate(archs[:n_cells]):
        short, _ = _cell(rng, i, arch, 12)
        full, truth[i] = _cell(rng, i, arch, 200)
        states[i] = {"12": short.state_dict(), "200": full.state_dict()}
    root.mkdir(parents=True, exist_ok=True)
    if single_file:
        pickle_save({"meta_archs": archs, "arch2infos": states, "evaluated_indexes": list(states)},
                    str(root / "NATS-tss-fake.pickle"))
    else:
        pickle_save({"meta_archs": archs, "avaliable_hps": ["12", "200"]}, str(root / "meta.pickle"))
        for i, state in states.items():
            pickle_save(state, str(root / f"{i:06d}.pickle"))
    return truth


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    return root, write_fake_nats(root)


def _expected(truth: dict, dataset: str) -> dict[str, np.ndarray]:
    split, out = SEARCH_SPLIT[dataset], {m: np.full((N, 3), np.nan) for m in PER_SEED}
    test = np.array([np.mean([truth[i][dataset, s][TEST_SET[dataset]] for s in SEEDS if (dataset, s) in truth[i]])
                     for i in range(N)])
    for i in range(N):
        for s, seed in enumerate(SEEDS):
            if (split, seed) in truth[i]:
                run = truth[i][split, seed]
                for metric in PER_SEED:
                    out[metric][i, s] = run["x-valid" if metric == "val_acc" else metric]
    return {"test_acc": test, **out}


def _assert_tables(values: dict, truth: dict) -> None:
    for dataset in DATASETS:
        for metric, want in _expected(truth, dataset).items():
            got = values[dataset][metric]
            assert got.shape[0] == 15625, (dataset, metric)
            np.testing.assert_allclose(got[:N], want, rtol=1e-12, err_msg=f"{dataset}/{metric}")
            assert np.isnan(got[N:]).all(), f"{dataset}/{metric} not NaN beyond the file"


def test_folder_values_match_what_was_written(fake: tuple[Path, dict]) -> None:
    root, truth = fake
    tables = load_nats_tables(root)
    _assert_tables(tables.values, truth)
    c10 = tables.values["cifar10"]
    assert np.isnan(c10["val_acc"][3, 1]) and not np.isnan(c10["val_acc"][3, 0])  # cifar10-valid seed 888
    assert np.isnan(tables.values["cifar100"]["val_acc"][2, 2])  # cifar100 seed 999
    assert not np.isnan(tables.values["cifar10"]["val_acc"][2, 2])
    assert "hp=200" in tables.source and "5 of 15625" in tables.source


def test_single_pickle_file(tmp_path: Path) -> None:
    truth = write_fake_nats(tmp_path, single_file=True)
    _assert_tables(load_nats_tables(tmp_path / "NATS-tss-fake.pickle.pbz2").values, truth)


def test_n_archs_limit_and_missing_cells(tmp_path: Path) -> None:
    write_fake_nats(tmp_path, n_cells=3, archs=NB201Space().enumerate()[:6])
    with pytest.raises(FileNotFoundError, match="n_archs <= 3"):
        load_nats_tables(tmp_path)
    tables = load_nats_tables(tmp_path, n_archs=2)
    assert not np.isnan(tables.values["cifar100"]["test_acc"][:2]).any()
    assert np.isnan(tables.values["cifar100"]["test_acc"][2:]).all()
    with pytest.raises(ValueError, match="n_archs"):
        load_nats_tables(tmp_path, n_archs=7)


def test_index_order_is_checked(tmp_path: Path) -> None:
    archs = NB201Space().enumerate()[:N]
    archs[1], archs[2] = archs[2], archs[1]
    write_fake_nats(tmp_path, archs=archs)
    with pytest.raises(ValueError, match="at index 1"):
        load_nats_tables(tmp_path)


def test_missing_path_says_what_to_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="NATS-tss-v1_0-3ffb9-simple"):
        load_nats_tables(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="meta.pickle.pbz2"):
        load_nats_tables(tmp_path)


def test_benchmark_and_ledger_on_present_cells(fake: tuple[Path, dict]) -> None:
    root, truth = fake
    bench = nats_benchmark(root)
    assert isinstance(bench, NB201Benchmark)
    arch = NB201Space().enumerate()[3]
    assert bench.query(arch, "cifar10", "val_acc", seed=777) == pytest.approx(truth[3]["cifar10-valid", 777]["x-valid"])
    mean = np.mean([truth[3]["cifar10-valid", s]["x-valid"] for s in (777, 999)])
    assert bench.query(arch, "cifar10", "val_acc") == pytest.approx(mean)
    with pytest.raises(KeyError, match="for seed 888"):
        bench.query(arch, "cifar10", "val_acc", seed=888)
    ledger = Ledger(bench, "ImageNet16-120", seed=888)
    record = ledger.train(arch)
    assert record.train_seconds == pytest.approx(truth[3]["ImageNet16-120", 888]["train_time"])
    assert record.test_acc == pytest.approx(np.mean([truth[3]["ImageNet16-120", s]["x-test"] for s in SEEDS]))


def test_optimum_ignores_absent_cells(fake: tuple[Path, dict]) -> None:
    root, _ = fake
    bench = nats_benchmark(root)
    values = bench.table("cifar100", "test_acc")
    arch, best = bench.optimum("cifar100")
    assert best == pytest.approx(np.nanmax(values[:N]))
    assert arch == NB201Space().enumerate()[int(np.nanargmax(values[:N]))]
