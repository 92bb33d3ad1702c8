"""Denoising score matching for :class:`ScoreNet` (method.md section 2), resumable bit-identically.

Node features are trained in [-1, 1]: ``x = 2 * onehot - 1``, so an unused (all-zero) slot row
becomes all -1 ("no type is on"). Every random draw of training (batch indices, times, noise) comes
from one ``torch.Generator`` whose state is checkpointed with the model, the EMA weights (kept
separate from the live weights), the optimiser and the loss history, so a resumed run continues
exactly where an uninterrupted one would be.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from nagkit.diffusion.checkpoint import FORMAT, load_checkpoint, load_scorenet, load_weights, profile_checkpoint
from nagkit.diffusion.scorenet import ScoreNet, ScoreNetConfig
from nagkit.diffusion.sde import SDE, VESDE, VPSDE
from nagkit.profiles import check_profile
from nagkit.progress import Interrupted, deferred_signals, enabled, progress_bar as tqdm
from nagkit.spaces.base import SearchSpace
from nagkit.storage import atomic_torch_save


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, SDE and training-set settings."""

    steps: int = 250_000
    batch_size: int = 256
    lr: float = 2e-5
    warmup: int = 1000
    grad_clip: float = 1.0
    ema: float = 0.9999
    sde: str = "ve"  # "ve" | "vp"
    sigma_min: float = 0.1
    sigma_max: float = 5.0
    eps: float = 1e-5
    train_fraction: float = 0.5  # finite spaces: share of the enumerated space trained on
    train_samples: int = 500_000  # infinite spaces: size of the uniform training sample
    split_seed: int = 0
    seed: int = 0
    checkpoint_every: int = 5000
    # categorical nets: weight of a cross-entropy term on the clean state of each row, added to the score
    # matching loss (whose gradient vanishes as a never-seen state's probability goes to 0; see SCORENET.md)
    ce_weight: float = 0.0

    def __post_init__(self) -> None:
        counts = {"steps": self.steps, "batch_size": self.batch_size, "warmup": self.warmup,
                  "train_samples": self.train_samples, "checkpoint_every": self.checkpoint_every}
        bad = [f"{k}={v!r} (needs >= 1)" for k, v in counts.items() if not v >= 1]
        bad += [f"{k}={v!r} (needs a finite value > 0)" for k, v in (("lr", self.lr), ("grad_clip", self.grad_clip))
                if not 0 < v < math.inf]
        if not 0 <= self.ce_weight < math.inf:
            bad.append(f"ce_weight={self.ce_weight!r} (needs a finite value >= 0)")
        if not 0 <= self.ema <= 1:
            bad.append(f"ema={self.ema!r} (needs 0 <= ema <= 1)")
        if not 0 < self.sigma_min < self.sigma_max < math.inf:
            bad.append(f"sigma_min={self.sigma_min!r}, sigma_max={self.sigma_max!r} "
                       "(need 0 < sigma_min < sigma_max, finite)")
        if not 0 < self.eps < 1:
            bad.append(f"eps={self.eps!r} (needs 0 < eps < 1)")
        if not 0 < self.train_fraction <= 1:
            bad.append(f"train_fraction={self.train_fraction!r} (needs 0 < train_fraction <= 1)")
        if bad:
            raise ValueError(f"bad score-net TrainConfig: {'; '.join(bad)}")


# Steps between reading losses back from an accelerator.
LOSS_SYNC = 100
# What a checkpoint needs for training to continue from it.
RESUME_KEYS = ("net_config", "train_config", "model", "ema", "optimizer", "rng", "losses")


@dataclass
class TrainResult:
    model: ScoreNet
    ema: ScoreNet
    losses: list[float]
    seconds: float
    path: Path


def default_pos_emb(space: SearchSpace) -> str:
    """``"stage"`` for staged spaces (slot within stage + stage), else ``"index"``."""
    return "index" if space.stage_layout() is None else "stage"


def default_direction(space: SearchSpace) -> str:
    """``"both"`` in spaces with optional rows: whether a slot may be empty depends on the slots before
    it (MBV3: layer 4 only after layer 3), so its score must see them; ``"successors"`` otherwise."""
    return "both" if space.optional_rows else "successors"


def profile(space: SearchSpace, name: str, pos_emb: bool = True, seed: int = 0) -> tuple[ScoreNetConfig, TrainConfig]:
    """``quick``: a small net trained in minutes on CPU (the space's ``diffusion.quick_net`` /
    ``quick_train`` overrides); ``paper``: the authors' sizes, head (all-layer concatenation + ELU MLP,
    3,989,575 parameters on NB201), noise MLP and iterations; ``smoke``: the paper net type (concat
    head, noise MLP ``4 * width``, paper optimiser and SDE) at toy sizes, 20 steps."""
    check_profile(name)
    pe = default_pos_emb(space) if pos_emb else "none"
    defaults = space.diffusion
    direction = default_direction(space)
    if name == "paper":
        train = TrainConfig(steps=defaults.paper_steps, sigma_max=defaults.sigma_max, seed=seed)
        return ScoreNetConfig(pos_emb=pe, direction=direction, head="concat", time_hidden=256), train
    if name == "smoke":
        net = ScoreNetConfig(layers=2, width=16, heads=2, ffn=32, pos_emb=pe, direction=direction, head="concat",
                             head_hidden=32, time_hidden=64)
        train = TrainConfig(steps=20, batch_size=16, warmup=5, sigma_max=defaults.sigma_max, train_samples=256,
                            checkpoint_every=10, seed=seed)
        return net, train
    sizes = {"layers": 4, "width": 64, "heads": 4, "ffn": 128, **defaults.quick_net}
    net = ScoreNetConfig(pos_emb=pe, direction=direction, **sizes)
    settings = {"lr": 1e-3, "checkpoint_every": 1000, **defaults.quick_train}
    train = TrainConfig(steps=defaults.quick_steps, warmup=100, ema=0.999, sigma_max=defaults.sigma_max,
                        train_samples=50_000, seed=seed, **settings)
    return net, train


def train_split(space: SearchSpace, fraction: float, seed: int) -> list[str]:
    """Deterministic ``fraction`` of the enumerated space (a seeded permutation, in space order)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    archs = space.enumerate()
    perm = torch.randperm(len(archs), generator=torch.Generator().manual_seed(seed))
    keep = sorted(perm[: round(fraction * len(archs))].tolist())
    return [archs[i] for i in keep]


def training_set(space: SearchSpace, cfg: TrainConfig) -> list[str]:
    """The architectures a score net is trained on: a split of a finite space, else a uniform sample."""
    try:
        return train_split(space, cfg.train_fraction, cfg.split_seed)
    except NotImplementedError:
        return space.sample(cfg.train_samples, torch.Generator().manual_seed(cfg.split_seed))


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """One-hot (or all-zero) rows -> the [-1, 1] training scale."""
    return 2.0 * x - 1.0


def make_sde(cfg: TrainConfig) -> SDE:
    if cfg.sde == "ve":
        return VESDE(cfg.sigma_min, cfg.sigma_max)
    if cfg.sde == "vp":
        return VPSDE()
    raise ValueError(f"sde must be 've' or 'vp', got {cfg.sde!r}")


@lru_cache(maxsize=8)
def scorenet_and_sde(space_name: str, path: str | None = None, pos_emb: bool = True,
                     profile: str = "quick") -> tuple[ScoreNet, SDE]:
    """A score network for sampling and the SDE it was trained with: ``path``, else the profile's net
    (:func:`~nagkit.diffusion.checkpoint.profile_checkpoint`: packaged for quick); loaded once per process
    (do not train the returned network)."""
    from nagkit.spaces import get_space

    path = profile_checkpoint(space_name, profile, pos_emb, path)
    model, ckpt = load_scorenet(path, get_space(space_name))
    return model, make_sde(checkpoint_train_config(ckpt, path))


def checkpoint_train_config(ckpt: dict, path: str | Path) -> TrainConfig:
    """The :class:`TrainConfig` a checkpoint was trained with; ``ValueError`` naming ``path`` when it is
    missing or malformed."""
    try:
        return TrainConfig(**ckpt["train_config"])
    except KeyError:
        raise ValueError(f"{path}: checkpoint has no 'train_config' entry") from None
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad train_config in checkpoint ({err})") from None


def clean_states(x0: torch.Tensor) -> torch.Tensor:
    """Index of each row's clean state in [-1, 1] features: its type, or ``n_vocab`` for an all -1 row."""
    return torch.where(x0.amax(dim=-1) > 0, x0.argmax(dim=-1), x0.shape[-1])


def dsm_loss(model: ScoreNet, sde: SDE, x0: torch.Tensor, eps: float, g: torch.Generator,
             ce_weight: float = 0.0) -> torch.Tensor:
    """Denoising score matching, continuous time, averaged over all entries (random draws from the CPU
    generator ``g``, placed on ``x0``'s device: the same draws on every device); ``ce_weight > 0``
    (categorical nets) adds that times the cross-entropy of the predicted clean state of each row."""
    t = (torch.rand(x0.shape[0], generator=g) * (sde.T - eps) + eps).to(x0.device, non_blocking=True)
    z = torch.randn(x0.shape, generator=g).to(x0.device, non_blocking=True)
    mean, std = sde.marginal_prob(x0, t)
    noisy = mean + std[:, None, None] * z
    if not ce_weight:
        score = model(noisy, std)
        return ((score * std[:, None, None] + z) ** 2).mean()
    logits = model.clean_logits(noisy, std)
    score = model.score_from_logits(noisy, std, logits)
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), clean_states(x0).flatten())
    return ((score * std[:, None, None] + z) ** 2).mean() + ce_weight * ce


def _check_resume(ckpt: dict, net: ScoreNetConfig, cfg: TrainConfig, path: Path) -> None:
    if ckpt.get("optimizer") is None:
        raise ValueError(f"{path}: an exported checkpoint cannot be resumed (no optimiser state)")
    missing = [k for k in RESUME_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: not a resumable training checkpoint, it has no {missing} entries")
    if ScoreNetConfig(**ckpt["net_config"]) != net:
        raise ValueError(f"{path}: net config {ckpt['net_config']} != requested {asdict(net)}")
    saved = {k: v for k, v in asdict(TrainConfig(**ckpt["train_config"])).items() if k != "steps"}
    wanted = {k: v for k, v in asdict(cfg).items() if k != "steps"}
    if saved != wanted:
        diff = {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}
        raise ValueError(f"{path}: train config differs from the checkpoint's (saved, requested): {diff}")


def _to_cpu(obj):  # noqa: ANN001, ANN202 - nested state dicts
    """A copy of nested dicts / lists of tensors with every tensor on the CPU (checkpoints load anywhere)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def train(space: SearchSpace, net: ScoreNetConfig, cfg: TrainConfig, out: str | Path,
          resume: bool = False, progress: bool = True, device: str | torch.device = "cpu") -> TrainResult:
    """Train (or, with ``resume``, continue to ``cfg.steps``) and checkpoint to ``out``, on ``device``.

    Random draws (batches, times, noise) come from one CPU generator on every device, so a run resumes
    exactly on any device; on an accelerator losses are read back to the host only every
    ``LOSS_SYNC`` steps and at checkpoints (no per-step synchronisation).

    On SIGINT / SIGTERM (main thread only) the current step finishes, a resumable checkpoint is
    saved and :class:`~nagkit.progress.Interrupted` is raised; ``resume=True`` continues from it
    exactly as an uninterrupted run would have.
    """
    out, device = Path(out), torch.device(device)
    sde = make_sde(cfg)
    data = to_unit(space.encode_batch(training_set(space, cfg))).to(device)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        model = ScoreNet(space, net).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    if resume and out.exists():
        ckpt = load_checkpoint(out, space)
        _check_resume(ckpt, net, cfg, out)
        load_weights(model, ckpt["model"], out, "model")
        load_weights(ema, ckpt["ema"], out, "ema")
        opt.load_state_dict(ckpt["optimizer"])
        g.set_state(ckpt["rng"])
        losses = ckpt["losses"].tolist()
    start, t0 = len(losses), time.perf_counter()

    pending: list[torch.Tensor] = []  # losses not yet read back to the host
    sync_every = 1 if device.type == "cpu" else LOSS_SYNC

    def sync(step: int) -> None:
        """Read pending losses back; ``FloatingPointError`` when training diverged."""
        if not pending:
            return
        values = torch.stack(pending).cpu().tolist()
        pending.clear()
        for i, value in enumerate(values):
            if not math.isfinite(value):
                bad = step - len(values) + 1 + i
                raise FloatingPointError(f"score-net training diverged: loss {value} at step {bad}; "
                                         f"last good checkpoint {out} (lower lr={cfg.lr} or check the data)")
        losses.extend(values)

    def save() -> None:
        atomic_torch_save({"format": FORMAT, "space": space.name, "shape": list(space.shape),
                           "net_config": asdict(net), "train_config": asdict(cfg), "model": _to_cpu(model.state_dict()),
                           "ema": _to_cpu(ema.state_dict()), "optimizer": _to_cpu(opt.state_dict()),
                           "step": len(losses), "rng": g.get_state(), "torch_rng": torch.get_rng_state(),
                           "losses": torch.tensor(losses, dtype=torch.float64)}, out)

    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not enabled(progress),
               desc=f"score net {space.name}", mininterval=1.0)
    model.train()
    with deferred_signals() as received:
        for step in bar:
            for group in opt.param_groups:
                group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
            idx = torch.randint(data.shape[0], (cfg.batch_size,), generator=g)
            loss = dsm_loss(model, sde, data[idx.to(device)], cfg.eps, g, cfg.ce_weight)
            pending.append(loss.detach())
            if sync_every == 1:
                sync(step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            decay = min(cfg.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for e, p in zip(ema.parameters(), model.parameters()):
                    e.lerp_(p, 1.0 - decay)
            if (step + 1) % sync_every == 0:
                sync(step)
            if step % 50 == 0 and losses:
                bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
            signum = received()
            if (step + 1) % cfg.checkpoint_every == 0 or signum is not None:
                sync(step)
                save()
            if signum is not None:
                bar.close()
                raise Interrupted(f"stopped at step {len(losses)} of {cfg.steps}; resumable checkpoint saved to "
                                  f"{out} (continue with --resume, or resume=True)", signum)
    sync(cfg.steps - 1)
    save()
    return TrainResult(model.eval(), ema.eval(), losses, time.perf_counter() - t0, out)
