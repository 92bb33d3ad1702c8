"""The meta-predictor f(X, D) for every target: profiles, devices, caching of the meta-trained pair and of
the target's ResNet-18 features (tiny real-format fixtures, a random-init ResNet-18 in the hub cache)."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from fixtures import make_aircraft_classes, make_cifar, make_imagenet16

import nagkit.data.features as features_mod
import nagkit.predictors.metad2a as metad2a
from nagkit.data.features import RESNET18_FILE, target_features
from nagkit.diffusion.sde import VESDE
from nagkit.diffusion.train import TrainConfig
from nagkit.predictors import (
    EncoderConfig,
    FitConfig,
    MetaTrainConfig,
    Predictor,
    PredictorConfig,
    fit_predictor,
    meta_train_profile,
    predict,
    save_class_features,
    surrogate_profile,
)
from nagkit.predictors.metad2a import SAFE_FEATURES, load_metad2a, meta_predictor_key
from nagkit.predictors.properties import property_profile
from nagkit.spaces import get_space
from nagkit.transfer.predictors import metad2a_predictors

SPACE = get_space("nb201")
SMALL = EncoderConfig(hidden=16, layers=2)


def test_profiles_smoke_is_the_paper_path_at_toy_sizes():
    paper, smoke = meta_train_profile("paper"), meta_train_profile("smoke")
    assert meta_train_profile("quick") == paper == MetaTrainConfig()
    assert paper.fit.steps == 10_000 and paper.fit.lr == 1e-3 and paper.n_per_class == 20 and paper.n_valid == 400
    assert smoke.fit.steps < 100 and smoke.n_valid < paper.n_valid and smoke.fit.lr == paper.fit.lr
    s = surrogate_profile("smoke")
    assert s.meta == smoke and s.n_train == 200 and (s.fit.steps, s.noise_fit.steps) == (30, 30)
    assert surrogate_profile("paper").meta == paper
    p = property_profile("smoke", TrainConfig(sigma_min=0.2, sigma_max=4.0))
    assert p.n_train == 200 and (p.fit.steps, p.noise_fit.steps) == (30, 30)
    assert (p.sigma_min, p.sigma_max) == (0.2, 4.0)
    with pytest.raises(ValueError, match="profile"):
        meta_train_profile("fast")


def _fit(device, noise_aware=False):
    x = SPACE.encode_batch(SPACE.enumerate()[:64])
    y = torch.arange(64, dtype=torch.float32)
    torch.manual_seed(0)
    model = Predictor(SPACE, PredictorConfig(encoder=SMALL, noise_aware=noise_aware))
    losses = fit_predictor(model, x, y, FitConfig(steps=6, batch_size=16, progress=False),
                           VESDE() if noise_aware else None, device=device)
    return model, losses, predict(model, x, VESDE() if noise_aware else None, 0.5 if noise_aware else None,
                                  seed=3, device=device)


def test_device_names_resolve_and_cpu_results_do_not_depend_on_the_spelling():
    _, losses, pred = _fit("cpu", noise_aware=True)
    assert isinstance(losses, list) and len(losses) == 6 and all(isinstance(v, float) for v in losses)
    _, losses2, pred2 = _fit(torch.device("cpu"), noise_aware=True)
    assert losses == losses2 and torch.equal(pred, pred2)
    with pytest.raises(ValueError, match="unknown device"):
        _fit("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_draws_the_cpu_generators_numbers():
    for noise_aware in (False, True):
        cpu_model, cpu_losses, cpu_pred = _fit("cpu", noise_aware)
        gpu_model, gpu_losses, gpu_pred = _fit("cuda", noise_aware)
        assert next(gpu_model.parameters()).device.type == "cuda" and gpu_pred.device.type == "cuda"
        # same batches and noise (CPU generators), so the float results agree to rounding
        assert torch.allclose(torch.tensor(cpu_losses), torch.tensor(gpu_losses), rtol=1e-3, atol=1e-4)
        assert torch.allclose(cpu_pred, gpu_pred.cpu(), rtol=1e-3, atol=1e-3)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Data root, cache root and torch hub under tmp_path; a random-init ResNet-18 where torchvision keeps the
    ImageNet weights; 512-d fake ImageNet-32 class features covering every class the packaged tasks use."""
    from torchvision.models import resnet18

    for var, sub in (("NAGKIT_DATA", "data"), ("NAGKIT_CACHE", "cache"), ("TORCH_HOME", "torch")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / RESNET18_FILE
    weights.parent.mkdir(parents=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.save(resnet18().state_dict(), weights)
    n_classes = int(load_metad2a().task_classes.max())
    gen = torch.Generator().manual_seed(0)
    save_class_features([torch.randn(3, 512, generator=gen) for _ in range(n_classes)],
                        tmp_path / "data" / "metad2a" / SAFE_FEATURES, source="test fixture")
    return tmp_path


@pytest.fixture
def spies(monkeypatch):
    calls = {"meta": 0, "features": 0}

    def counting(name, fn):
        def spy(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return spy

    monkeypatch.setattr(metad2a, "_meta_fit", counting("meta", metad2a._meta_fit))
    monkeypatch.setattr(features_mod, "dataset_features", counting("features", features_mod.dataset_features))
    return calls


WRITERS = {"cifar10": lambda root: make_cifar(root, "cifar10", per_batch=40),
           "ImageNet16-120": make_imagenet16, "aircraft": make_aircraft_classes}


def test_metad2a_predictors_for_every_target_meta_train_once_then_load(env, spies):
    config = surrogate_profile("smoke")
    x = SPACE.encode_batch(SPACE.enumerate()[:40])
    xt, sigma = x * 2 - 1, torch.full((40,), 0.5)
    for n, target in enumerate(WRITERS, start=1):
        WRITERS[target](env / "data")
        first = metad2a_predictors(target, config, seed=0)
        assert spies == {"meta": 2, "features": n}  # clean + noise-aware copy trained for the first target only
        scores = first.rank(x)
        assert scores.shape == (40,) and torch.isfinite(scores).all() and scores.std() > 0
        second = metad2a_predictors(target, config, seed=0)
        assert spies == {"meta": 2, "features": n}  # everything loaded from the caches
        assert torch.equal(second.rank(x), scores)
        assert torch.equal(second.guide(xt, sigma).detach(), first.guide(xt, sigma).detach())
    assert len(list((env / "cache" / "metad2a").glob("*.pt"))) == 2
    assert len(list((env / "cache" / "features").glob("*.pt"))) == 3


def test_caches_are_keyed_by_what_determines_them(env, spies):
    make_cifar(env / "data", "cifar10", per_batch=40)
    config = surrogate_profile("smoke")
    metad2a_predictors("cifar10", config, seed=0)
    metad2a_predictors("cifar10", replace(config, sigma_max=4.0))  # only the noise-aware copy sees the SDE
    assert spies == {"meta": 3, "features": 1}
    assert target_features("cifar10", per_class=2, seed=1).features.shape == (10, 2, 512)  # another image draw
    assert spies["features"] == 2
    (env / "data" / "cifar-10-batches-py" / "notes.txt").write_text("another copy of the data")
    target_features("cifar10", per_class=2, seed=1)
    assert spies["features"] == 3  # a changed folder is encoded again, not served stale


def test_meta_predictor_key_ignores_progress_and_sees_the_rest():
    meta, pc = meta_train_profile("smoke"), PredictorConfig(encoder=SMALL)
    key = meta_predictor_key("r", "f", meta, pc, None, 0)
    assert key == meta_predictor_key("r", "f", replace(meta, fit=replace(meta.fit, progress=False)), pc, None, 0)
    others = [meta_predictor_key("r2", "f", meta, pc, None, 0), meta_predictor_key("r", "f2", meta, pc, None, 0),
              meta_predictor_key("r", "f", replace(meta, n_per_class=3), pc, None, 0),
              meta_predictor_key("r", "f", meta, replace(pc, head_hidden=8), None, 0),
              meta_predictor_key("r", "f", meta, pc, VESDE(0.1, 5.0), 0),
              meta_predictor_key("r", "f", meta, pc, None, 1)]
    assert len({key, *others}) == 7


def test_missing_features_file_names_the_download(env):
    (env / "data" / "metad2a" / SAFE_FEATURES).unlink()
    with pytest.raises(FileNotFoundError, match="imgnet32bylabel.pt"):
        metad2a_predictors("cifar10", surrogate_profile("smoke"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_meta_predictor_trained_on_cuda_is_shared_with_cpu_runs(env, spies):
    make_cifar(env / "data", "cifar10", per_batch=40)
    config = surrogate_profile("smoke")
    x = SPACE.encode_batch(SPACE.enumerate()[:40])
    on_gpu = metad2a_predictors("cifar10", config, device="cuda")
    gpu_scores = on_gpu.rank(x.cuda())
    assert gpu_scores.device.type == "cuda"
    guide = on_gpu.guide(x.cuda() * 2 - 1, torch.full((40,), 0.5, device="cuda"))
    assert guide.device.type == "cuda" and guide.requires_grad
    on_cpu = metad2a_predictors("cifar10", config, device="cpu")
    assert spies == {"meta": 2, "features": 1}  # the device is not part of any key
    assert torch.allclose(on_cpu.rank(x), gpu_scores.cpu(), rtol=1e-4, atol=1e-4)
