"""ScoreNet: shapes, masks derived from the space, positional-embedding switch."""
import pytest
import torch

from nagkit.diffusion.scorenet import ScoreNet, ScoreNetConfig, attention_allowed, n_parameters, position_embedding
from nagkit.spaces import get_space

TINY = ScoreNetConfig(layers=1, width=16, heads=2, ffn=16)


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_output_shape_and_scaling(name):
    space = get_space(name)
    torch.manual_seed(0)
    net = ScoreNet(space, TINY).eval()
    x = torch.randn(3, *space.shape)
    sigma = torch.tensor([0.1, 1.0, 5.0])
    out = net(x, sigma)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_successor_reachability_mask_nb201():
    space = get_space("nb201")
    allowed = attention_allowed(space, "reachability", "successors")
    assert allowed[0].all()  # the input reaches every node
    assert allowed[7].sum() == 1 and allowed[7, 7]  # the output only attends to itself
    assert allowed[1, 3] and allowed[1, 6] and not allowed[3, 1]  # 1 -> 3 -> 6 path, directed
    both = attention_allowed(space, "adjacency", "both")
    assert torch.equal(both, both.T) and both[1, 3] and not both[1, 6]


def test_mask_blocks_information_flow():
    # With the successors mask, the output node's score cannot depend on any other node.
    space = get_space("nb201")
    torch.manual_seed(0)
    net = ScoreNet(space, TINY).eval()
    x = torch.randn(1, *space.shape)
    y = x.clone()
    y[0, :7] += 1.0
    sigma = torch.tensor([0.5])
    assert torch.allclose(net(x, sigma)[0, 7], net(y, sigma)[0, 7], atol=1e-6)
    assert not torch.allclose(net(x, sigma)[0, 0], net(y, sigma)[0, 0])


def test_position_embeddings():
    nb, mb = get_space("nb201"), get_space("mbv3")
    assert position_embedding(nb, "none", 16).abs().sum() == 0
    idx = position_embedding(nb, "index", 16)
    assert len({tuple(r.tolist()) for r in idx}) == nb.n_nodes
    stage = position_embedding(mb, "stage", 16)
    assert len({tuple(r.tolist()) for r in stage}) == mb.n_nodes
    with pytest.raises(ValueError, match="staged space"):
        position_embedding(nb, "stage", 16)


def test_no_pos_emb_full_attention_cannot_tell_slots_apart():
    # No position and full attention: two slots with equal features get equal scores.
    space = get_space("mbv3")
    torch.manual_seed(0)
    net = ScoreNet(space, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16, pos_emb="none", mask="none")).eval()
    x = torch.randn(1, *space.shape)
    x[0, 5] = x[0, 2]
    out = net(x, torch.tensor([0.5]))
    assert torch.allclose(out[0, 5], out[0, 2], atol=1e-5)


def test_denoiser_parameterisation_skip_path():
    # With the head zeroed, the EDM denoiser is D = c_skip x = x / (sigma^2 + 1), i.e. score -x / (sigma^2 + 1);
    # the authors' parameterisation then returns 0.
    space = get_space("mbv3")
    torch.manual_seed(0)
    x = torch.randn(2, *space.shape)
    sigma = torch.tensor([0.1, 2.0])
    for param, expected in (("denoiser", -x / (sigma[:, None, None] ** 2 + 1)), ("score", torch.zeros_like(x))):
        net = ScoreNet(space, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16, param=param)).eval()
        torch.nn.init.zeros_(net.head.weight)
        torch.nn.init.zeros_(net.head.bias)
        assert torch.allclose(net(x, sigma), expected, atol=1e-6)


def test_categorical_parameterisation_is_posterior_mean():
    # Zero head: the logits are the likelihoods 2 x / sigma^2 (types) and 0 ("empty", MBV3 only),
    # so the denoised rows are 2 softmax - 1 over those states, and the score is (D - x) / sigma^2.
    torch.manual_seed(0)
    sigma = torch.tensor([0.3, 1.0])
    s2 = sigma[:, None, None] ** 2
    for name, empty in (("mbv3", True), ("nb201", False)):
        space = get_space(name)
        x = torch.randn(2, *space.shape)
        net = ScoreNet(space, ScoreNetConfig(layers=1, width=16, heads=2, ffn=16, param="categorical")).eval()
        assert net.head.out_features == space.n_vocab + empty
        torch.nn.init.zeros_(net.head.weight)
        torch.nn.init.zeros_(net.head.bias)
        logits = 2 * x / s2
        if empty:
            logits = torch.cat([logits, torch.zeros(2, space.n_nodes, 1)], dim=-1)
        denoised = 2 * logits.softmax(-1)[..., : space.n_vocab] - 1
        assert torch.allclose(net(x, sigma), (denoised - x) / s2, atol=1e-4)


def test_bad_config():
    with pytest.raises(ValueError, match="pos_emb"):
        ScoreNetConfig(pos_emb="learned")
    with pytest.raises(ValueError, match="divisible"):
        ScoreNetConfig(width=30, heads=4)
    with pytest.raises(ValueError, match="param"):
        ScoreNetConfig(param="x0")


def test_paper_profile_builds_the_authors_network():
    """method.md: 12 x 64 LayerNorm'ed layer outputs -> ELU MLP 768-1536-1536-7, time MLP 64-256-64: 3,989,575."""
    from nagkit.diffusion.train import profile

    space = get_space("nb201")
    net, _ = profile(space, "paper")
    model = ScoreNet(space, net)
    assert n_parameters(model) == 3_989_575
    assert n_parameters(model.head) == 768 * 1536 + 1536 + 1536 * 1536 + 1536 + 1536 * 7 + 7
    x, sigma = torch.randn(2, *space.shape), torch.tensor([0.5, 2.0])
    assert model(x, sigma).shape == x.shape
    small = ScoreNet(space, ScoreNetConfig(layers=2, width=16, heads=2, ffn=32, head="concat", head_hidden=24))
    # the concatenated features are every layer's normalised output, in order
    h = torch.randn(2, space.n_nodes, 16)
    feats = small.features(h)
    assert feats.shape == (2, space.n_nodes, 32)
    first = small.norms[0](small.encoder.layers[0](h, src_mask=small.blocked))
    torch.testing.assert_close(feats[..., :16], first)
    with pytest.raises(ValueError, match="head"):
        ScoreNetConfig(head="mlp")
