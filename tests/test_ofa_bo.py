"""BO on MBV3 / ImageNet (paper Figs. 3-4) through OFA's accuracy predictor: the 128-d encoding, the
predictor file in OFA's layout (a random-init fixture: the numbers mean nothing), the surrogate benchmark
under the ledger, and every compared acquisition optimiser end to end."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from nagkit.benchmarks.ofa_accuracy import OFAAccuracyBenchmark, accuracy_mlp, ofa_features
from nagkit.benchmarks.ledger import Ledger
from nagkit.cli import main as cli_main
from nagkit.executor import get_executor
from nagkit.search.ofa_bo import compare_mbv3_bo

ARCH = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k7e3-k5e4"


@pytest.fixture
def predictor(tmp_path: Path) -> Path:
    """A state dict in the layout of OFA's ``acc_predictor.pth`` (``0.weight`` ... ``6.bias``)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = accuracy_mlp().state_dict()
    state["6.bias"] = torch.tensor([0.75])  # outputs near 75 %
    assert sorted(state) == sorted(f"{i}.{p}" for i in (0, 2, 4, 6) for p in ("weight", "bias"))
    path = tmp_path / "acc_predictor.pth"
    torch.save(state, path)
    return path


def test_ofa_features_encode_kernel_expand_depth_and_resolution():
    f = ofa_features(ARCH, 160)
    assert f.shape == (128,) and f[:60].sum() == f[60:120].sum() == 2 + 3 + 2 + 4 + 3 and f[120:].tolist() == [
        0, 0, 0, 1, 0, 0, 0, 0]
    assert f[0:3].tolist() == [1, 0, 0] and f[60:63].tolist() == [1, 0, 0]  # slot 1: k3, e3
    assert f[3:6].tolist() == [0, 1, 0] and f[63:66].tolist() == [0, 0, 1]  # slot 2: k5, e6
    assert f[6:12].sum() == 0  # slots 3-4 of stage 1 are unused
    with pytest.raises(ValueError, match="resolution"):
        ofa_features(ARCH, 100)
    with pytest.raises(ValueError):
        ofa_features("k3e3", 224)


def test_benchmark_queries_the_predictor(predictor: Path, tmp_path: Path):
    bench = OFAAccuracyBenchmark(predictor)
    model = accuracy_mlp()
    model.load_state_dict(torch.load(predictor, weights_only=True))
    with torch.no_grad():
        expected = 100 * float(model(ofa_features(ARCH)[None]))
    assert bench.query(ARCH, "imagenet", "val_acc") == pytest.approx(expected)
    assert bench.query(ARCH, "imagenet", "test_acc") == pytest.approx(expected)
    ledger = Ledger(bench, "imagenet")
    assert ledger.train(ARCH).val_acc == pytest.approx(expected) and ledger.seconds == 1.0
    with pytest.raises(KeyError, match="imagenet"):
        bench.query(ARCH, "cifar10", "val_acc")
    with pytest.raises(KeyError, match="no seeds"):
        Ledger(bench, "imagenet", seed=777)
    with pytest.raises(FileNotFoundError, match="nagkit fetch ofa-acc-predictor"):
        OFAAccuracyBenchmark(tmp_path / "absent.pth")
    torch.save({"0.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="not OFA's accuracy predictor"):
        OFAAccuracyBenchmark(tmp_path / "other.pth")


def test_compare_acquisition_optimisers_on_mbv3(predictor: Path):
    out = compare_mbv3_bo(12, [0], str(predictor), executor=get_executor("serial", progress=False))
    assert set(out) == {"guided generation (DiffusionNAG-BO)", "mutation pool", "random pool"}
    bench = OFAAccuracyBenchmark(predictor)
    for label, entry in out.items():
        (run,) = entry["runs"]
        assert len(run["acc"]) == 12 and run["acc"] == sorted(run["acc"]), label  # incumbent never worsens
        assert run["final_acc"] == pytest.approx(bench.query(run["final_arch"], "imagenet", "val_acc"))
        assert math.isfinite(entry["final_acc"]["mean"])


def test_bo_mbv3_cli(predictor: Path, tmp_path: Path, monkeypatch, capsys):
    assert cli_main(["bo-mbv3", "--method", "rs", "--budget", "5", "--weights", str(predictor), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert len(r["acc"]) == 5 and r["label"] == "rs"
    monkeypatch.setenv("NAGKIT_DATA", str(tmp_path))
    assert cli_main(["bo-mbv3", "--budget", "5"]) == 2
    assert "nagkit fetch ofa-acc-predictor" in capsys.readouterr().err
