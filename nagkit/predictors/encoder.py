"""Graph encoder of architecture matrices: a directed GCN over the space's constant adjacency."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import DirGNNConv, GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

CONVS = ("gcn", "dirgcn")


@dataclass(frozen=True)
class EncoderConfig:
    """Authors' size: 4 layers of width 144.

    ``conv='dirgcn'`` (default): DirGNNConv around GCNConv, i.e. a directed GCN with separate
    weights for messages along and against the edges (plus a root weight); ``'gcn'``: GCNConv
    along the directed edges only (input -> output). Along-only loses much of the signal: on the
    NB201 surrogate task (2,000 cells) held-out Spearman 0.83 ('gcn') vs 0.98 ('dirgcn').
    """

    hidden: int = 144
    layers: int = 4
    conv: str = "dirgcn"

    def __post_init__(self) -> None:
        if self.conv not in CONVS:
            raise ValueError(f"conv must be one of {CONVS}, got {self.conv!r}")
        if self.layers < 1 or self.hidden < 1:
            raise ValueError(f"need layers >= 1 and hidden >= 1, got {self.layers}, {self.hidden}")


class GraphEncoder(nn.Module):
    """``(batch, n_nodes, n_vocab)`` node features -> ``(batch, 2 * hidden)`` graph embedding.

    The node features are projected to ``hidden``; an optional per-graph conditioning vector
    (e.g. a noise-level embedding) is added to every node; ``layers`` graph convolutions with
    ReLU follow; the readout concatenates mean and max pooling over nodes. Differentiable in x.
    """

    def __init__(self, adjacency: torch.Tensor, n_vocab: int, config: EncoderConfig = EncoderConfig()) -> None:
        super().__init__()
        self.config = config
        self.n_nodes = int(adjacency.shape[0])
        edge_index = adjacency.nonzero().t().contiguous()  # row 0: source i, row 1: target j (i -> j)
        self.register_buffer("edge_index", edge_index, persistent=False)
        # Symmetric GCN normalisation with self-loops, computed once for the fixed graph.
        loop_index, loop_weight = gcn_norm(edge_index, num_nodes=self.n_nodes, add_self_loops=True)
        self.register_buffer("norm_index", loop_index, persistent=False)
        self.register_buffer("norm_weight", loop_weight, persistent=False)
        h = config.hidden
        self.embed = nn.Linear(n_vocab, h)
        if config.conv == "gcn":
            self.convs = nn.ModuleList(GCNConv(h, h, normalize=False) for _ in range(config.layers))
        else:
            self.convs = nn.ModuleList(DirGNNConv(GCNConv(h, h)) for _ in range(config.layers))
        self.out_dim = 2 * h

    def _batched(self, index: torch.Tensor, batch: int) -> torch.Tensor:
        offsets = torch.arange(batch, device=index.device).repeat_interleave(index.shape[1]) * self.n_nodes
        return index.repeat(1, batch) + offsets

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        batch, n_nodes, _ = x.shape
        if n_nodes != self.n_nodes:
            raise ValueError(f"expected {self.n_nodes} nodes, got input of shape {tuple(x.shape)}")
        h = self.embed(x)
        if cond is not None:
            h = h + cond.unsqueeze(1)
        h = h.reshape(batch * n_nodes, -1)
        if self.config.conv == "gcn":
            index, weight = self._batched(self.norm_index, batch), self.norm_weight.repeat(batch)
            for conv in self.convs:
                h = torch.relu(conv(h, index, weight))
        else:
            index = self._batched(self.edge_index, batch)
            for conv in self.convs:
                h = torch.relu(conv(h, index))
        h = h.view(batch, n_nodes, -1)
        return torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=-1)
