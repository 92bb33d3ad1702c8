"""GDSS baseline (Jo et al., ICML 2022): joint score-based diffusion of node features and an undirected adjacency.

The baseline row of the positional-embedding ablation (method.md section 2: GDSS validity 4.56% on NB201,
0.00% on MBV3). Unlike the DiffusionNAG score network, GDSS diffuses the adjacency too and is
permutation-equivariant: no node knows its index.

- Data: each training architecture as ``(X, A)``: ``X`` the space's node-feature matrix, ``A`` the
  space's adjacency made undirected; both on the [-1, 1] scale (``2 * value - 1``).
- SDE: the score nets' VE-SDE on both (sigma_min 0.1, the space's ``diffusion.sigma_max``), one
  diffusion time per graph; the adjacency noise is symmetric with a zero diagonal.
- Score networks: ``s_X`` (dense GCN layers over ``X`` and the noisy ``A``, concatenated, MLP head) and
  ``s_A`` (dense GCN node embeddings, a symmetric MLP over node pairs ``(h_i * h_j, h_i + h_j, A_ij,
  (A^2)_ij)``), both told the noise level, with EDM preconditioning (:meth:`GDSS.forward`); ``s_A`` is
  symmetric with a zero diagonal by construction.
- Sampler: predictor-corrector (one Langevin corrector step at signal-to-noise ``snr``, then reverse
  Euler-Maruyama) on ``X`` and ``A`` together, then one Tweedie denoising step.

Decoding into the space's fixed-order representation (:func:`decode_graphs`): node ``i``'s op is the
argmax of its features (in spaces with unused slots a row whose maximum is below 0 is empty, as for
the score nets); an entry ``A_ij > 0`` with ``i < j`` is the edge ``i -> j``. Two validity rules:
``"graph"``: the space's ``validate`` accepts the ops and the oriented edges are exactly the space's
adjacency; ``"nodes"``: the space's ``validate`` on the ops alone (the rule the score nets' samples are
judged by, whose adjacency is fixed).
"""
from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import DenseGCNConv

from nagkit.diffusion.sample import FiniteCheck, discretize, model_device, randn
from nagkit.diffusion.sde import VESDE
from nagkit.diffusion.train import profile as scorenet_profile
from nagkit.diffusion.train import to_unit, training_set
from nagkit.metrics import generation_quality
from nagkit.profiles import check_profile
from nagkit.progress import enabled, progress_bar as tqdm
from nagkit.spaces.base import SearchSpace

RULES = ("graph", "nodes")
SIGMA_MIN = 0.1


@dataclass(frozen=True)
class GDSSConfig:
    """Network, training and sampler sizes of the GDSS baseline."""

    hidden: int = 32
    layers: int = 3  # dense GCN layers in each score network
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    grad_clip: float = 1.0
    ema: float = 0.999
    eps: float = 1e-5  # smallest diffusion time (training and the sampler's end time)
    sample_steps: int = 100
    snr: float = 0.16
    sample_batch: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        counts = {k: getattr(self, k) for k in ("hidden", "layers", "steps", "batch_size", "sample_steps",
                                                 "sample_batch")}
        bad = [f"{k}={v!r} (needs >= 1)" for k, v in counts.items() if not v >= 1]
        if not (self.lr > 0 and self.grad_clip > 0 and 0 <= self.ema <= 1 and 0 < self.eps < 1 and self.snr >= 0):
            bad.append(f"lr={self.lr}, grad_clip={self.grad_clip}, ema={self.ema}, eps={self.eps}, snr={self.snr} "
                       "(need lr, grad_clip > 0, 0 <= ema <= 1, 0 < eps < 1, snr >= 0)")
        if bad:
            raise ValueError(f"bad GDSSConfig: {'; '.join(bad)}")


def profile(name: str, seed: int = 0) -> GDSSConfig:
    """``quick``: a tiny net trained in about a minute on one CPU thread, 100 sampler steps; ``paper``:
    GDSS-paper-like sizes (Jo et al.'s configs: hidden 16-64, 1,000 PC steps, snr 0.2, lr 5e-3, batch 1024);
    ``smoke``: the paper's optimiser and sampler settings at toy sizes."""
    check_profile(name)
    if name == "paper":
        return GDSSConfig(hidden=64, layers=4, steps=50_000, batch_size=1024, lr=5e-3, sample_steps=1000, snr=0.2,
                          seed=seed)
    if name == "smoke":
        return GDSSConfig(hidden=8, layers=2, steps=20, batch_size=16, lr=5e-3, sample_steps=10, snr=0.2,
                          sample_batch=16, seed=seed)
    return GDSSConfig(seed=seed)


def training_archs(space: SearchSpace, profile_name: str) -> list[str]:
    """The score nets' training set for ``profile_name`` (``nagkit.diffusion.train.training_set``)."""
    return training_set(space, scorenet_profile(space, profile_name)[1])


def make_sde(space: SearchSpace) -> VESDE:
    """The score nets' VE-SDE for ``space``, used for both ``X`` and ``A``."""
    return VESDE(SIGMA_MIN, space.diffusion.sigma_max)


def undirected(adjacency: torch.Tensor) -> torch.Tensor:
    """A directed 0/1 adjacency -> the symmetric float one."""
    a = adjacency.float()
    return ((a + a.transpose(-1, -2)) > 0).float()


def symmetric_noise(b: int, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``(b, n, n)`` standard normal noise, symmetric with a zero diagonal (one draw per node pair)."""
    z = randn((b, n, n), generator, device).triu(1)
    return z + z.transpose(-1, -2)


class _GCNStack(nn.Module):
    """Dense GCN layers (tanh) over the features and the log noise level; all layers' outputs concatenated."""

    def __init__(self, n_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(DenseGCNConv(n_in + 1 if i == 0 else hidden, hidden) for i in range(layers))

    def forward(self, x: torch.Tensor, adj: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, log_sigma[:, None, None].expand(*x.shape[:2], 1)], dim=-1)
        outs = []
        for conv in self.convs:
            h = torch.tanh(conv(h, adj))
            outs.append(h)
        return torch.cat(outs, dim=-1)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 2 * hidden), nn.ELU(), nn.Linear(2 * hidden, hidden), nn.ELU(),
                         nn.Linear(hidden, n_out))


class ScoreX(nn.Module):
    """The node-feature network ``F_X(X, A, sigma)``, shape ``(batch, n, n_vocab)``."""

    def __init__(self, n_vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.gcn = _GCNStack(n_vocab, hidden, layers)
        self.head = _mlp(hidden * layers + n_vocab + 1, hidden, n_vocab)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        log_sigma = sigma.log()
        h = torch.cat([self.gcn(x, adj, log_sigma), x, log_sigma[:, None, None].expand(*x.shape[:2], 1)], dim=-1)
        return self.head(h)


class ScoreA(nn.Module):
    """The adjacency network ``F_A(X, A, sigma)``, ``(batch, n, n)``, symmetric with a zero diagonal.

    Pair ``(i, j)``'s first hidden layer is ``p_i * p_j + q_i + q_j + w_1 A_ij + w_2 (A^2)_ij`` from node
    projections ``p, q`` of the GCN embeddings (a linear layer over symmetric pair features, computed
    without materialising them), then an ELU MLP to one number.
    """

    def __init__(self, n_vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.gcn = _GCNStack(n_vocab, hidden, layers)
        self.product = nn.Linear(hidden * layers + 1, hidden)
        self.sum = nn.Linear(hidden * layers + 1, hidden)
        self.edge = nn.Linear(2, hidden, bias=False)
        self.head = nn.Sequential(nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, adj: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        log_sigma = sigma.log()
        b, n = x.shape[:2]
        h = torch.cat([self.gcn(x, adj, log_sigma), log_sigma[:, None, None].expand(-1, n, 1)], dim=-1)
        p, q = self.product(h), self.sum(h)
        i, j = torch.triu_indices(n, n, 1, device=x.device)  # each node pair once
        edge = self.edge(torch.stack([adj[:, i, j], (adj @ adj)[:, i, j] / n], dim=-1))
        pre = p[:, i] * p[:, j] + q[:, i] + q[:, j] + edge
        f = x.new_zeros(b, n, n)
        f[:, i, j] = self.head(pre).squeeze(-1)  # upper triangle, mirrored: symmetric, zero diagonal
        return f + f.transpose(-1, -2)


class GDSS(nn.Module):
    """The two score networks of one space: ``forward(X, A, sigma) -> (s_X, s_A)``."""

    def __init__(self, shape: tuple[int, int], hidden: int, layers: int) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.score_x = ScoreX(shape[1], hidden, layers)
        self.score_a = ScoreA(shape[1], hidden, layers)

    def forward(self, x: torch.Tensor, adj: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores from the denoisers ``D = c_skip * state + c_out * F(c_in * X, c_in * A, sigma)`` (EDM
        preconditioning with data scale 1: ``c_in = c_out / sigma = 1 / sqrt(1 + sigma^2)``,
        ``c_skip = c_in^2``), ``score = (D - state) / sigma^2``."""
        s = sigma[:, None, None]
        c_in = (1.0 + s**2).rsqrt()
        fx, fa = self.score_x(x * c_in, adj * c_in, sigma), self.score_a(x * c_in, adj * c_in, sigma)
        return ((c_in**2 * x + s * c_in * fx) - x) / s**2, ((c_in**2 * adj + s * c_in * fa) - adj) / s**2


@dataclass
class GDSSResult:
    model: GDSS  # the EMA weights
    losses: list[float]
    seconds: float


def graph_data(space: SearchSpace, archs: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, A)`` of ``archs`` on the [-1, 1] scale: ``(len, n, n_vocab)`` and ``(len, n, n)``."""
    x = to_unit(space.encode_batch(archs))
    a = to_unit(undirected(space.adjacency)) * (1.0 - torch.eye(space.n_nodes))  # zero diagonal
    return x, a.expand(len(archs), -1, -1)


def dsm_loss(model: GDSS, sde: VESDE, x0: torch.Tensor, a0: torch.Tensor, eps: float,
             g: torch.Generator) -> torch.Tensor:
    """Denoising score matching on ``X`` (all entries) plus ``A`` (node pairs ``i < j``), one time per graph."""
    b, n = a0.shape[:2]
    t = (torch.rand(b, generator=g) * (sde.T - eps) + eps).to(x0.device)
    zx = randn(x0.shape, g, x0.device)
    za = symmetric_noise(b, n, g, x0.device)
    std = sde.marginal_prob(x0, t)[1]
    sx, sa = model(x0 + std[:, None, None] * zx, a0 + std[:, None, None] * za, std)
    upper = torch.ones(n, n, dtype=torch.bool, device=x0.device).triu(1)
    loss_x = ((sx * std[:, None, None] + zx) ** 2).mean()
    loss_a = ((sa * std[:, None, None] + za)[:, upper] ** 2).mean()
    return loss_x + loss_a


def train(space: SearchSpace, cfg: GDSSConfig, archs: Sequence[str], device: str = "cpu",
          progress: bool = False) -> GDSSResult:
    """Train both score networks on ``archs`` for ``cfg.steps`` steps; returns the EMA network.

    Initialisation uses ``cfg.seed``; batches, times and noise come from one CPU generator seeded with it,
    so a run is deterministic on the CPU and draws the same noise on every device.
    """
    from nagkit.device import resolve_device

    dev = resolve_device(device)
    if not archs:
        raise ValueError("GDSS needs a non-empty training set")
    sde = make_sde(space)
    x_all, a_all = graph_data(space, archs)
    x_all, a_all = x_all.to(dev), a_all.to(dev)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = GDSS(space.shape, cfg.hidden, cfg.layers).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    losses: list[torch.Tensor] = []
    start = time.perf_counter()
    for _ in tqdm(range(cfg.steps), desc=f"GDSS {space.name}", disable=not enabled(progress)):
        idx = torch.randint(0, len(archs), (cfg.batch_size,), generator=g).to(dev)
        loss = dsm_loss(model, sde, x_all[idx], a_all[idx], cfg.eps, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.mul_(cfg.ema).add_(p, alpha=1 - cfg.ema)
        losses.append(loss.detach())
    history = torch.stack(losses).cpu().tolist()
    return GDSSResult(ema.eval(), history, time.perf_counter() - start)


def _langevin(x: torch.Tensor, grad: torch.Tensor, noise: torch.Tensor, snr: float) -> torch.Tensor:
    step = 2 * (snr * noise.flatten(1).norm(dim=1).mean() / grad.flatten(1).norm(dim=1).mean().clamp_min(1e-12)) ** 2
    return x + step * grad + torch.sqrt(2 * step) * noise


def sample(model: GDSS, sde: VESDE, n: int, cfg: GDSSConfig,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` continuous ``(X, A)`` samples on the [-1, 1] scale (CPU tensors), by the PC sampler."""
    if not n >= 0:
        raise ValueError(f"the number of samples must be >= 0, got {n}")
    model.eval()
    device = model_device(model)
    check = FiniteCheck(device)
    nodes, vocab = model.shape
    times = torch.linspace(sde.T, cfg.eps, cfg.sample_steps + 1)
    grid = times.to(device)

    def score(x: torch.Tensor, a: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            sx, sa = model(x, a, sde.noise_level(t))
        return check(sx, "X score", t), check(sa, "A score", t)

    xs, adjs = [], []
    for begin in range(0, n, cfg.sample_batch):
        b = min(cfg.sample_batch, n - begin)
        x = randn((b, nodes, vocab), generator, device) * sde.sigma_max
        a = symmetric_noise(b, nodes, generator, device) * sde.sigma_max
        for i in range(cfg.sample_steps):
            t = grid[i].expand(b)
            dt = float(times[i + 1] - times[i])
            sx, sa = score(x, a, t)
            x = _langevin(x, sx, randn(x.shape, generator, device), cfg.snr)
            a = _langevin(a, sa, symmetric_noise(b, nodes, generator, device), cfg.snr)
            sx, sa = score(x, a, t)
            g2 = sde.sde(x, t)[1]
            x = x - g2**2 * sx * dt + g2 * (-dt) ** 0.5 * randn(x.shape, generator, device)
            a = a - g2**2 * sa * dt + g2 * (-dt) ** 0.5 * symmetric_noise(b, nodes, generator, device)
            check(x, "X state", t)
            check(a, "A state", t)
        t_end = grid[-1].expand(b)
        std = sde.noise_level(t_end)[:, None, None]
        sx, sa = score(x, a, t_end)
        xs.append(x + std**2 * sx)
        adjs.append(a + std**2 * sa)
        check.flush()
    if not xs:
        return torch.zeros(0, nodes, vocab), torch.zeros(0, nodes, nodes)
    return torch.cat(xs).cpu(), torch.cat(adjs).cpu()


def decode_graphs(space: SearchSpace, x: torch.Tensor, a: torch.Tensor, rule: str = "graph") -> list[str | None]:
    """Architecture strings of sampled graphs (``None`` where invalid) under ``rule`` (module docstring)."""
    if rule not in RULES:
        raise ValueError(f"GDSS validity rule must be one of {RULES}, got {rule!r}")
    if space.adjacency.tril().any():
        raise ValueError(f"the {space.name} adjacency is not in topological index order")
    ops = discretize(x, "argmax", space.optional_rows)
    edges_ok = ((a > 0).triu(1) == space.adjacency.triu(1)).flatten(1).all(dim=1)
    return [space.decode_or_none(m) if rule == "nodes" or ok else None for m, ok in zip(ops, edges_ok.tolist())]


def quality(space: SearchSpace, x: torch.Tensor, a: torch.Tensor, train_archs: Sequence[str]) -> dict[str, dict]:
    """``nagkit.metrics.generation_quality`` of the samples under each validity rule."""
    return {rule: generation_quality(space, decode_graphs(space, x, a, rule), train_archs) for rule in RULES}
