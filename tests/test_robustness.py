"""The NB201 robustness dataset loader on a fixture in the release's on-disk layout, and Table 5's pipeline
(guidance toward a robustness metric vs unguided / clean-accuracy guidance) at toy sizes."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest

import nagkit.cli as cli
from nagkit.benchmarks.robustness import RobustnessData, parse_metric
from nagkit.cli import robustness as robustness_cli
from nagkit.diffusion.sample import SamplerConfig
from nagkit.diffusion.train import scorenet_and_sde
from nagkit.predictors.encoder import EncoderConfig
from nagkit.predictors.fit import FitConfig, SurrogateConfig
from nagkit.predictors.model import PredictorConfig
from nagkit.spaces.nb201 import NB201Space, parse
from nagkit.transfer.protocol import TransferConfig
from nagkit.transfer.robust_guidance import RobustConfig, robust_guidance, robust_profile

SPACE = NB201Space()
EPS = [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0]  # the apgd / square / pgd grid third-party users of the release list
FGSM_EPS = [0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 255.0]


def n_op(arch: str, op: str) -> int:
    return parse(arch).count(op)


def apgd(arch: str) -> list[float]:
    """Robust accuracy (fraction) grows with the number of 3x3 convolutions, decays with eps."""
    return [round((0.02 + 0.1 * n_op(arch, "nor_conv_3x3")) * math.exp(-e / 3), 4) for e in EPS]


def glass(arch: str) -> list[float]:
    return [round(0.3 + 0.1 * n_op(arch, "nor_conv_3x3") - 0.04 * s, 4) for s in range(1, 6)]


def clean(arch: str) -> float:
    """Clean accuracy follows a different op (avg pools) than the robust metrics."""
    return round(0.5 + 0.07 * n_op(arch, "avg_pool_3x3"), 4)


def write_release(root, datasets=("cifar10",)) -> dict[str, str]:
    """``meta.json`` and ``<dataset>/<key>_accuracy.json`` as the release lays them out, for clean, APGD and
    glass blur; results keyed by the isomorph ids only. Returns id -> isomorph id."""
    archs = SPACE.enumerate()
    first: dict[str, str] = {}
    iso = {str(i): first.setdefault(SPACE.canonical(a), str(i)) for i, a in enumerate(archs)}
    meta = {"ids": {i: {"nb201-string": archs[int(i)], "isomorph": u} for i, u in iso.items()},
            "epsilons": {"aa_apgd-ce@Linf": EPS, "aa_square@Linf": EPS, "fgsm@Linf": FGSM_EPS, "pgd@Linf": EPS}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps(meta))
    uids = sorted(set(iso.values()), key=int)
    for d in datasets:
        (root / d).mkdir(exist_ok=True)
        for key, fn in (("clean", clean), ("aa_apgd-ce@Linf", apgd), ("glass_blur", glass)):
            body = {d: {key: {"accuracy": {u: fn(archs[int(u)]) for u in uids}}}}
            (root / d / f"{key}_accuracy.json").write_text(json.dumps(body))
    return iso


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    return root, write_release(root)


def test_query_follows_the_isomorph_ids_and_levels(release):
    root, iso = release
    data = RobustnessData(root)
    archs = SPACE.enumerate()
    dup = next(i for i, u in iso.items() if i != u)  # a cell that was not evaluated itself
    rep = archs[int(iso[dup])]
    assert data.query(archs[int(dup)], "cifar10", "clean") == pytest.approx(100 * clean(rep))
    a = archs[1234]
    rep = archs[int(iso["1234"])]
    assert data.query(a, "cifar10", "apgd@1") == pytest.approx(100 * apgd(rep)[2])
    assert data.query(a, "cifar10", "apgd@8.0") == pytest.approx(100 * apgd(rep)[-1])
    assert data.query(a, "cifar10", "apgd") == pytest.approx(100 * np.mean(apgd(rep)))
    assert data.query(a, "cifar10", "glass_blur@5") == pytest.approx(100 * glass(rep)[4])
    assert data.levels("cifar10", "fgsm") == tuple(FGSM_EPS)
    table = data.table("cifar10", "glass_blur@2")
    assert table.shape == (15_625,) and np.isfinite(table).all()
    assert table[1234] == pytest.approx(data.query(a, "cifar10", "glass_blur@2"))
    assert len({u for u in iso.values()}) < 15_625  # isomorphic cells share one evaluated id


def test_bad_metrics_and_datasets(release):
    data = RobustnessData(release[0])
    a = SPACE.enumerate()[7]
    for bad in ("foo", "apgd@x", "glass_blur@6", "clean@1", "apgd@nan"):
        with pytest.raises(ValueError):
            data.query(a, "cifar10", bad)
    with pytest.raises(ValueError, match="not in the release"):
        data.query(a, "cifar10", "apgd@0.3")
    with pytest.raises(KeyError, match="valid"):
        data.query(a, "svhn", "clean")
    with pytest.raises(ValueError, match="no corruption results"):
        data.query(a, "ImageNet16-120", "glass_blur")
    with pytest.raises(ValueError):
        data.query("|nor_conv_3x3~0|", "cifar10", "clean")
    assert parse_metric("square@2") == ("aa_square@Linf", 2.0)


def test_missing_release_names_the_download_and_folder(tmp_path, release):
    with pytest.raises(FileNotFoundError, match="data.robustness.vision") as err:
        RobustnessData(tmp_path / "nowhere").query(SPACE.enumerate()[0], "cifar10", "clean")
    assert str(tmp_path / "nowhere") in str(err.value) and "meta.json" in str(err.value)
    with pytest.raises(FileNotFoundError, match="aa_square@Linf_accuracy.json"):
        RobustnessData(release[0]).query(SPACE.enumerate()[0], "cifar10", "square@1")
    with pytest.raises(FileNotFoundError, match="cifar100-accuracies.zip"):
        RobustnessData(release[0]).table("cifar100", "clean")


def test_value_lists_must_match_the_levels(tmp_path):
    write_release(tmp_path)
    path = tmp_path / "cifar10" / "aa_apgd-ce@Linf_accuracy.json"
    body = json.loads(path.read_text())
    first = next(iter(body["cifar10"]["aa_apgd-ce@Linf"]["accuracy"]))
    body["cifar10"]["aa_apgd-ce@Linf"]["accuracy"][first] = [0.1, 0.2]
    path.write_text(json.dumps(body))
    with pytest.raises(ValueError, match="one per level"):
        RobustnessData(tmp_path).table("cifar10", "apgd@1")


def toy_config(n_unique: int = 12) -> RobustConfig:
    _, sde = scorenet_and_sde("nb201")
    sig = {"sigma_min": sde.sigma_min, "sigma_max": sde.sigma_max}
    small = PredictorConfig(encoder=EncoderConfig(hidden=32, layers=2))
    robust = SurrogateConfig(n_train=800, metric="robust", predictor=small,
                             fit=FitConfig(steps=200, batch_size=64, lr=3e-3, progress=False),
                             noise_fit=FitConfig(steps=300, batch_size=64, lr=3e-3, progress=False), **sig)
    lodo = replace(robust, metric="test_acc", n_train=300, fit=replace(robust.fit, steps=50),
                   noise_fit=replace(robust.noise_fit, steps=50))
    transfer = TransferConfig(n_unique=n_unique, batch_size=16, max_batches=3, sampler=SamplerConfig(steps=20),
                              surrogate=lodo)
    return RobustConfig(robust=robust, lodo=lodo, transfer=transfer)


def test_guidance_toward_robustness_raises_the_robust_metric(release, tmp_path):
    """On the fixture robust accuracy is a count of 3x3 convolutions: the robust-guided pool must be more
    robust than the unguided one of the same seed, and its top cell at least as robust as the pool mean."""
    data = RobustnessData(release[0])
    out = robust_guidance(data, "cifar10", "apgd@1", toy_config(), seed=3, cache=tmp_path,
                          arms=("unguided", "robust"))
    guided, unguided = out["arms"]["robust"], out["arms"]["unguided"]
    assert guided["pool_robust"]["mean"] > unguided["pool_robust"]["mean"] + 2.0
    table = data.table("cifar10", "apgd@1")
    assert guided["top_robust"] == pytest.approx(table[SPACE.index(guided["top"])])
    assert guided["top_clean"] == pytest.approx(data.query(guided["top"], "cifar10", "clean"))
    assert len(guided["pool"]) == len(set(guided["pool"])) <= 12
    assert list(tmp_path.glob("*.pt"))  # the predictors were cached


def test_profiles_take_the_score_nets_sde():
    _, sde = scorenet_and_sde("nb201")
    for name in ("quick", "paper", "smoke"):
        cfg = robust_profile(name, sde)
        assert (cfg.robust.sigma_min, cfg.robust.sigma_max) == (sde.sigma_min, sde.sigma_max)
        assert (cfg.lodo.sigma_min, cfg.lodo.sigma_max) == (sde.sigma_min, sde.sigma_max)
    assert robust_profile("paper", sde).transfer.sampler.steps == 1000
    with pytest.raises(ValueError):
        robust_profile("full", sde)
    cfg = robust_profile("smoke", sde)
    with pytest.raises(ValueError, match="noise range"):
        robust_guidance(RobustnessData("unused"), "cifar10", "apgd",
                        replace(cfg, robust=replace(cfg.robust, sigma_max=9.0)))


@pytest.fixture
def with_cli(monkeypatch, tmp_path):
    assert robustness_cli in cli.COMMANDS
    monkeypatch.setenv("NAGKIT_CACHE", str(tmp_path / "cache"))


def test_cli_smoke_json_and_errors(with_cli, release, tmp_path, capsys):
    root = str(release[0])
    assert cli.main(["robustness", "--dataset", "cifar10", "--metric", "glass_blur@3", "--seed", "1",
                     "--profile", "smoke", "--root", root, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["arms"]) == {"unguided", "clean", "robust"} and out["metric"] == "glass_blur@3"
    for arm in out["arms"].values():
        assert arm["pool_robust"]["mean"] <= arm["pool_robust"]["max"] and 0 < arm["validity"] <= 1
    assert out["arms"]["unguided"]["scale"] == 0.0
    assert cli.main(["robustness", "--metric", "apgd", "--root", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "data.robustness.vision" in err and err.count("\n") == 1
    assert cli.main(["robustness", "--metric", "blur", "--root", root]) == 2
    assert "unknown robustness metric" in capsys.readouterr().err
