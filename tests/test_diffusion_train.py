"""Training: bit-identical resume, checkpoint errors, divergence detection, splits."""
from dataclasses import replace

import pytest
import torch

from nagkit.diffusion.checkpoint import export_checkpoint, load_checkpoint, load_scorenet, packaged_checkpoint
from nagkit.diffusion.scorenet import ScoreNetConfig
from nagkit.diffusion.train import TrainConfig, profile, train, train_split, training_set
from nagkit.spaces import get_space

NB = get_space("nb201")
NET = ScoreNetConfig(layers=1, width=16, heads=2, ffn=32)
CFG = TrainConfig(steps=12, batch_size=16, lr=1e-3, warmup=4, ema=0.9, checkpoint_every=5)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_resume_is_bit_identical(tmp_path):
    full = train(NB, NET, CFG, tmp_path / "full.pt", progress=False)
    # "Killed" after step 6: the state on disk is what a 6-step run leaves; resume to 12.
    train(NB, NET, replace(CFG, steps=6), tmp_path / "part.pt", progress=False)
    resumed = train(NB, NET, CFG, tmp_path / "part.pt", resume=True, progress=False)
    for a, b in zip(_params(full.model), _params(resumed.model)):
        assert torch.equal(a, b)
    for a, b in zip(_params(full.ema), _params(resumed.ema)):
        assert torch.equal(a, b)
    assert full.losses == resumed.losses and len(full.losses) == 12
    ckpt = load_checkpoint(tmp_path / "part.pt", NB)
    assert ckpt["step"] == 12 and not (tmp_path / "part.pt.tmp").exists()
    # EMA is kept apart from the live weights.
    assert any(not torch.equal(a, b) for a, b in zip(_params(full.model), _params(full.ema)))


def test_resume_refuses_other_config(tmp_path):
    train(NB, NET, replace(CFG, steps=3), tmp_path / "c.pt", progress=False)
    with pytest.raises(ValueError, match="train config differs"):
        train(NB, NET, replace(CFG, lr=0.5), tmp_path / "c.pt", resume=True, progress=False)
    with pytest.raises(ValueError, match="net config"):
        train(NB, replace(NET, layers=2), CFG, tmp_path / "c.pt", resume=True, progress=False)


def test_checkpoint_errors(tmp_path):
    train(NB, NET, replace(CFG, steps=2), tmp_path / "ok.pt", progress=False)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((tmp_path / "ok.pt").read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_checkpoint(corrupt)
    with pytest.raises(ValueError, match="for space 'nb201', not 'mbv3'"):
        load_scorenet(tmp_path / "ok.pt", get_space("mbv3"))
    ckpt = torch.load(tmp_path / "ok.pt", weights_only=True)
    ckpt["ema"]["head.weight"] = torch.zeros(3, 3)
    torch.save(ckpt, tmp_path / "shapes.pt")
    with pytest.raises(ValueError, match=r"shapes.pt.*head.weight"):
        load_scorenet(tmp_path / "shapes.pt", NB)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_export_is_small_and_not_resumable(tmp_path):
    train(NB, NET, replace(CFG, steps=2), tmp_path / "ok.pt", progress=False)
    export_checkpoint(tmp_path / "ok.pt", tmp_path / "small.pt")
    assert (tmp_path / "small.pt").stat().st_size < (tmp_path / "ok.pt").stat().st_size
    load_scorenet(tmp_path / "small.pt", NB)
    with pytest.raises(ValueError, match="cannot be resumed"):
        train(NB, NET, CFG, tmp_path / "small.pt", resume=True, progress=False)


def test_divergence_stops_with_message(tmp_path):
    with pytest.raises(FloatingPointError, match="diverged"):
        train(NB, NET, replace(CFG, lr=1e30, warmup=1, grad_clip=1e30, steps=30), tmp_path / "nan.pt",
              progress=False)


def test_split_deterministic_half():
    a, b = train_split(NB, 0.5, 0), train_split(NB, 0.5, 0)
    assert a == b and len(a) == round(15625 / 2) and len(set(a)) == len(a)
    assert a != train_split(NB, 0.5, 1)
    mb = get_space("mbv3")
    _, cfg = profile(mb, "quick")
    assert training_set(mb, replace(cfg, train_samples=10)) == training_set(mb, replace(cfg, train_samples=10))


@pytest.mark.parametrize("name", ["nb201", "mbv3", "nbgraph"])
@pytest.mark.parametrize("pos", [True, False])
def test_quick_profile_describes_packaged_checkpoints(name, pos):
    space = get_space(name)
    net, cfg = profile(space, "quick", pos_emb=pos)
    ckpt = load_checkpoint(packaged_checkpoint(name, pos), space)
    assert ScoreNetConfig(**ckpt["net_config"]) == net
    assert TrainConfig(**ckpt["train_config"]) == cfg and ckpt["step"] == cfg.steps


def test_profiles():
    net, cfg = profile(NB, "paper")
    assert (net.layers, net.width, net.heads, net.ffn) == (12, 64, 8, 128)
    assert (cfg.lr, cfg.warmup, cfg.batch_size, cfg.ema, cfg.steps, cfg.sigma_max) == (2e-5, 1000, 256, 0.9999, 250_000, 5.0)
    net, cfg = profile(get_space("mbv3"), "paper", pos_emb=False)
    assert net.pos_emb == "none" and cfg.steps == 1_000_000 and cfg.sigma_max == 1.0


def test_cross_entropy_term_of_categorical_nets():
    # The clean state of an all -1 row is "empty" (index n_vocab); the loss with ce_weight is the score
    # matching loss plus that weight times the cross-entropy of clean_logits, with the same random draws.
    from nagkit.diffusion.scorenet import ScoreNet
    from nagkit.diffusion.train import clean_states, dsm_loss, make_sde

    space = get_space("mbv3")
    x0 = 2 * space.encode_batch(space.sample(8, torch.Generator().manual_seed(0))) - 1
    states = clean_states(x0)
    assert ((states == space.n_vocab) == (x0.amax(-1) < 0)).all()
    net = ScoreNet(space, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16, param="categorical"))
    sde = make_sde(TrainConfig(sigma_max=1.0))
    plain = dsm_loss(net, sde, x0, 1e-5, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    with_ce = dsm_loss(net, sde, x0, 1e-5, g, ce_weight=0.5)
    g = torch.Generator().manual_seed(1)
    t = torch.rand(8, generator=g) * (sde.T - 1e-5) + 1e-5
    z = torch.randn(x0.shape, generator=g)
    mean, std = sde.marginal_prob(x0, t)
    ce = torch.nn.functional.cross_entropy(net.clean_logits(mean + std[:, None, None] * z, std).flatten(0, 1),
                                           states.flatten())
    assert torch.allclose(with_ce, plain + 0.5 * ce, atol=1e-6)
    with pytest.raises(ValueError, match="categorical"):
        dsm_loss(ScoreNet(space, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16)), sde, x0, 1e-5,
                 torch.Generator(), ce_weight=0.5)
    with pytest.raises(ValueError, match="ce_weight"):
        TrainConfig(ce_weight=-1.0)
