"""Property predictors: true values, seeded training sets, caching, the score net's SDE."""
import numpy as np
import pytest
import torch

from nagkit.benchmarks.nb201 import NB201Benchmark
from nagkit.diffusion.train import TrainConfig
from nagkit.predictors.fit import FitConfig, SurrogateConfig, predict, rank_correlation
from nagkit.predictors.model import EncoderConfig, PredictorConfig
from nagkit.predictors.properties import Property, property_predictor, property_profile, training_archs
from nagkit.spaces import get_space
from nagkit.spaces.mbv3 import flops

TINY = SurrogateConfig(
    n_train=300, predictor=PredictorConfig(encoder=EncoderConfig(hidden=32, layers=2)),
    fit=FitConfig(steps=150, batch_size=64, lr=3e-3, progress=False),
    noise_fit=FitConfig(steps=30, batch_size=64, progress=False),
)


def test_true_values_match_their_sources():
    bench = NB201Benchmark()
    arch = bench.optimum("cifar10")[0]
    lat = Property("nb201", "latency", "cifar10")
    assert lat(arch) == pytest.approx(1000 * bench.query(arch, "cifar10", "latency"))
    assert lat.unit == "ms" and "cifar10" in lat.label
    mb = get_space("mbv3").sample(3, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(Property("mbv3", "flops").values(mb), [flops(a) for a in mb])
    assert Property("mbv3", "flops", resolution=160)(mb[0]) < Property("mbv3", "flops")(mb[0])


def test_bad_properties():
    with pytest.raises(ValueError, match="nb201 property"):
        Property("nb201", "flops", "cifar10")
    with pytest.raises(KeyError):
        Property("nb201", "latency", "imagenet")
    with pytest.raises(ValueError, match="no dataset"):
        Property("mbv3", "flops", "cifar10")
    with pytest.raises(ValueError, match="space"):
        Property("darts", "flops")


def test_training_archs_are_seeded_and_distinct_in_finite_spaces():
    nb = get_space("nb201")
    a, b = training_archs(nb, 50, 0), training_archs(nb, 50, 0)
    assert a == b and len(set(a)) == 50 and a != training_archs(nb, 50, 1)
    mb = training_archs(get_space("mbv3"), 20, 0)
    assert mb == training_archs(get_space("mbv3"), 20, 0) and len(mb) == 20
    with pytest.raises(ValueError):
        training_archs(nb, 20_000, 0)


def test_profile_takes_the_score_nets_sde():
    cfg = property_profile("quick", TrainConfig(sigma_max=1.0))
    assert cfg.sde().sigma_max == 1.0 and cfg.sde().sigma_min == 0.1
    assert property_profile("paper", TrainConfig()).n_train == 10_000
    with pytest.raises(ValueError, match="VE-SDE"):
        property_profile("quick", TrainConfig(sde="vp"))
    with pytest.raises(ValueError, match="profile"):
        property_profile("full", TrainConfig())


def test_clean_predictor_learns_flops_and_is_cached(tmp_path):
    prop = Property("mbv3", "flops")
    model = property_predictor(prop, noise_aware=False, config=TINY, seed=0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.pt"))) == 1
    held = get_space("mbv3").sample(200, torch.Generator().manual_seed(123))
    pred = predict(model, get_space("mbv3").encode_batch(held))
    assert rank_correlation(pred, prop.values(held))["spearman"] > 0.5
    again = property_predictor(prop, noise_aware=False, config=TINY, seed=0, cache_dir=tmp_path)
    x = get_space("mbv3").encode_batch(held[:10])
    assert torch.equal(predict(model, x), predict(again, x))
    noisy = property_predictor(prop, noise_aware=True, config=TINY, seed=0, cache_dir=tmp_path)
    assert noisy.config.noise_aware and len(list(tmp_path.glob("*.pt"))) == 2
    assert predict(noisy, x, TINY.sde(), t=0.5).shape == (10,)
