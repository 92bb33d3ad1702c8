"""Samplers: packaged checkpoints, reproducibility, guidance hook, discretisation rules."""
import math

import pytest
import torch

from nagkit.diffusion.checkpoint import load_scorenet, packaged_checkpoint
from nagkit.diffusion.sample import SamplerConfig, discretize, generate, sample_features
from nagkit.diffusion.scorenet import ScoreNet, ScoreNetConfig
from nagkit.diffusion.sde import VESDE
from nagkit.diffusion.train import TrainConfig, make_sde
from nagkit.metrics import validity
from nagkit.spaces import get_space

NB = get_space("nb201")
FAST = SamplerConfig("pc", 10, batch_size=100)


# Measured on 1,000 samples (notebook 03): see resources/SCORENET.md (nb201 100%, mbv3 about 98-99%).
@pytest.mark.parametrize("name,floor", [("nb201", 0.95), ("mbv3", 0.9)])
def test_packaged_checkpoint_samples_valid(name, floor):
    space = get_space(name)
    path = packaged_checkpoint(name)
    torch.load(path, weights_only=True)
    model, ckpt = load_scorenet(path, space)
    sde = make_sde(TrainConfig(**ckpt["train_config"]))
    archs = generate(space, model, sde, 100, torch.Generator().manual_seed(0), SamplerConfig(batch_size=100))
    assert validity(space, archs) >= floor


def _tiny():
    torch.manual_seed(0)
    return ScoreNet(NB, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16)).eval()


@pytest.mark.parametrize("method", ["pc", "ode"])
def test_same_generator_same_samples(method):
    model, sde, cfg = _tiny(), VESDE(0.1, 5.0), SamplerConfig(method, 5, batch_size=7)
    a = sample_features(model, sde, 10, cfg, torch.Generator().manual_seed(3))
    b = sample_features(model, sde, 10, cfg, torch.Generator().manual_seed(3))
    c = sample_features(model, sde, 10, cfg, torch.Generator().manual_seed(4))
    assert a.shape == (10, *NB.shape) and torch.equal(a, b) and not torch.equal(a, c)


def test_guidance_is_added_and_called_with_time():
    model, sde = _tiny(), VESDE(0.1, 5.0)
    seen = []

    def push_conv3x3(x, t):
        seen.append(float(t[0]))
        g = torch.zeros_like(x)
        g[:, 1:7, 5] = 50.0
        return g

    x = sample_features(model, sde, 50, FAST, torch.Generator().manual_seed(0), guidance=push_conv3x3)
    assert (x[:, 1:7].argmax(-1) == 5).float().mean() > 0.9
    assert seen[0] == pytest.approx(1.0) and min(seen) == pytest.approx(1e-5)


@pytest.mark.parametrize("method", ["pc", "ode"])
def test_non_finite_guidance_raises(method):
    model, sde = _tiny(), VESDE(0.1, 5.0)

    def bad(x, t):
        return torch.full_like(x, float("nan")) if float(t[0]) < 0.5 else torch.zeros_like(x)

    with pytest.raises(FloatingPointError, match="guidance"):
        sample_features(model, sde, 4, SamplerConfig(method, 6), torch.Generator().manual_seed(0), guidance=bad)


def test_discretisation_rules():
    x = torch.tensor([[[0.9, -0.8, 0.2], [-0.5, -0.2, -0.9]]])
    assert discretize(x).tolist() == [[[1, 0, 0], [0, 1, 0]]]
    assert discretize(x, allow_empty=True).tolist() == [[[1, 0, 0], [0, 0, 0]]]
    assert discretize(x, "threshold").tolist() == [[[1, 0, 1], [0, 0, 0]]]
    with pytest.raises(ValueError, match="rule"):
        discretize(x, "round")
    assert not NB.optional_rows and get_space("mbv3").optional_rows


class ExactMBV3Score(torch.nn.Module):
    """The Bayes-exact score of OFA-sampled MBV3 features (uniform depth 2-4 per stage, uniform types)
    under Gaussian noise: per-row log-likelihood ``2 x / sigma^2`` of each type relative to "empty"."""

    shape = (20, 9)

    def forward(self, x, sigma):
        x, s2 = x.double(), sigma.double()[:, None, None] ** 2
        n, ll = x.shape[0], (2 * x / s2).view(x.shape[0], 5, 4, 9)
        l3, l4 = ll[:, :, 2].logsumexp(-1), ll[:, :, 3].logsumexp(-1)
        # slots 3-4: (empty, empty) 1/3, (a, empty) 1/3 * 1/9, (a, b) 1/3 * 1/81
        ee, ue, uu = torch.full_like(l3, math.log(1 / 3)), math.log(1 / 27) + l3, math.log(1 / 243) + l3 + l4
        log_z = torch.stack([ee, ue, uu]).logsumexp(0)
        p = ll.softmax(-1)
        p[:, :, 2] *= (torch.logaddexp(ue, uu) - log_z).exp()[..., None]
        p[:, :, 3] *= (uu - log_z).exp()[..., None]
        return ((2 * p.view(n, 20, 9) - 1 - x) / s2).float()


def test_exact_score_gives_valid_mbv3_samples():
    # Separates sampler from network: with the exact score, the default sampler and the argmax rule
    # (empty row when its maximum is below 0) produce valid MBV3 architectures.
    space = get_space("mbv3")
    x = sample_features(ExactMBV3Score(), VESDE(0.1, 1.0), 200, SamplerConfig(), torch.Generator().manual_seed(0))
    archs = [space.decode_or_none(m) for m in discretize(x, "argmax", allow_empty=True)]
    assert validity(space, archs) == 1.0 and len(set(archs)) == 200


def test_bad_sampler_config():
    with pytest.raises(ValueError, match="method"):
        SamplerConfig("ddim")


def test_cli_generate_writes_valid_lines(tmp_path, capsys):
    from nagkit.cli import main

    out = tmp_path / "archs.txt"
    assert main(["generate", "--space", "nb201", "--n", "30", "--steps", "5", "--seed", "1", "--out", str(out), "--json"]) == 0
    lines = out.read_text().splitlines()
    assert lines and all(NB.validate(NB.encode(a)) is None for a in lines)
    assert '"validity"' in capsys.readouterr().out
    assert main(["generate", "--space", "nb201", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
