"""MBV3 transfer NAS (paper Table 2): MetaD2A's MobileNetV3 predictor database converted into nagkit's
records, and the whole pipeline (guided generation, meta-predictor ranking, OFA fine-tuning) on the smoke
profile, on fixture files in the real on-disk formats (the numbers mean nothing)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from nagkit.cli import main as cli_main
from nagkit.data.artifacts import OFA_DB, OFA_NET, fetch_artifact
from nagkit.diffusion.checkpoint import trained_checkpoint
from nagkit.diffusion.train import profile as scorenet_profile
from nagkit.diffusion.train import train
from nagkit.predictors.metad2a import convert_metad2a, load_metad2a
from nagkit.predictors.ofa_records import OFA_RECORDS, convert_ofa_records, net_to_arch
from nagkit.spaces import get_space
from nagkit.transfer.mbv3 import mbv3_transfer_profile
from tests.fixtures import make_cifar
from tests.smoke_fixtures import write_metad2a_release, write_ofa_supernet, write_resnet18_weights

N_CLASSES = 40  # ImageNet-32 classes the fixture database's tasks draw from


def random_net(g: torch.Generator) -> dict:
    pick = lambda options, n: [options[i] for i in torch.randint(len(options), (n,), generator=g).tolist()]  # noqa: E731
    return {"ks": pick([3, 5, 7], 20), "e": pick([3, 4, 6], 20), "d": pick([2, 3, 4], 5)}


def write_ofa_db(folder: Path, n_val: int = 6, n_train: int = 18, seed: int = 0) -> dict:
    """``database_219152_14.0K_{val,train}.pt`` as the authors' loader reads them: lists ``net`` (OFA
    settings), ``acc`` (%), ``class`` (0-based ImageNet ids, a tensor per task), ``flops``, and ``mean`` / ``std``."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for split, n in (("val", n_val), ("train", n_train)):
        widths = torch.randint(5, 11, (n,), generator=g).tolist()
        data = {"net": [random_net(g) for _ in range(n)], "acc": (torch.rand(n, generator=g) * 60 + 30).tolist(),
                "class": [torch.randperm(N_CLASSES, generator=g)[:w] for w in widths],
                "flops": (torch.rand(n, generator=g) * 400 + 100).tolist(), "mean": 60.0, "std": 10.0}
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(data, folder / f"{OFA_RECORDS}_{split}.pt")
        out[split] = data
    return out


def test_net_to_arch_reads_stages_to_their_depth():
    net = {"ks": [3, 5, 7, 7] * 5, "e": [3, 4, 6, 6] * 5, "d": [2, 3, 4, 2, 3]}
    arch = net_to_arch(net)
    assert arch.split("|")[0] == "k3e3-k5e4" and arch.split("|")[2] == "k3e3-k5e4-k7e6-k7e6"
    assert [len(s.split("-")) for s in arch.split("|")] == [2, 3, 4, 2, 3]
    get_space("mbv3").encode(arch)  # a valid string of the space
    with pytest.raises(ValueError, match="needs 20 ks"):
        net_to_arch({"ks": [3] * 19, "e": [3] * 20, "d": [2] * 5})
    with pytest.raises(ValueError, match="ks, e, d"):
        net_to_arch({"ks": [3] * 20})
    with pytest.raises(ValueError):
        net_to_arch({"ks": [4] * 20, "e": [3] * 20, "d": [2] * 5})  # no kernel 4 in the space


def test_convert_ofa_records(tmp_path: Path):
    written = write_ofa_db(tmp_path / "db")
    with pytest.raises(ValueError, match="trust_pickles"):
        convert_ofa_records(tmp_path / "db", tmp_path)
    with pytest.raises(FileNotFoundError, match="database_219152_14.0K"):
        convert_ofa_records(tmp_path / "empty", tmp_path, trust_pickles=True)
    data = load_metad2a(convert_ofa_records(tmp_path / "db", tmp_path, trust_pickles=True))
    nets = written["val"]["net"] + written["train"]["net"]
    classes = written["val"]["class"] + written["train"]["class"]
    assert data.space == "mbv3" and len(data) == 24 and data.arch == [net_to_arch(n) for n in nets]
    assert torch.allclose(data.acc, torch.tensor(written["val"]["acc"] + written["train"]["acc"], dtype=torch.float64))
    for row, c in zip(data.task_classes, classes):  # 1-based ids, 0-padded to the widest task
        assert row[: len(c)].tolist() == (c + 1).tolist() and not row[len(c):].any()
    assert data.split(6)[1].tolist() == list(range(6))  # the validation split first
    assert data.x().shape == (24, *get_space("mbv3").encode(data.arch[0]).shape)
    bad = dict(written["val"], acc=[float("nan")] + written["val"]["acc"][1:])
    torch.save(bad, tmp_path / "db" / f"{OFA_RECORDS}_val.pt")
    with pytest.raises(ValueError, match="record 0: accuracy"):
        convert_ofa_records(tmp_path / "db", tmp_path, trust_pickles=True)


@pytest.fixture(scope="module")
def mbv3_roots(tmp_path_factory: pytest.TempPathFactory):
    """Data, cache and torch-hub roots holding everything ``nagkit mbv3-transfer`` reads, and the
    smoke-profile MBV3 score net where notebook 02 leaves it."""
    base = tmp_path_factory.mktemp("mbv3")
    data, cache, torch_home = base / "data", base / "cache", base / "torch"
    make_cifar(data, "cifar10", per_batch=200)  # 20 images of each class for the set encoder
    write_resnet18_weights(torch_home)
    folder = data / "metad2a"
    write_metad2a_release(folder, N_CLASSES)
    convert_metad2a(folder, folder, trust_pickles=True)
    write_ofa_db(data / OFA_DB)
    write_ofa_supernet(data / "ofa" / OFA_NET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAGKIT_DATA", str(data))
        mp.setenv("NAGKIT_CACHE", str(cache))
        mp.setenv("TORCH_HOME", str(torch_home))
        space = get_space("mbv3")
        train(space, *scorenet_profile(space, "smoke"), trained_checkpoint("mbv3", "smoke"), progress=False)
        yield {"data": data, "cache": cache}


def test_mbv3_transfer_needs_its_data_and_names_the_fetch(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("NAGKIT_DATA", str(tmp_path))
    assert cli_main(["mbv3-transfer", "--dataset", "cifar10", "--profile", "smoke", "--json"]) == 2
    assert "nagkit fetch ofa-records" in capsys.readouterr().err
    assert cli_main(["mbv3-transfer", "--dataset", "imagenet", "--json"]) == 2


def test_ofa_records_artifact_converts_the_copied_database(mbv3_roots):
    out = fetch_artifact("ofa-records", progress=False)
    assert load_metad2a(out["path"]).space == "mbv3"


def test_mbv3_transfer_smoke_end_to_end(mbv3_roots, capsys):
    fetch_artifact("ofa-records", progress=False)
    config = mbv3_transfer_profile("smoke")
    assert cli_main(["mbv3-transfer", "--dataset", "cifar10", "--profile", "smoke", "--executor", "serial",
                     "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n_drawn"] == config.n_generate and 0 < r["validity"] <= 1
    assert len(r["top"]) == min(config.top_k, r["n_unique"]) and r["selected"] in r["top"]
    assert len(r["runs"]) == len(r["top"]) * len(config.seeds)
    assert all(run["init"] == "ofa" and run["space"] == "mbv3" for run in r["runs"])
    assert math.isfinite(r["test_acc"]["mean"]) and 0 <= r["test_acc"]["mean"] <= 100
    for arch in r["top"]:
        get_space("mbv3").encode(arch)
    # the fine-tuning jobs are checkpointed: a second run resumes them and selects the same subnet
    assert any((mbv3_roots["cache"] / "mbv3-transfer").iterdir())
    assert cli_main(["mbv3-transfer", "--dataset", "cifar10", "--profile", "smoke", "--executor", "serial",
                     "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["selected"] == r["selected"] and again["test_acc"] == r["test_acc"]


def test_mbv3_transfer_profiles():
    paper = mbv3_transfer_profile("paper")
    assert (paper.n_generate, paper.top_k, paper.seeds, paper.resolution, paper.train.epochs) == (
        5000, 30, (777, 888, 999), 224, 20)
    assert paper.sampler.method == mbv3_transfer_profile("smoke").sampler.method == "pc"
    with pytest.raises(ValueError, match="top_k"):
        mbv3_transfer_profile("smoke", top_k=0)
