"""Trainer: learning, determinism, resumption, seeds and confidence intervals, group runs, CLI."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from scipy import stats

from nagkit.cli import main as cli_main
from nagkit.data.datasets import SPECS, ImageSet, Splits
from nagkit.executor import get_executor
from nagkit.nets.nb201 import build_nb201
from nagkit.train import (TrainJob, build_model, prepare_batch, profile, run_job, summarize, top_by_benchmark,
                          train_groups, train_network)

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
CONFIG = profile("quick", epochs=3, batch_size=32, C=4, N=1, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest (and reproducibly) on one thread, as the executor's workers do."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_splits(seed: int = 0) -> Splits:
    """Easy task: the class is the bright quadrant of an 8x8 grayscale image."""
    g = torch.Generator().manual_seed(seed)

    def make(n: int) -> ImageSet:
        labels = torch.randint(0, 4, (n,), generator=g)
        images = torch.randint(0, 60, (n, 1, 8, 8), generator=g)
        for q in range(4):
            r, c = divmod(q, 2)
            images[labels == q, :, 4 * r: 4 * r + 4, 4 * c: 4 * c + 4] += 180
        return ImageSet(images.to(torch.uint8), labels)

    spec = dataclasses.replace(SPECS["fashion-mnist"], n_classes=4)
    return Splits(spec, make(192), make(64), make(64), resolution=8, note="toy")


def _train(seed: int, checkpoint: Path | None = None, stop_after: int | None = None):
    model = build_model("nb201", ARCH, 4, 1, CONFIG, seed)
    result = train_network(model, toy_splits(), CONFIG, seed, 1, checkpoint, progress=False, stop_after=stop_after)
    return model, result


def test_learns_toy_task() -> None:
    _, r = _train(777)
    assert r["finished"] and r["epochs"] == 3
    assert r["train_loss"][-1] < r["train_loss"][0]
    assert r["test_acc"] > 60.0  # chance is 25%


def test_deterministic_under_seed() -> None:
    m1, r1 = _train(777)
    torch.manual_seed(12345)
    m2, r2 = _train(777)
    _, r3 = _train(888)
    assert r1["train_loss"] == r2["train_loss"] and r1["test_acc"] == r2["test_acc"]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert r3["train_loss"] != r1["train_loss"]


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    ckpt = tmp_path / "run.pt"
    _, part = _train(777, ckpt, stop_after=1)
    assert not part["finished"] and "test_acc" not in part and ckpt.exists()
    resumed_model, resumed = _train(777, ckpt)
    full_model, full = _train(777)
    assert resumed["resumed_from_epoch"] == 1
    assert resumed["train_loss"] == full["train_loss"]
    assert (resumed["valid_acc"], resumed["test_acc"]) == (full["valid_acc"], full["test_acc"])
    for a, b in zip(resumed_model.state_dict().values(), full_model.state_dict().values()):
        assert torch.equal(a, b)
    model = build_nb201(ARCH, 4, CONFIG.C, CONFIG.N, in_channels=1)
    with pytest.raises(ValueError, match="another config"):
        train_network(model, toy_splits(), dataclasses.replace(CONFIG, lr=0.05), 777, 1, ckpt, progress=False)


def test_prepare_batch_augments_reproducibly() -> None:
    s = toy_splits()
    imgs = s.train.images[:16]
    a = prepare_batch(imgs, s, 1, True, torch.Generator().manual_seed(0), torch.device("cpu"))
    b = prepare_batch(imgs, s, 1, True, torch.Generator().manual_seed(0), torch.device("cpu"))
    plain = prepare_batch(imgs, s, 3, False, None, torch.device("cpu"))
    assert torch.equal(a, b) and a.shape == (16, 1, 8, 8) and plain.shape == (16, 3, 8, 8)
    assert not torch.equal(a, plain[:, :1])
    up = prepare_batch(imgs, dataclasses.replace(s, resolution=12), 1, False, None, torch.device("cpu"))
    assert up.shape == (16, 1, 12, 12)


def test_summarize_t_interval() -> None:
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    assert s["ci95"] == pytest.approx(stats.t.ppf(0.975, 2) / 3**0.5)
    assert summarize([5.0])["ci95"] is None


def _fashion_root(tmp_path: Path) -> Path:
    from tests.fixtures import make_fashion_mnist

    make_fashion_mnist(tmp_path)
    return tmp_path


def test_groups_and_cli_on_fashion_mnist_fixture(tmp_path: Path, capsys) -> None:
    root = str(_fashion_root(tmp_path))
    cfg = profile("quick", epochs=1, batch_size=8, C=4, N=1, device="cpu")
    groups = {"a": [ARCH], "b": [ARCH.replace("nor_conv_3x3", "none")]}
    out = train_groups(groups, "fashion-mnist", cfg, seeds=[777, 888], executor=get_executor("serial", progress=False),
                       root=root, resolution=16, progress=False)
    assert list(out) == ["a", "b"] and len(out["a"]["runs"]) == 2
    assert out["a"]["per_arch"][ARCH]["n"] == 2 and out["b"]["test_acc"]["n"] == 1
    again = run_job(TrainJob(ARCH, 888, "fashion-mnist", cfg, root=root, resolution=16, progress=False))
    assert again["test_acc"] == out["a"]["runs"][1]["test_acc"]
    argv = ["train", ARCH, "--dataset", "fashion-mnist", "--root", root, "--profile", "quick", "--epochs", "1",
            "--C", "4", "--N", "1", "--resolution", "16", "--device", "cpu", "--json"]
    assert cli_main(argv) == 0
    assert '"test_acc"' in capsys.readouterr().out
    assert cli_main(["train", ARCH, "--dataset", "cifar10", "--root", root]) == 2
    assert "nagkit fetch cifar10" in capsys.readouterr().err


def test_top_by_benchmark_orders_by_cifar10_validation() -> None:
    from nagkit.benchmarks import NB201Benchmark

    pool = [ARCH, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    top = top_by_benchmark(pool, 2)
    bench = NB201Benchmark()
    vals = [bench.query(a, "cifar10", "val_acc") for a in top]
    assert len(top) == 2 and vals[0] >= vals[1] and pool[1] not in top
