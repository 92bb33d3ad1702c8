"""The score network: a transformer over the nodes of an architecture DAG (method.md section 2).

Input ``x_t`` of shape ``(batch, n_nodes, n_vocab)`` (the noised [-1, 1] node features) and the
noise std ``sigma(t)`` of shape ``(batch,)``; output the score, same shape as ``x_t``.

Attention mask (``mask`` / ``direction``), built once from the space and used identically in
training and sampling because it is a buffer of the module: node ``i`` attends to node ``j`` when
``j == i`` or ``j`` is a successor of ``i`` (``mask="adjacency"``: direct edge ``i -> j``;
``mask="reachability"``: a path ``i -> j``); ``direction="both"`` also lets ``i`` attend to its
predecessors. ``mask="none"`` is full attention.

Output parameterisation (``param``): ``"score"`` (the authors') returns ``head(h) / sigma``;
``"denoiser"`` is the EDM preconditioning (Karras et al. 2022) with data scale ``SIGMA_DATA``: the
input is scaled by ``1 / sqrt(sigma^2 + 1)`` and the network predicts the clean features as
``D = c_skip x + c_out F``, returned as the score ``(D - x) / sigma^2``; ``"categorical"`` predicts,
per row, a distribution over the row's possible clean states (each type one-hot, plus "empty" in
spaces with unused slots) with logits ``F + 2 x / sigma^2`` (the Gaussian log-likelihood of each state
relative to "empty", so the network learns the context-dependent prior correction ``F``), and
returns the score of that posterior mean ``D = 2 p - 1``. All three give a score; none constrains
which rows may be empty together, which the network must learn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from nagkit.spaces.base import SearchSpace

POS_EMBS = ("index", "stage", "none")
MASKS = ("reachability", "adjacency", "none")
DIRECTIONS = ("successors", "both")
PARAMS = ("score", "denoiser", "categorical")
HEADS = ("linear", "concat")
# RMS of the training features: every entry is -1 or +1 on the [-1, 1] scale.
SIGMA_DATA = 1.0


@dataclass(frozen=True)
class ScoreNetConfig:
    """Sizes and switches of :class:`ScoreNet` (defaults: the authors' encoder sizes).

    ``head="linear"``: final LayerNorm and a linear map to the vocabulary; ``head="concat"`` (the
    authors'): every layer's output LayerNorm'ed and concatenated (``layers * width`` per node), then
    an ELU MLP ``-> head_hidden -> head_hidden -> n_vocab``. ``time_hidden``: hidden width of the
    noise-level MLP (``None``: ``width``; the authors use ``4 * width``).
    """

    layers: int = 12
    width: int = 64
    heads: int = 8
    ffn: int = 128
    pos_emb: str = "index"  # "index" (node index) | "stage" (slot-in-stage + stage) | "none"
    mask: str = "reachability"
    direction: str = "successors"
    param: str = "score"
    head: str = "linear"
    head_hidden: int = 1536
    time_hidden: int | None = None

    def __post_init__(self) -> None:
        for name, value, allowed in (("pos_emb", self.pos_emb, POS_EMBS), ("mask", self.mask, MASKS),
                                     ("direction", self.direction, DIRECTIONS), ("param", self.param, PARAMS),
                                     ("head", self.head, HEADS)):
            if value not in allowed:
                raise ValueError(f"ScoreNetConfig.{name} must be one of {allowed}, got {value!r}")
        if self.width % self.heads or self.width % 2:
            raise ValueError(f"width {self.width} must be even and divisible by heads {self.heads}")


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sinusoidal embedding of real ``positions`` (shape ``(n,)``) -> ``(n, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def attention_allowed(space: SearchSpace, mask: str, direction: str) -> torch.Tensor:
    """Bool ``(n, n)``: ``[i, j]`` is True when node ``i`` may attend to node ``j``."""
    n = space.n_nodes
    if mask == "none":
        return torch.ones(n, n, dtype=torch.bool)
    edges = space.reachability() if mask == "reachability" else space.adjacency.bool()
    if direction == "both":
        edges = edges | edges.T
    return edges | torch.eye(n, dtype=torch.bool)


def position_embedding(space: SearchSpace, kind: str, width: int) -> torch.Tensor:
    """Fixed ``(n_nodes, width)`` embedding; ``"stage"`` needs a staged space (``space.stage_layout()``)."""
    n = space.n_nodes
    if kind == "none":
        return torch.zeros(n, width)
    if kind == "index":
        return sinusoid(torch.arange(n), width)
    layout = space.stage_layout()
    if layout is None:
        raise ValueError(f"pos_emb='stage' needs a staged space; {space.name!r} declares no stage_layout()")
    slot, stage = layout
    return torch.cat([sinusoid(slot, width // 2), sinusoid(stage, width - width // 2)], dim=1)


class ScoreNet(nn.Module):
    """Masked transformer encoder returning the score of the noised features (``param``: see the
    module docstring).

    The noise level enters as a sinusoidal embedding of ``100 log sigma`` through a small MLP,
    added to every node.
    """

    def __init__(self, space: SearchSpace, config: ScoreNetConfig) -> None:
        super().__init__()
        self.config = config
        self.space_name, self.shape = space.name, space.shape
        w = config.width
        self.embed = nn.Linear(space.n_vocab, w)
        t = config.time_hidden or w
        self.time = nn.Sequential(nn.Linear(w, t), nn.SiLU(), nn.Linear(t, w))
        layer = nn.TransformerEncoderLayer(w, config.heads, config.ffn, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.empty_state = config.param == "categorical" and space.optional_rows
        n_out = space.n_vocab + int(self.empty_state)
        if config.head == "linear":
            self.norm = nn.LayerNorm(w)
            self.head = nn.Linear(w, n_out)
        else:
            self.norms = nn.ModuleList(nn.LayerNorm(w) for _ in range(config.layers))
            hidden = config.head_hidden
            self.head = nn.Sequential(nn.Linear(config.layers * w, hidden), nn.ELU(), nn.Linear(hidden, hidden),
                                      nn.ELU(), nn.Linear(hidden, n_out))
        self.register_buffer("pos", position_embedding(space, config.pos_emb, w), persistent=False)
        allowed = attention_allowed(space, config.mask, config.direction)
        self.register_buffer("blocked", ~allowed, persistent=False)

    def features(self, h: torch.Tensor) -> torch.Tensor:
        """Encoder output the head reads: the last layer's (``linear``) or every layer's, concatenated."""
        if self.config.head == "linear":
            return self.norm(self.encoder(h, mask=self.blocked))
        outs = []
        for layer, norm in zip(self.encoder.layers, self.norms):
            h = layer(h, src_mask=self.blocked)
            outs.append(norm(h))
        return torch.cat(outs, dim=-1)

    def _head_output(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        total = sigma[:, None, None] ** 2 + SIGMA_DATA**2
        inp = x if self.config.param == "score" else x / total.sqrt()
        h = self.embed(inp) + self.pos + self.time(sinusoid(100.0 * torch.log(sigma), self.config.width))[:, None, :]
        return self.head(self.features(h))

    def clean_logits(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """``param="categorical"``: per-row logits over the clean states (the types, then "empty" in
        spaces with optional rows)."""
        if self.config.param != "categorical":
            raise ValueError(f"clean_logits needs param='categorical', not {self.config.param!r}")
        out = self._head_output(x, sigma)
        logits = out[..., : x.shape[-1]] + 2.0 * x / sigma[:, None, None] ** 2
        return torch.cat([logits, out[..., -1:]], dim=-1) if self.empty_state else logits

    @staticmethod
    def score_from_logits(x: torch.Tensor, sigma: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Score of the posterior mean ``2 p - 1`` of the categorical clean-state logits."""
        probs = torch.softmax(logits, dim=-1)[..., : x.shape[-1]]
        return (2.0 * probs - 1.0 - x) / sigma[:, None, None] ** 2

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        if self.config.param == "categorical":
            return self.score_from_logits(x, sigma, self.clean_logits(x, sigma))
        s = sigma[:, None, None]
        out = self._head_output(x, sigma)
        if self.config.param == "score":
            return out / s
        # D = c_skip x + c_out F with c_skip = sd^2 / total, c_out = s sd / sqrt(total); score = (D - x) / s^2
        total = s**2 + SIGMA_DATA**2
        return -x / total + SIGMA_DATA * out / (s * total.sqrt())


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
