"""Trainer: learning, determinism, resumption, seeds and confidence intervals, group runs, CLI."""
from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest
import torch
from scipy import stats

from nagkit.cli import main as cli_main
from nagkit.data.datasets import SPECS, ImageSet, Splits
from nagkit.executor import get_executor
from nagkit.nets.nb201 import build_nb201
from nagkit.progress import Interrupted
from nagkit.stats import summarise_t
from nagkit.training.generated import (GuidedNB201Config, generated_mbv3_subnets, guided_nb201_cells, top_by_benchmark,
                                       train_groups)
from nagkit.training.trainer import TrainJob, build_model, prepare_batch, profile, recalibrate_bn, run_job, train_network
from tests.fixtures import make_fashion_mnist

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
CONFIG = profile("quick", epochs=3, batch_size=32, C=4, N=1, device="cpu")


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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_after_the_epoch_with_a_resumable_checkpoint(tmp_path: Path, monkeypatch, signum) -> None:
    import nagkit.training.trainer as trainer

    ckpt, real = tmp_path / "run.pt", trainer.prepare_batch
    calls = []

    def signalling(*args, **kwargs):  # the signal arrives during the first step of the first epoch
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "prepare_batch", signalling)
    with pytest.raises(Interrupted, match="after epoch 1 of 3.*run again to resume") as stopped:
        _train(777, ckpt)
    assert stopped.value.exit_code == 128 + signum and torch.load(ckpt, weights_only=True)["epoch"] == 1
    monkeypatch.setattr(trainer, "prepare_batch", real)
    _, resumed = _train(777, ckpt)
    _, full = _train(777)
    assert resumed["resumed_from_epoch"] == 1 and resumed["train_loss"] == full["train_loss"]
    assert (resumed["valid_acc"], resumed["test_acc"]) == (full["valid_acc"], full["test_acc"])


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


def test_summarise_t_interval() -> None:
    s = summarise_t([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0)
    assert s["ci95"] == pytest.approx(stats.t.ppf(0.975, 2) / 3**0.5)
    assert summarise_t([5.0])["ci95"] is None


def _fashion_root(tmp_path: Path) -> Path:
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
    argv = ["train", "k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3", "--space", "mbv3", "--dataset",
            "fashion-mnist", "--root", root, "--ofa-weights", str(tmp_path / "missing.pth")]
    assert cli_main(argv) == 2
    assert "OFA supernet checkpoint not found" in capsys.readouterr().err


def test_top_by_benchmark_orders_by_cifar10_validation() -> None:
    from nagkit.benchmarks import NB201Benchmark

    pool = [ARCH, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    top = top_by_benchmark(pool, 2)
    bench = NB201Benchmark()
    vals = [bench.query(a, "cifar10", "val_acc") for a in top]
    assert len(top) == 2 and vals[0] >= vals[1] and pool[1] not in top


def test_recalibrate_bn_uses_exact_training_statistics() -> None:
    s = toy_splits()
    model = build_model("nb201", ARCH, 4, 1, CONFIG, 777)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    handle = bn.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach()))
    recalibrate_bn(model, s, 1, n_images=64, seed=0, device=torch.device("cpu"))
    handle.remove()
    assert not model.training and bn.momentum == 0.1 and len(seen) == 1
    assert torch.allclose(bn.running_mean, seen[0].mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(bn.running_var, seen[0].var(dim=(0, 2, 3), unbiased=True), atol=1e-5)


def test_ofa_weights_only_for_mbv3(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only for space 'mbv3'"):
        build_model("nb201", ARCH, 4, 1, CONFIG, 777, ofa_weights=tmp_path / "w.pth")
    with pytest.raises(KeyError, match=r"unknown space 'darts'; valid: \['mbv3', 'nb201'\]"):
        build_model("darts", ARCH, 4, 1, CONFIG, 777)
    mbv3 = "k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3"
    with pytest.raises(FileNotFoundError, match="OFA supernet checkpoint not found"):
        build_model("mbv3", mbv3, 4, 3, CONFIG, 777, ofa_weights=tmp_path / "w.pth")
    job = TrainJob(mbv3, 777, "fashion-mnist", CONFIG, space="mbv3", checkpoint_dir=str(tmp_path), ofa_weights="w.pth")
    assert job.checkpoint().name.endswith("-ofa-s777.pt")


def test_guided_generation_ranks_distinct_valid_cells(tmp_path: Path) -> None:
    from nagkit.predictors.fit import FitConfig, SurrogateConfig
    from nagkit.spaces.nb201 import NB201Space

    tiny = SurrogateConfig(n_train=200, fit=FitConfig(steps=30, progress=False),
                           noise_fit=FitConfig(steps=30, progress=False))
    gen = GuidedNB201Config(w=10.0, batch=16, min_unique=5, max_rounds=2, steps=5)
    out = guided_nb201_cells(3, 0, tiny, gen, cache_dir=tmp_path)
    space = NB201Space()
    scores = [sc for _, sc in out["ranked"]]
    assert out["cells"] == [c for c, _ in out["ranked"][:3]] and scores == sorted(scores, reverse=True)
    assert len({space.canonical(c) for c, _ in out["ranked"]}) == out["unique"] >= 3
    assert out["generated"] == 16 * out["rounds"] and out["valid"] == len(out["valid_cells"])
    assert guided_nb201_cells(3, 0, tiny, gen, cache_dir=tmp_path)["cells"] == out["cells"]
    plain = guided_nb201_cells(3, 0, tiny, GuidedNB201Config(w=0, batch=16, min_unique=5, max_rounds=2, steps=5),
                               cache_dir=tmp_path)
    assert plain["valid_cells"] != out["valid_cells"]  # guidance changes the samples
    with pytest.raises(RuntimeError, match="distinct valid"):
        guided_nb201_cells(50, 0, tiny, GuidedNB201Config(batch=8, min_unique=1, max_rounds=1, steps=5), cache_dir=tmp_path)


def test_generated_mbv3_subnets_are_valid_and_ranked_by_flops() -> None:
    from nagkit.spaces import mbv3

    out = generated_mbv3_subnets(2, 0, n=24, steps=5)
    assert len(out["subnets"]) == 2 and out["unique"] <= out["valid"] <= 24
    f = [mbv3.flops(a, 32, 10) for a in out["subnets"]]
    assert f[0] >= f[1] and all(mbv3.MBV3Space().validate(mbv3.MBV3Space().encode(a)) is None for a in out["subnets"])
