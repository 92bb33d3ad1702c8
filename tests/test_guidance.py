import pytest
import torch

from nagkit.diffusion.sde import VESDE
from nagkit.guidance import Objective, Schedule, authors_schedule, make_guidance
from nagkit.spaces import get_space


def linear_predictor(weights: torch.Tensor):
    def f(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return (x * weights).flatten(1).sum(1)
    return f


@pytest.fixture
def setup():
    torch.manual_seed(0)
    w = torch.randn(8, 7)
    return VESDE(0.1, 5.0), w, torch.randn(4, 8, 7), torch.full((4,), 0.5)


def test_maximize_gradient_is_scaled_predictor_gradient(setup):
    sde, w, x, t = setup
    g = make_guidance([Objective(linear_predictor(w))], sde, Schedule("constant", 3.0))(x, t)
    assert torch.allclose(g, 3.0 * w.expand_as(x))
    g_min = make_guidance([Objective(linear_predictor(w), "minimize")], sde, Schedule("constant", 3.0))(x, t)
    assert torch.allclose(g_min, -g)


def test_multiple_objectives_add(setup):
    sde, w, x, t = setup
    w2 = torch.randn(8, 7)
    both = make_guidance([Objective(linear_predictor(w)), Objective(linear_predictor(w2), weight=0.5)],
                         sde, Schedule("constant", 1.0))(x, t)
    assert torch.allclose(both, (w + 0.5 * w2).expand_as(x))


def test_at_most_constraint_only_penalises_excess(setup):
    sde, w, x, t = setup
    f = linear_predictor(w)
    budget = f(x, t)[0].item()  # sample 0 exactly at the budget
    g = make_guidance([Objective(f, "at_most", value=budget)], sde, Schedule("constant", 1.0))(x, t)
    over = f(x, t) > budget
    assert torch.allclose(g[0], torch.zeros(8, 7))
    for i in range(4):
        if over[i]:
            assert (g[i] * w).sum() < 0  # pushes the property down


def test_schedules():
    t = torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(authors_schedule(get_space("nb201")).scale(2, t), torch.full((3,), 9400.0))
    assert torch.equal(authors_schedule(get_space("mbv3")).scale(2, t), torch.full((3,), 9000.0))
    assert torch.equal(Schedule("linear", 1000.0, 300.0).scale(10, t), torch.zeros(3))
    assert torch.allclose(Schedule("annealed", 2.0).scale(0, t), torch.tensor([2.0, 1.0, 0.0]))
    with pytest.raises(ValueError):
        Schedule("cosine")


def test_clipping_and_non_finite(setup):
    sde, w, x, t = setup
    g = make_guidance([Objective(linear_predictor(w * 1e6))], sde, Schedule("constant", 1.0), max_norm=1.0)(x, t)
    assert torch.allclose(g.flatten(1).norm(dim=1), torch.ones(4), atol=1e-5)

    def bad(x, sigma):
        return (x * float("inf")).flatten(1).sum(1)

    with pytest.raises(FloatingPointError, match="not finite"):
        make_guidance([Objective(bad)], sde, Schedule("constant", 1.0))(x, t)


def test_bad_objectives():
    with pytest.raises(ValueError, match="needs a value"):
        Objective(lambda x, s: x.sum(), "target")
    with pytest.raises(ValueError, match="kind"):
        Objective(lambda x, s: x.sum(), "larger")
    with pytest.raises(ValueError, match="at least one"):
        make_guidance([], VESDE(), Schedule())
