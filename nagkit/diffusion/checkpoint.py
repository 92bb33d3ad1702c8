"""Score-network checkpoints: atomic writes, ``weights_only=True`` loads, clear errors.

A checkpoint is a dict of tensors and plain values: ``format``, ``space``, ``shape``,
``net_config`` / ``train_config`` (plain dicts), ``model`` and ``ema`` (state dicts), and for
resumable training checkpoints ``optimizer``, ``step``, ``rng`` (the data generator's state),
``torch_rng`` and ``losses``. Exported checkpoints (the packaged ones) keep only the EMA weights.
"""
from __future__ import annotations

from pathlib import Path

import torch

from nagkit.diffusion.scorenet import ScoreNet, ScoreNetConfig
from nagkit.resources import RESOURCES
from nagkit.spaces.base import SearchSpace
from nagkit.storage import atomic_torch_save

FORMAT = "nagkit-scorenet/1"


def load_checkpoint(path: str | Path, space: SearchSpace | None = None) -> dict:
    """Read a checkpoint with ``weights_only=True``; ``ValueError`` naming the file when it is
    unreadable, not a score-net checkpoint, or made for another space / shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"score-net checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated / foreign files
        raise ValueError(f"{path}: not a readable score-net checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a nagkit score-net checkpoint (expected format {FORMAT!r})")
    if space is not None:
        if ckpt["space"] != space.name:
            raise ValueError(f"{path}: checkpoint is for space {ckpt['space']!r}, not {space.name!r}")
        if tuple(ckpt["shape"]) != space.shape:
            raise ValueError(f"{path}: checkpoint shape {tuple(ckpt['shape'])} != space shape {space.shape}")
    return ckpt


def load_weights(model: torch.nn.Module, state: dict, path: str | Path, what: str) -> None:
    """``load_state_dict`` with a ``ValueError`` listing the missing / unexpected / mis-shaped keys."""
    own = model.state_dict()
    bad = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
           if k in own and v.shape != own[k].shape]
    missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if bad or missing or extra:
        raise ValueError(f"{path}: {what} weights do not fit the network (mis-shaped {bad[:3]}, "
                         f"missing {missing[:3]}, unexpected {extra[:3]})")
    model.load_state_dict(state)


def load_scorenet(path: str | Path, space: SearchSpace, ema: bool = True) -> tuple[ScoreNet, dict]:
    """Network (EMA weights by default, in eval mode) and the checkpoint dict."""
    ckpt = load_checkpoint(path, space)
    try:
        model = ScoreNet(space, ScoreNetConfig(**ckpt["net_config"]))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad net_config {ckpt['net_config']} ({err})") from err
    which = "ema" if ema or "model" not in ckpt else "model"
    load_weights(model, ckpt[which], path, which)
    return model.eval(), ckpt


def export_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Small, sampling-only copy of a training checkpoint: configs, losses and EMA weights."""
    ckpt = load_checkpoint(src)
    keep = ("format", "space", "shape", "net_config", "train_config", "step", "losses")
    return atomic_torch_save({**{k: ckpt[k] for k in keep}, "ema": ckpt["ema"]}, dst)


def trained_checkpoint(space_name: str, profile: str, pos_emb: bool = True) -> Path:
    """Where notebook 02 (``python -m nagkit.notebooks --profile PROFILE --only 02``) leaves the score net
    of a non-quick profile: ``<cache root>/scorenets/02_scorenet_<space>_<profile>[_nopos].pt``."""
    from nagkit.paths import cache_dir

    return cache_dir("scorenets") / f"02_scorenet_{space_name}_{profile}{'' if pos_emb else '_nopos'}.pt"


def profile_checkpoint(space_name: str, profile: str, pos_emb: bool = True, path: str | Path | None = None) -> Path:
    """The score-net checkpoint a profile samples from: ``path`` when given; ``quick``: the packaged one;
    ``paper`` / ``smoke``: the net of that profile trained by notebook 02 (never the quick one silently),
    ``FileNotFoundError`` saying how to train it when it is not there."""
    from nagkit.profiles import check_profile

    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no score-net checkpoint at {path}")
        return Path(path)
    if check_profile(profile) == "quick":
        return packaged_checkpoint(space_name, pos_emb)
    trained = trained_checkpoint(space_name, profile, pos_emb)
    if not trained.is_file():
        flag = "" if pos_emb else " --no-pos-emb"
        raise FileNotFoundError(
            f"the {profile}-profile score net of {space_name} is not trained ({trained} is missing): run notebook 02 "
            f"(`python -m nagkit.notebooks --profile {profile} --only 02`) or `nagkit train-scorenet --space "
            f"{space_name} --profile {profile}{flag} --out {trained}`, or pass a checkpoint path")
    return trained


def packaged_checkpoint(space_name: str, pos_emb: bool = True) -> Path:
    """Path of the quick-profile checkpoint shipped with nagkit (see resources/SCORENET.md)."""
    path = RESOURCES / f"scorenet_{space_name}_quick{'' if pos_emb else '_nopos'}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no packaged score-net checkpoint for space {space_name!r} at {path}")
    return path
