"""OFA MobileNetV3-Large subnets in plain PyTorch, built from an MBV3 string (nagkit.spaces.mbv3).

Module names follow OFA's extracted subnets (``first_conv``, ``blocks.i.conv.{inverted_bottleneck,
depth_conv,point_linear}``, ``final_expand_layer``, ``feature_mix_layer``, ``classifier``) so that
supernet weights map onto them by slicing (:func:`load_ofa_weights`).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from nagkit.nets.base import NetBuilder
from nagkit.spaces import mbv3 as space

IN_CHANNELS = 3  # the stem takes RGB; grayscale data is repeated to 3 channels


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "h_swish": nn.Hardswish}[name]()


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: str | None = None) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = [
        ("conv", nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)),
        ("bn", nn.BatchNorm2d(cout)),
    ]
    if act is not None:
        layers.append(("act", _act(act)))
    return nn.Sequential(OrderedDict(layers))


class SqueezeExcite(nn.Module):
    """Global average pool -> 1x1 reduce (bias) -> ReLU -> 1x1 expand (bias) -> hard sigmoid -> scale."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(OrderedDict([
            ("reduce", nn.Conv2d(channels, mid, 1)),
            ("relu", nn.ReLU()),
            ("expand", nn.Conv2d(mid, channels, 1)),
            ("h_sigmoid", nn.Hardsigmoid()),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3), keepdim=True))


class MBConv(nn.Module):
    """1x1 expand (BN, act; absent for expand 1) -> kxk depthwise (BN, act) -> [SE] -> 1x1 project (BN)."""

    def __init__(self, b: space.Block) -> None:
        super().__init__()
        self.inverted_bottleneck = _conv_bn(b.in_ch, b.mid, 1, act=b.act) if b.expand != 1 else None
        self.depth_conv = _conv_bn(b.mid, b.mid, b.kernel, b.stride, groups=b.mid, act=b.act)
        if b.se_mid:
            self.depth_conv.add_module("se", SqueezeExcite(b.mid, b.se_mid))
        self.point_linear = _conv_bn(b.mid, b.out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class ResidualBlock(nn.Module):
    """An MBConv with an identity shortcut when stride is 1 and widths match."""

    def __init__(self, b: space.Block) -> None:
        super().__init__()
        self.conv = MBConv(b)
        self.residual = b.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MBV3Net(nn.Module):
    """Stem -> MBConv blocks -> 1x1 final expand -> global pool -> 1x1 feature mix -> dropout -> linear."""

    def __init__(self, arch: str, n_classes: int = 1000, dropout: float = 0.1) -> None:
        super().__init__()
        self.arch = arch
        self.first_conv = _conv_bn(IN_CHANNELS, space.STEM_WIDTH, 3, stride=2, act="h_swish")
        self.blocks = nn.ModuleList(ResidualBlock(b) for b in space.blocks(arch))
        self.final_expand_layer = _conv_bn(space.STAGE_WIDTHS[-1], space.FINAL_EXPAND_WIDTH, 1, act="h_swish")
        self.feature_mix_layer = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(space.FINAL_EXPAND_WIDTH, space.FEATURE_MIX_WIDTH, 1, bias=False)),
            ("act", nn.Hardswish()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("dropout", nn.Dropout(dropout)),
            ("linear", nn.Linear(space.FEATURE_MIX_WIDTH, n_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        x = self.final_expand_layer(x).mean(dim=(2, 3), keepdim=True)
        return self.classifier(self.feature_mix_layer(x).flatten(1))


def _init(model: nn.Module, generator: torch.Generator | None) -> None:
    """OFA's 'he_fout' init: conv ~ N(0, 2 / (k*k*out)), linear ~ U(+-1/sqrt(in)), biases 0, BN (1, 0)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            std = (2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)) ** 0.5
            nn.init.normal_(m.weight, 0.0, std, generator=generator)
        elif isinstance(m, nn.Linear):
            bound = m.in_features**-0.5
            nn.init.uniform_(m.weight, -bound, bound, generator=generator)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
        if getattr(m, "bias", None) is not None:
            nn.init.zeros_(m.bias)


def build_mbv3(arch: str, n_classes: int = 1000, dropout: float = 0.1, seed: int | None = None) -> MBV3Net:
    """Randomly initialised subnet for ``arch`` (seeded when ``seed`` is given); ``ValueError`` on a bad string."""
    model = MBV3Net(arch, n_classes, dropout)
    _init(model, torch.Generator().manual_seed(seed) if seed is not None else None)
    return model


def build_for_training(arch: str, n_classes: int, in_channels: int, config, seed: int,
                       ofa_weights: str | Path | None = None) -> MBV3Net:
    """The :class:`~nagkit.nets.base.NetBuilder` of MBV3: a subnet with ``config.dropout`` before the
    classifier, initialised under ``seed``; it starts from the OFA supernet's weights when
    ``ofa_weights`` (a supernet checkpoint) is given (the classifier stays initialised when
    ``n_classes`` differs). The stem always takes :data:`IN_CHANNELS` channels (``in_channels``
    is not used: the trainer repeats grayscale images to them, see ``NET.fixed_in_channels``)."""
    model = build_mbv3(arch, n_classes, config.dropout, seed=seed)
    if ofa_weights is not None:
        load_ofa_weights(model, ofa_weights)
    return model


def count_flops(model: nn.Module, resolution: int = 224) -> float:
    """MFLOPs (multiply-adds) of Conv2d and Linear layers on one ``resolution`` x ``resolution`` image,
    counted by forward hooks: ``in / groups * k * k`` per conv output element, ``in`` per linear output."""
    total = 0

    def hook(m: nn.Module, _: tuple, y: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] * y.numel()
        else:
            total += m.in_features * y.numel()

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    p = next(model.parameters())
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, IN_CHANNELS, resolution, resolution, device=p.device, dtype=p.dtype))
    finally:
        model.train(training)
        for h in handles:
            h.remove()
    return total / 1e6


def _supernet_key(key: str) -> str:
    """OFA supernet checkpoint key -> extracted-subnet naming (undo the dynamic wrappers' doubled names)."""
    key = key.removeprefix("module.").replace(".mobile_inverted_conv.", ".conv.")
    for dynamic, static in ((".bn.bn.", ".bn."), (".conv.conv.", ".conv."), (".linear.linear.", ".linear.")):
        key = key.replace(dynamic, static)
    return key


def _shrink_kernel(w: torch.Tensor, k: int, matrices: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """OFA elastic kernel: centre-crop 7 -> 5 -> 3, each step followed by its learned ``KtoK'_matrix``."""
    while w.shape[-1] > k:
        src, dst = w.shape[-1], w.shape[-1] - 2
        w = w[:, :, 1:-1, 1:-1]
        m = matrices.get(f"{prefix}.{src}to{dst}_matrix")
        if m is not None:
            w = (w.reshape(-1, dst * dst) @ m.T).reshape(w.shape)
    return w


def load_ofa_weights(model: MBV3Net, state_dict_path: str | Path) -> list[str]:
    """Copy the subnet's weights out of an OFA MobileNetV3 supernet checkpoint (width 1.0,
    ``ofa_mbv3_d234_e346_k357_w1.0``): stage s layer l of the subnet is supernet block
    ``1 + 4 s + l``; channels are sliced to the first ``mid`` (OFA sorts them by importance),
    kernels shrunk as OFA does. Returns the keys left as initialised (the classifier when
    ``n_classes`` differs from the checkpoint's). Never downloads anything.
    """
    path = Path(state_dict_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"OFA supernet checkpoint not found: {path}. Download ofa_mbv3_d234_e346_k357_w1.0 from the "
            "OFA model zoo (github.com/mit-han-lab/once-for-all) yourself and pass its path."
        )
    raw = torch.load(path, map_location="cpu", weights_only=True)
    raw = raw.get("state_dict", raw)
    sd = {_supernet_key(k): v for k, v in raw.items()}
    stages = space.parse(model.arch)
    index = [0] + [1 + space.MAX_DEPTH * s + l for s, layers in enumerate(stages) for l in range(len(layers))]
    loaded, skipped = {}, []
    for name, target in model.state_dict().items():
        parts = name.split(".")
        if parts[0] == "blocks":
            parts[1] = str(index[int(parts[1])])
        key = ".".join(parts)
        if key not in sd:
            raise KeyError(f"{path}: no {key!r} (for {name!r}); is this an OFA MobileNetV3 w1.0 supernet checkpoint?")
        src = sd[key]
        if name.startswith("classifier.") and src.shape[0] != target.shape[0]:
            skipped.append(name)
            loaded[name] = target
            continue
        if name.endswith("depth_conv.conv.weight"):
            src = _shrink_kernel(src[: target.shape[0]], target.shape[-1], sd, key.removesuffix(".weight"))
        if src.dim() != target.dim() or any(s < t for s, t in zip(src.shape, target.shape)):
            raise ValueError(f"{path}: {key!r} {tuple(src.shape)} cannot hold {name!r} {tuple(target.shape)}")
        loaded[name] = src[tuple(slice(0, t) for t in target.shape)].to(target.dtype)
    model.load_state_dict(loaded)
    return skipped


NET = NetBuilder(build_for_training, fixed_in_channels=IN_CHANNELS)  # registered in nagkit.nets.NETS
