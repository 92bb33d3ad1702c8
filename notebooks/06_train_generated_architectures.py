# %% [markdown]
# # 06 · Training generated architectures from scratch
#
# The paper evaluates NB201 transfer NAS on **FGVC-Aircraft** (30 manufacturer classes) and **Oxford-IIIT Pets**
# (37 breeds) by training the top-ranked architectures from scratch with the NB201 recipe: SGD (Nesterov,
# momentum 0.9, weight decay 5e-4), batch 256, cosine learning rate 0.1 → 0, 200 epochs, 32×32 images, seeds
# 777/888/999 (mean ± 95% CI); validation and test sets are the two halves of the official test split.
# DiffusionNAG reports 58.83 ± 3.75 (Aircraft, 3 architectures trained) and 41.80 ± 3.82 (Pets, 2 trained).
#
# * **paper profile** = that protocol on Aircraft and Pets (not run here: needs the data and a GPU).
#   Fetch the data first: `nagkit fetch aircraft` and `nagkit fetch pets`, then
#   `python -m nagkit.notebooks --profile paper --only 06`. Without the data the notebook stops at the
#   data check with the command to run.
# * **quick profile** = a real but *reduced, offline* experiment on **Fashion-MNIST** (Debian package
#   `dataset-fashion-mnist`, read from `/usr/share/datasets/fashion-mnist`): 2,000 training images at 16×16, a
#   reduced skeleton (C=8, N=1 cell per stage), 3 epochs, 3 seeds. **Not the paper's setting**: it shows that the
#   whole path (guided generation → ranking → training) works end to end and how the chosen cells compare with
#   random cells at equal budget, on a small, noisy scale.
#
# Groups of cells, each trained at the same budget (k cells × the same seeds and epochs):
#
# * **DiffusionNAG-guided**: cells *generated* by the packaged NB201 score network with predictor guidance, the
#   functionally distinct valid ones ranked by the clean predictor, the top k trained (the paper's protocol). The
#   target datasets are not NB201 datasets, so both predictors are surrogates trained on the NB201 tables of
#   CIFAR-10, CIFAR-100 and ImageNet16-120 (mean z-scored test accuracy): a **transfer setting**, standing in for the
#   paper's dataset-conditioned meta-predictor (whose ImageNet-32 meta-training features are not available offline).
# * **CIFAR-10-ranked**: the top k cells by the benchmark's CIFAR-10 *validation* accuracy among a seeded random
#   sample of 100 cells (a non-generative transfer baseline).
# * **random**: k other cells from the same seeded stream.

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, offline, Fashion-MNIST) or "paper" (Aircraft + Pets, GPU)
seed = 0
ofa_weights = None  # path to an OFA supernet checkpoint (ofa_mbv3_d234_e346_k357_w1.0) for the MBV3 section
executor = "local"  # fan-out engine of the trainings: "local" (process pool), "serial" or "ray" (nagkit.executor)
checkpoint_dir = None  # per-epoch checkpoints of every training, rerun to resume (paper default: $NAGKIT_CACHE/trainings)

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from nagkit.benchmarks import NB201Benchmark
from nagkit.data import load_splits
from nagkit.executor import get_executor
from nagkit.figures import save_figure
from nagkit.notebooks import output_dirs
from nagkit.paper import TRANSFER_NB201_SCRATCH
from nagkit.predictors.fit import surrogate_profile
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results
from nagkit.training.generated import (SEEDS, GuidedNB201Config, baseline_groups, best_by_valid,
                                       generated_mbv3_subnets, guided_nb201_cells, train_groups, train_many)
from nagkit.training.trainer import profile as train_profile

torch.set_num_threads(1)  # small networks: one thread per process (the trainer's workers do the same)
FIG, RES = output_dirs(profile)
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 90)

# %% [markdown]
# ## Settings and data
#
# The data check fails with the command to run when a dataset is missing (`nagkit fetch …`; for Fashion-MNIST also
# the Debian package `dataset-fashion-mnist`).

# %%
K, POOL = 3, 100  # k cells per group; CIFAR-10-ranked = top k of a random pool of POOL cells
if profile == "quick":
    datasets = ["fashion-mnist"]
    config = train_profile("quick")  # 3 epochs, batch 128, C=8, N=1 (the NB201 optimiser otherwise)
    data = dict(resolution=16, n_train=2000, n_eval=1000)
    workers = 2
    generation = GuidedNB201Config()  # 20-step predictor-corrector sampler
else:
    datasets = ["aircraft", "pets"]
    config = train_profile("paper")  # the NB201 recipe and skeleton: 200 epochs, C=16, N=5
    data = dict(resolution=32)
    workers = None
    generation = GuidedNB201Config(steps=1000)  # the authors' 1,000-step sampler
print(config)
print(generation)
for d in datasets:
    splits = load_splits(d, resolution=data["resolution"])  # FileNotFoundError says what to install / fetch
    if "n_train" in data:
        splits = splits.subset(data["n_train"], data["n_eval"])
    print(f"{d}: {splits.spec.n_classes} classes, train/valid/test {len(splits.train)}/{len(splits.valid)}/"
          f"{len(splits.test)} at {splits.resolution}px\n  {splits.note}")

# %% [markdown]
# ## Guided generation on NB201 (transfer surrogates)
#
# The noise-aware surrogate guides the packaged score network (`Schedule("constant", w)`, maximise; w = 10 on the
# surrogate's z-score scale: in a sweep during development, larger scales raised the predicted score only slightly
# while the samples collapsed onto a few cells). Samples are drawn in rounds of 100 until at least 10 functionally
# distinct valid cells exist; the clean surrogate ranks them. The same sampler without guidance (w = 0) is shown
# for comparison. The surrogates are trained on the first use (about 2 minutes on 2 CPU cores) and cached under
# `$NAGKIT_CACHE/surrogates/`. The CIFAR-10 column is the benchmark's test accuracy of the valid samples: CIFAR-10 is one of
# the surrogate's sources, so this only checks that guidance moves samples where the surrogate points.

# %% tags=["nbval-ignore-output"]
surrogate = surrogate_profile(profile)
gen = {"unguided (w=0)": guided_nb201_cells(K, seed, surrogate, GuidedNB201Config(w=0, steps=generation.steps)),
       f"guided (w={generation.w:g})": guided_nb201_cells(K, seed, surrogate, generation)}
guided = gen[f"guided (w={generation.w:g})"]
bench = NB201Benchmark()
c10_mean = {}
print(f"{'sampler':15} {'samples':>7} {'valid':>6} {'distinct':>8} {'clean score, mean of distinct':>29} {'C10 test % (bench, valid samples)':>34}")
for name, g in gen.items():
    c10 = np.array([bench.query(c, "cifar10", "test_acc") for c in g["valid_cells"]])
    mean_score = np.mean([s for _, s in g["ranked"]])
    c10_mean[name] = c10.mean()
    print(f"{name:15} {g['generated']:7d} {g['valid'] / g['generated']:6.1%} {g['unique']:8d} {mean_score:29.3f} "
          f"{c10.mean():22.2f} (min {c10.min():.2f})")

# %% [markdown]
# ## The groups of cells

# %% tags=["nbval-ignore-output"]
groups = {"DiffusionNAG-guided": guided["cells"], **baseline_groups(K, POOL, seed)}
clean_score = dict(guided["ranked"])
pd.DataFrame([{"group": g, "cell": a, "C10 valid (bench)": round(bench.query(a, "cifar10", "val_acc"), 2),
               "C10 test (bench)": round(bench.query(a, "cifar10", "test_acc"), 2),
               "clean score": round(clean_score[a], 3) if a in clean_score else None}
              for g, cells in groups.items() for a in cells])

# %% [markdown]
# ## Training every (cell, seed) at equal budget
#
# Jobs go through `nagkit.executor` (parameter `executor`: local worker processes, one thread each, or Ray;
# deterministic under the seed). In the paper profile every training gets a GPU of its own (`gpu_tasks`).

# %% tags=["nbval-ignore-output"]
from nagkit.paths import cache_dir

if checkpoint_dir is None and profile != "quick":  # 54 x 200-epoch trainings: resumable
    checkpoint_dir = str(cache_dir("trainings"))
start = time.time()
results = {d: train_groups(groups, d, config, SEEDS, get_executor(executor, workers=workers, progress=profile == "paper",
                                                                  gpu_tasks=profile == "paper"),
                             progress=False, checkpoint_dir=checkpoint_dir, **data)
           for d in datasets}
elapsed = time.time() - start
print(f"{sum(len(g['runs']) for r in results.values() for g in r.values())} trainings in {elapsed:.0f} s")


# %% tags=["nbval-ignore-output"]
def fmt(s, digits=1):
    return f"{s['mean']:.{digits}f} ± {s['ci95']:.{digits}f}" if s["ci95"] is not None else f"{s['mean']:.{digits}f}"

table = pd.DataFrame([{"dataset": d, "group": g, "cell": a, "test acc % (mean ± 95% CI, 3 seeds)": fmt(s),
                       "seeds": " / ".join(f"{v:.1f}" for v in s["values"])}
                      for d, r in results.items() for g, out in r.items() for a, s in out["per_arch"].items()])
table

# %% [markdown]
# Per group: the mean over its k cells of each cell's seed-mean, with the 95% t-interval over the k cells
# (the spread between cells), and the paper's selection rule (the cell with the best validation accuracy, its test
# accuracy over seeds).

# %% tags=["nbval-ignore-output"]
summary = pd.DataFrame([{"dataset": d, "group": g, "group mean test acc % (± 95% CI over cells)": fmt(out["test_acc"]),
                         "range over cells": f"{min(out['test_acc']['values']):.1f} – {max(out['test_acc']['values']):.1f}",
                         "best cell by valid: test acc %": fmt(best_by_valid(out)[1])}
                        for d, r in results.items() for g, out in r.items()])
summary

# %%
fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 3.4), squeeze=False)
for ax, d in zip(axes[0], datasets):
    for i, (g, out) in enumerate(results[d].items()):
        runs = [r["test_acc"] for r in out["runs"]]
        ax.scatter([i + 0.05 * (j % 3 - 1) for j in range(len(runs))], runs, s=14, alpha=0.7, label=g)
        ax.errorbar(i + 0.25, out["test_acc"]["mean"], yerr=out["test_acc"]["ci95"] or 0, fmt="k_", capsize=4)
    ax.set_xticks(range(len(results[d])), list(results[d]))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{d} ({'reduced quick setting' if profile == 'quick' else 'NB201 recipe'})")
fig.tight_layout()
save_figure(fig, FIG, "06_group_accuracies", dpi=120)

# %% [markdown]
# ## MobileNetV3 subnets generated by the score network (pipeline check)
#
# The paper's MBV3 protocol generates 5,000 subnets, ranks them with the meta-predictor and fine-tunes the top 30
# from OFA supernet weights (20 epochs, 224 px, 3 seeds); that needs the OFA weights, an MBV3 accuracy predictor
# and a GPU. Here the packaged MBV3 score network generates 100 subnets (unguided: no MBV3 accuracy predictor
# exists offline); of the valid distinct ones the 2 with the most FLOPs (a capacity proxy, not the paper's
# ranking) are built and trained for 2 epochs on 1,000 Fashion-MNIST images at 32 px (grayscale repeated to 3
# channels) — from scratch, or from the OFA supernet's weights when `ofa_weights` names a supernet checkpoint.
# Before evaluation the BatchNorm statistics are re-estimated on 500 training images, as OFA does for subnets
# (after so few steps the running averages lag behind the weights). A check that generated MBV3 subnets build
# and train through the same trainer, not an accuracy result.

# %% tags=["nbval-ignore-output"]
mbv3, mbv3_gen = [], None
if profile == "quick":
    from nagkit.spaces.mbv3 import flops

    mbv3_gen = generated_mbv3_subnets(2, seed, n=100, resolution=32)
    print(f"MBV3 samples: {mbv3_gen['generated']}, valid {mbv3_gen['valid']}, distinct {mbv3_gen['unique']}; "
          f"init: {'OFA supernet weights' if ofa_weights else 'from scratch'}")
    mbv3_config = train_profile("quick", epochs=2, batch_size=100, dropout=0.0, bn_recalibrate=500)
    runs = train_many(mbv3_gen["subnets"], "fashion-mnist", mbv3_config, seeds=[777],
                      executor=get_executor(executor, workers=2, progress=False), space="mbv3", resolution=32,
                      n_train=1000, n_eval=500, progress=False, ofa_weights=ofa_weights)
    mbv3 = [{"arch": r["arch"], "init": r["init"], "params (M)": round(r["params"] / 1e6, 3),
             "MFLOPs @32px": round(flops(r["arch"], 32, 10), 1),
             "train loss (epoch 1 → 2)": " → ".join(f"{v:.2f}" for v in r["train_loss"]),
             "valid acc %": round(r["valid_acc"], 1), "test acc %": round(r["test_acc"], 1)} for r in runs]
else:
    print("MBV3: the paper protocol (top 30 of 5,000 generated, fine-tuned from OFA weights at 224 px) is not run here")
pd.DataFrame(mbv3)

# %% [markdown]
# ## Regression check
#
# Every number above comes out of training (the surrogates that guide and rank, then the networks), so on another
# CPU it differs: a network trained from the same seed on other hardware behaves like one trained under another
# seed. The numbers are compared with the stored results within tolerances set from the seed-to-seed spread of
# the stored runs, and the one claim that holds with a wide margin is asserted: guidance moves the samples to
# cells that are better on the benchmark (the surrogates' sources include CIFAR-10).

# %%
guided_name = f"guided (w={generation.w:g})"
assert c10_mean[guided_name] > c10_mean["unguided (w=0)"] + 2.0, c10_mean
# the MBV3 runs are a pipeline check (2 epochs, 1,000 images): their accuracy moved by 12 points on an emulated other
# CPU, so only the claim "they learn" is asserted: well above chance (10 classes)
assert all(r["test acc %"] > 20.0 for r in mbv3), mbv3
CHECKS = {f"generation.{name}.{k}": g[k] for name, g in gen.items() for k in ("generated", "valid", "unique")}
CHECKS |= {f"generation.{name}.c10_mean": v for name, v in c10_mean.items()}
CHECKS |= {f"train.{d}.{g}.{m}": out[m]["mean"] for d, r in results.items() for g, out in r.items()
           for m in ("test_acc", "valid_acc")}
CHECKS |= {f"mbv3.{k}": mbv3_gen[k] for k in ("generated", "valid", "unique")} if mbv3_gen else {}
TOLERANCES = {
    "generation.*.c10_mean": Tolerance(1.0, "benchmark mean of ~100 valid samples; seed sd about 0.5 guided, 1.5 unguided"),
    "generation.*": Tolerance(5, "counts of 100-sample rounds: 5 samples"),
    "train.*": Tolerance(2.0, "mean of 9 runs (3 cells x 3 seeds); one run's seed-to-seed sd is 0.5-2 points "
                              "(stored), so the mean's is <= 0.7 and a full reseed moves it by <= 1 sd of the difference"),
    "mbv3.*": Tolerance(3, "counts of 100 unguided samples: 3 samples"),
}
print(assert_matches_stored(RES / "06_train_generated_architectures.json", CHECKS, TOLERANCES))

# %% [markdown]
# ## Results

# %% tags=["nbval-ignore-output"]
PAPER = {d: (name, *TRANSFER_NB201_SCRATCH[d]) for d, name in (("aircraft", "Aircraft"), ("pets", "Pets"))}
TABLE = "Transfer NAS on NB201 (trained from scratch)"
OFFLINE = "Training from scratch, offline check (not the paper's setting)"
SETTING = (f"measured on Fashion-MNIST in a reduced CPU setting (2,000 images at 16 px, C=8, N=1, 3 epochs, seeds "
           f"{'/'.join(map(str, SEEDS))}, {K} cells per group); not a paper experiment")
rows = []
for d, (name, mean, ci, n) in PAPER.items():
    paper = f"{mean:.2f} ± {ci:.2f} ({n} trained)"
    if d not in results:
        rows.append(row(TABLE, name, paper, "not run", "needs",
                        f"needs {name} (`nagkit fetch {d}`) and a GPU: `python -m nagkit.notebooks --profile paper "
                        f"--only 06` trains {K} cells per group x 3 seeds x 200 epochs"))
        continue
    for g, out in results[d].items():
        arch, s = best_by_valid(out)
        ours = f"{fmt(s, 2)} ({g}, best of {len(out['archs'])} by valid)"
        if g != "DiffusionNAG-guided":
            rows.append(row(TABLE, f"{name} ({g})", paper, ours, "deviates",
                            f"{g} cells, not DiffusionNAG-generated ones: a baseline at the same training budget"))
            continue
        ok = s["mean"] + (s["ci95"] or 0) >= mean - ci
        note = "surrogate trained on the NB201 tables instead of the dataset-aware meta-predictor"
        rows.append(row(TABLE, name, paper, ours, "reproduced" if ok else "deviates",
                        "" if ok else f"below the paper's interval; {note}"))
if "fashion-mnist" in results:
    for g, out in results["fashion-mnist"].items():
        rows.append(row(OFFLINE, f"Fashion-MNIST test acc %, {g} (mean ± 95% CI over {K} cells)", "n/a",
                        f"{fmt(out['test_acc'])} (cells {min(out['test_acc']['values']):.1f}–{max(out['test_acc']['values']):.1f})",
                        "deviates", SETTING))
rows.append(row(OFFLINE, "guided NB201 generation: valid / distinct of samples (w=10, 20-step PC)", "n/a",
                f"{guided['valid']}/{guided['generated']} valid, {guided['unique']} distinct", "deviates",
                "sampling statistics of the candidate pool of the guided group; guidance by surrogates of the NB201 "
                "tables (transfer), not the paper's meta-predictor"))
if mbv3:
    rows.append(row(OFFLINE, "MBV3 generated subnets built and trained (Fashion-MNIST, 2 epochs, 1,000 images)", "n/a",
                    "; ".join(f"{r['test acc %']:.1f}% ({r['init']})" for r in mbv3), "deviates",
                    "pipeline check only: 2 unguided generated subnets ranked by FLOPs, not the paper's 224 px "
                    "OFA fine-tuning of the top 30"))
pd.DataFrame(rows)[["table", "row", "paper", "nagkit", "status"]]

# %%
payload = {d: {g: {"archs": out["archs"], "per_arch": out["per_arch"], "test_acc": out["test_acc"],
                   "valid_acc": out["valid_acc"], "best_by_valid": best_by_valid(out)[0],
                   "runs": [{k: v for k, v in run.items() if k != "seconds"} for run in out["runs"]]}
               for g, out in r.items()} for d, r in results.items()}
generation_record = {name: {k: g[k] for k in ("generated", "valid", "unique", "rounds")} | {"top10": g["ranked"][:10]}
                     for name, g in gen.items()}
path = write_results(RES / "06_train_generated_architectures.json", "06_train_generated_architectures", profile, rows,
                     config=config.__dict__, data=data, seeds=list(SEEDS), generation=generation.__dict__,
                     guided_generation=generation_record, groups=groups, results=payload,
                     mbv3=mbv3, mbv3_generation=mbv3_gen, seconds=round(elapsed),
                     regression=CHECKS, tolerances=tolerance_table(TOLERANCES))
print(path.name)
