"""Score-net training steps/s and sampling samples/s on a device, against the CPU (a script, not a test).

    .venv/bin/python benchmarks/bench_device.py [--device auto] [--space nb201] [--train-steps 20]
                                                [--samples 256] [--sampler-steps 20] [--authors-steps 1000]

For the quick and the paper (authors') score nets of ``--space``: training steps/s (batch 256, DSM
loss, Adam, EMA; the real ``nagkit.diffusion.train.train`` loop) and samples/s of the PC sampler with
``--sampler-steps`` (nagkit's fast sampler) and ``--authors-steps`` (the authors' 1,000-step PC
sampler, timed on ``--samples`` samples in one batch of up to 256), each on ``--device`` and on the
CPU, printed with the device/CPU ratio and, for sampling, nagkit's/authors' ratio. Training times
exclude the first step (warm-up) and include the final checkpoint write.
"""
from __future__ import annotations

import argparse

import torch

from nagkit.device import resolve_device
from nagkit.diffusion.scorenet import ScoreNet, n_parameters
from nagkit.diffusion.timing import sample_rate, train_rate
from nagkit.diffusion.train import profile
from nagkit.spaces import get_space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--space", default="nb201")
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--sampler-steps", type=int, default=20)
    p.add_argument("--authors-steps", type=int, default=1000)
    args = p.parse_args()
    device, cpu = resolve_device(args.device), torch.device("cpu")
    space = get_space(args.space)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}")
    for prof in ("quick", "paper"):
        net, cfg = profile(space, prof)
        print(f"\n{prof} net: {n_parameters(ScoreNet(space, net)):,} parameters")
        rates = {d: train_rate(space, net, cfg, args.train_steps, d) for d in dict.fromkeys((device, cpu))}
        print(f"  training: {rates[device]:.2f} steps/s on {device}, {rates[cpu]:.2f} on cpu "
              f"(x{rates[device] / rates[cpu]:.1f}); {cfg.steps:,} steps would take "
              f"{cfg.steps / rates[device] / 3600:.2f} h on {device}")
        for steps in (args.sampler_steps, args.authors_steps):
            s = {d: sample_rate(space, net, cfg, args.samples, steps, d) for d in dict.fromkeys((device, cpu))}
            print(f"  sampling, PC {steps} steps: {s[device]:.1f} samples/s on {device}, {s[cpu]:.1f} on cpu "
                  f"(x{s[device] / s[cpu]:.1f}); a 256-sample batch in {256 / s[device]:.1f} s on {device}")


if __name__ == "__main__":
    main()
