"""The ``smoke`` profile: every ``paper`` code path at toy sizes, on fixture files in the real on-disk formats
(issue 13: the paper profile may never again be code that no test runs).

One data root, cache root and torch hub for the module: CIFAR-10 batches, the Aircraft and Pets folders,
MetaD2A's data release and a (random-init) ResNet-18 hub checkpoint where the paper profile looks for
them. The numbers these runs produce mean nothing; the tests check that each path runs end to end and
that what it returns is well formed.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nagkit.benchmarks import get_benchmark
from nagkit.benchmarks.nats import nats_benchmark
from nagkit.benchmarks.nb201 import SEEDS
from nagkit.cli import main as cli_main
from nagkit.data.features import target_features
from nagkit.diffusion.checkpoint import load_checkpoint, packaged_checkpoint, profile_checkpoint, trained_checkpoint
from nagkit.diffusion.sample import SamplerConfig, generate, model_device
from nagkit.diffusion.train import profile as scorenet_profile
from nagkit.diffusion.train import scorenet_and_sde, train
from nagkit.notebooks import main as notebooks_main
from nagkit.notebooks import output_dirs
from nagkit.predictors.metad2a import convert_metad2a, load_class_features, load_metad2a
from nagkit.profiles import PROFILES
from nagkit.spaces import get_space
from nagkit.training.trainer import TrainJob, build_model, run_job
from nagkit.training.trainer import profile as image_profile
from nagkit.transfer.predictors import load_predictors
from nagkit.transfer.protocol import train_in_rank_order, transfer_profile, transfer_search
from tests.fixtures import make_aircraft, make_cifar, make_pets
from tests.smoke_fixtures import write_fake_nats, write_metad2a_release, write_ofa_supernet, write_resnet18_weights

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
MBV3_ARCH = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k7e3-k5e4"


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory):
    """``NAGKIT_DATA``, ``NAGKIT_CACHE`` and ``TORCH_HOME`` in fresh folders, with the datasets and the
    ResNet-18 weights the paper profile reads."""
    base = tmp_path_factory.mktemp("smoke")
    data, cache, torch_home = base / "data", base / "cache", base / "torch"
    # CIFAR-10: 1,000 training images, so the train half holds the paper's 20 images of every class (set encoder)
    make_cifar(data, "cifar10", per_batch=200)
    make_aircraft(data)
    make_pets(data)
    weights = write_resnet18_weights(torch_home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NAGKIT_DATA", str(data))
        mp.setenv("NAGKIT_CACHE", str(cache))
        mp.setenv("TORCH_HOME", str(torch_home))
        # the smoke-profile NB201 score net where notebook 02 leaves it (what `--profile smoke` samples from)
        space = get_space("nb201")
        train(space, *scorenet_profile(space, "smoke"), trained_checkpoint("nb201", "smoke"), progress=False)
        yield {"data": data, "cache": cache, "weights": weights}


def test_smoke_takes_the_paper_branch_of_every_factory():
    """Smoke differs from paper in sizes only: same net type and head, optimiser, SDE, sampler, predictor, recipe."""
    assert "smoke" in PROFILES
    sizes = ("layers", "width", "heads", "ffn", "head_hidden", "time_hidden")
    budget = ("steps", "batch_size", "warmup", "train_samples", "checkpoint_every")
    for name in ("nb201", "mbv3", "nbgraph"):
        space = get_space(name)
        (net, cfg), (paper_net, paper_cfg) = scorenet_profile(space, "smoke"), scorenet_profile(space, "paper")
        assert replace(net, **{k: getattr(paper_net, k) for k in sizes}) == paper_net, name
        assert replace(cfg, **{k: getattr(paper_cfg, k) for k in budget}) == paper_cfg, name
        assert net.head == "concat" and net.time_hidden == 4 * net.width and cfg.steps <= 50
    smoke, paper = transfer_profile("smoke"), transfer_profile("paper")
    assert smoke.predictor == paper.predictor == "metad2a" and smoke.sampler.method == paper.sampler.method == "pc"
    assert smoke.sampler.steps < 50 and smoke.batch_size == smoke.sampler.batch_size <= 32
    shrunk = image_profile("smoke")
    assert replace(shrunk, epochs=200, batch_size=256, C=16, N=5) == image_profile("paper")
    assert shrunk.epochs == 1


def test_quick_and_paper_factories_are_unchanged():
    """Literal values of the quick and paper profiles (read from the factories before smoke was added)."""
    net, cfg = scorenet_profile(get_space("nb201"), "quick")
    assert (net.layers, net.width, net.heads, net.ffn, net.head, net.time_hidden) == (4, 64, 4, 128, "linear", None)
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.warmup, cfg.ema, cfg.train_samples, cfg.checkpoint_every) == \
        (1500, 256, 1e-3, 100, 0.999, 50_000, 1000)
    net, cfg = scorenet_profile(get_space("mbv3"), "quick")
    assert (net.width, net.ffn, net.mask, net.param, net.pos_emb, net.direction) == \
        (32, 64, "adjacency", "categorical", "stage", "both")
    assert (cfg.steps, cfg.lr, cfg.checkpoint_every, cfg.sigma_max) == (4000, 2e-3, 500, 1.0)
    net, cfg = scorenet_profile(get_space("nb201"), "paper")
    assert (net.layers, net.width, net.heads, net.head, net.head_hidden, net.time_hidden) == \
        (12, 64, 8, "concat", 1536, 256)
    assert (cfg.steps, cfg.batch_size, cfg.lr, cfg.warmup, cfg.ema, cfg.train_samples) == \
        (250_000, 256, 2e-5, 1000, 0.9999, 500_000)
    quick, paper = transfer_profile("quick"), transfer_profile("paper")
    assert (quick.predictor, quick.batch_size, quick.sampler) == ("lodo", 16, SamplerConfig())
    assert (paper.predictor, paper.batch_size) == ("metad2a", 256)
    assert paper.sampler == SamplerConfig("pc", 1000, batch_size=256)
    assert (quick.n_unique, quick.scale, quick.max_batches) == (paper.n_unique, paper.scale, paper.max_batches) == \
        (10, 10.0, 20)
    q, p = image_profile("quick"), image_profile("paper")
    assert (q.epochs, q.batch_size, q.C, q.N, q.lr) == (3, 128, 8, 1, 0.1)
    assert (p.epochs, p.batch_size, p.C, p.N, p.lr, p.momentum, p.nesterov, p.weight_decay) == \
        (200, 256, 16, 5, 0.1, 0.9, True, 5e-4)


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_scorenet_trains_resumes_and_samples(name: str, tmp_path: Path):
    space = get_space(name)
    net, cfg = scorenet_profile(space, "smoke")
    full = train(space, net, cfg, tmp_path / "full.pt", progress=False)
    half = replace(cfg, steps=cfg.steps // 2)
    train(space, net, half, tmp_path / "part.pt", progress=False)
    assert load_checkpoint(tmp_path / "part.pt", space)["step"] == half.steps
    resumed = train(space, net, cfg, tmp_path / "part.pt", resume=True, progress=False)
    assert len(full.losses) == cfg.steps and all(math.isfinite(v) for v in full.losses)
    assert resumed.losses == full.losses
    for a, b in zip(full.ema.parameters(), resumed.ema.parameters()):
        assert torch.equal(a, b)
    model, sde = scorenet_and_sde(name, str(full.path))  # how sampling code loads a score net
    for a, b in zip(model.parameters(), full.ema.parameters()):
        assert torch.equal(a, b)
    sampler = transfer_profile("smoke").sampler
    archs = generate(space, model, sde, 8, torch.Generator().manual_seed(0), sampler)
    assert len(archs) == 8
    for arch in archs:  # a toy net may draw invalid samples (None); what it decodes is a valid string
        assert arch is None or space.decode(space.encode(arch)) == arch


@pytest.fixture(scope="module")
def metad2a_release(roots):
    """MetaD2A's release files in ``<data root>/metad2a`` (features for every class the packaged records use,
    more per class than the smoke meta-training draws), converted there as users do."""
    n_classes = int(load_metad2a().task_classes.max())
    per_class = 2 * transfer_profile("smoke").surrogate.meta.n_per_class
    folder = roots["data"] / "metad2a"
    written = write_metad2a_release(folder, n_classes, per_class)
    return folder, written, convert_metad2a(folder, folder, trust_pickles=True)


def test_metad2a_release_converts_and_transfer_cli_runs(roots, metad2a_release, capsys):
    folder, written, paths = metad2a_release
    assert set(paths) == {"records", "features"}
    records = load_metad2a(folder)
    assert records.arch == written["records"]["str"] and records.task_classes.tolist() == written["tasks"]
    assert torch.allclose(records.acc, torch.tensor(written["records"]["acc"], dtype=torch.float64))
    features = load_class_features(folder)
    assert len(features) == len(written["features"]) and torch.equal(features[-1], written["features"][-1])

    capsys.readouterr()
    code = cli_main(["transfer", "--space", "nb201", "--dataset", "cifar10", "--seed", "0", "--profile", "smoke",
                     "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    r = json.loads(out.out)
    space, bench = get_space("nb201"), get_benchmark("nb201")
    pool = r["ranked"]
    assert r["dataset"] == "cifar10" and 1 <= len(pool) <= 10 and len(set(pool)) == len(pool)
    assert r["selected"] == pool[0] and all(space.decode(space.encode(a)) == a for a in pool)
    assert r["acc_after_1"] == pytest.approx(bench.query(r["selected"], "cifar10", "test_acc"))
    assert 0 <= r["population"]["min"] <= r["population"]["mean"] <= r["population"]["max"] <= 100
    assert 0 <= r["incumbent_test_acc"] <= 100 and 1 <= r["n_trained"] <= len(pool)
    assert 0 < r["validity"] <= 1 and r["n_drawn"] >= len(pool)
    # the predictors came from the meta-predictor on pretrained-weight features of the target (both cached now)
    assert cli_main(["transfer", "--dataset", "cifar10", "--profile", "smoke"]) == 0
    assert "predictor from MetaD2A meta-predictor" in capsys.readouterr().out
    encoded = target_features("cifar10", per_class=transfer_profile("smoke").surrogate.meta.n_per_class)
    assert encoded.pretrained and str(roots["weights"]) in encoded.source
    assert any(roots["cache"].rglob("*.pt"))  # what was computed went to $NAGKIT_CACHE


@pytest.mark.parametrize("dataset", ["aircraft", "pets"])
def test_image_training_on_folder_datasets(roots, dataset: str, tmp_path: Path):
    config = image_profile("smoke")
    job = TrainJob(NB201_ARCH, SEEDS[0], dataset, config, root=str(roots["data"]), checkpoint_dir=str(tmp_path),
                   progress=False)
    result = run_job(job)
    assert result["finished"] and result["epochs"] == config.epochs == 1
    assert all(math.isfinite(v) for v in result["train_loss"])
    assert 0 <= result["valid_acc"] <= 100 and 0 <= result["test_acc"] <= 100
    assert job.checkpoint().is_file()


def test_mbv3_subnet_from_ofa_checkpoint(roots, tmp_path: Path):
    path = tmp_path / "ofa_mbv3_d234_e346_k357_w1.0.pth"
    state = write_ofa_supernet(path)
    config = image_profile("smoke")
    net = build_model("mbv3", MBV3_ARCH, 37, 3, config, seed=0, ofa_weights=path)
    # the first block is copied as is; subnet block 4 (stage 2, layer 2: k3e4, mid 160) is supernet block 1 + 4 + 1
    assert torch.equal(net.blocks[0].conv.depth_conv.conv.weight,
                       state["blocks.0.mobile_inverted_conv.depth_conv.conv.weight"])
    assert torch.equal(net.blocks[4].conv.point_linear.conv.weight,
                       state["blocks.6.conv.point_linear.conv.conv.weight"][:, :160])
    scratch = build_model("mbv3", MBV3_ARCH, 37, 3, config, seed=0)
    assert not torch.equal(scratch.blocks[0].conv.depth_conv.conv.weight, net.blocks[0].conv.depth_conv.conv.weight)
    result = run_job(TrainJob(MBV3_ARCH, SEEDS[0], "pets", config, space="mbv3", root=str(roots["data"]),
                              progress=False, ofa_weights=str(path)))
    assert result["init"] == "ofa" and result["finished"] and math.isfinite(result["train_loss"][0])
    assert 0 <= result["test_acc"] <= 100


def test_nats_files_load_and_train_in_rank_order(tmp_path: Path):
    root = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    truth = write_fake_nats(root, n_cells=3)
    bench = nats_benchmark(root)
    archs = get_space("nb201").enumerate()[:3]
    for i, arch in enumerate(archs):
        want = np.mean([truth[i]["cifar100", s]["x-test"] for s in SEEDS if ("cifar100", s) in truth[i]])
        assert bench.query(arch, "cifar100", "test_acc") == pytest.approx(want)
    values = [bench.query(a, "cifar10", "test_acc") for a in archs]
    ledger, until = train_in_rank_order(archs, "cifar10", bench)
    assert until == int(np.argmax(values)) + 1 == ledger.n_trained


def test_command_lines_offer_smoke(capsys):
    """``--profile`` choices come from PROFILES in ``nagkit transfer`` and ``python -m nagkit.notebooks``."""
    assert cli_main(["transfer", "--help"]) == 0
    assert "smoke" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        notebooks_main(["--help"])
    assert stop.value.code == 0 and "smoke" in capsys.readouterr().out


def test_output_dirs_per_profile(tmp_path: Path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    assert output_dirs("quick") == (tmp_path / "figures", tmp_path / "results")
    assert output_dirs("paper") == (tmp_path / "results" / "paper" / "figures", tmp_path / "results" / "paper")
    assert output_dirs("smoke") == (tmp_path / "results" / "smoke" / "figures", tmp_path / "results" / "smoke")
    assert (tmp_path / "results" / "smoke" / "figures").is_dir()
    with pytest.raises(ValueError, match=r"profile must be one of \('quick', 'paper', 'smoke'\), got 'full'"):
        output_dirs("full")


def test_paper_profiles_never_fall_back_to_the_quick_net(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("NAGKIT_CACHE", str(tmp_path))
    for profile in ("paper", "smoke"):
        with pytest.raises(FileNotFoundError, match=f"the {profile}-profile score net of mbv3 is not trained"):
            profile_checkpoint("mbv3", profile)
    assert profile_checkpoint("mbv3", "quick") == packaged_checkpoint("mbv3")
    assert cli_main(["transfer", "--dataset", "cifar10", "--profile", "paper"]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_transfer_search_on_cuda(roots, metad2a_release):
    """Predictors, generation and ranking on the GPU; the shared (cached) score net stays where it is."""
    config = transfer_profile("smoke")
    model, sde = scorenet_and_sde("nb201", profile="smoke")
    predictors = load_predictors("cifar10", (), config, seed=0, device="cuda")
    r = transfer_search(model, sde, predictors, "cifar10", (), config, seed=0, device="cuda")
    assert model_device(model).type == "cpu"
    bench = get_benchmark("nb201")
    assert r.acc_after_1 == pytest.approx(bench.query(r.selected, "cifar10", "test_acc")) and 1 <= len(r.ranked) <= 10
