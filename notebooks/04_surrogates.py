# %% [markdown]
# # 04 · Surrogates: clean, noise-aware and dataset-aware predictors
#
# DiffusionNAG ranks generated cells with a clean predictor f(X) and guides sampling with a noise-aware copy
# f(X_t, sigma(t)) (method.md §3-4). Its NB201 predictor is a *meta-predictor* f(X, D) trained on MetaD2A's 4,630
# (task, architecture, accuracy) records of 20-class ImageNet-32 subsets; the image features those records need
# (ResNet-18 features of ImageNet-32 classes) are a download, not available offline.
#
# Offline, nagkit builds **leave-one-dataset-out (LODO) surrogates** on the NB201 tables instead: the surrogate for a
# target dataset is trained only on the *other* datasets' test accuracies (the mean of their z-scored accuracies), on
# a seeded random subset of cells, and is judged on the held-out cells against the *target's* accuracy, which it never
# saw. A second source uses ImageNet16-120 alone (the one source that also serves Aircraft / Pets).
# Encoder: a directed GCN (PyG `DirGNNConv` around `GCNConv`, 4 layers, width 144), mean+max readout, MLP head.

# %% tags=["parameters"]
profile = "quick"  # "quick": 2,000 training cells, short training; "paper": 10,000 cells, long training
seed = 0

# %%
import pandas as pd
import matplotlib.pyplot as plt
import torch
from IPython.display import Image

from nagkit.benchmarks import NB201Benchmark
from nagkit.figures import save_figure
from nagkit.notebooks import output_dirs
from nagkit.paths import data_root
from nagkit.predictors import (load_class_features, load_metad2a, meta_train_predictor, predict, rank_correlation,
                               surrogate_profile)
from nagkit.transfer.lodo import (heldout_correlation, lodo_sources, source_objective, space_matrices, split,
                                  train_surrogate)
from nagkit.predictors.metad2a import MetaTrainConfig
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results

torch.set_num_threads(1)  # small graphs: one thread is as fast and never oversubscribes
FIG, RES = output_dirs(profile)
bench = NB201Benchmark()
DATASETS = bench.datasets
config = surrogate_profile(profile)
train_idx, heldout_idx = split(config.n_train, seed)
print(f"training cells: {len(train_idx)}, held-out cells: {len(heldout_idx)}")
IN16 = ("ImageNet16-120",)
sources = {(t, "LODO"): lodo_sources(t) for t in DATASETS}
sources.update({(t, "ImageNet16-120 only"): IN16 for t in ("cifar10", "cifar100")})

# %% [markdown]
# ## Clean surrogates
#
# Each distinct source set is trained once (cached under `$NAGKIT_CACHE/surrogates/`, keyed by config and seed; see `nagkit.paths`).
# "source ceiling" is the rank correlation of the source objective itself with the target on the same held-out
# cells: what a perfect model of the sources would reach.

# %% tags=["nbval-ignore-output"]
clean = {s: train_surrogate(s, False, config, seed) for s in dict.fromkeys(sources.values())}

# %% tags=["nbval-ignore-output"]
X_held = space_matrices()[heldout_idx]
preds = {src: predict(model, X_held).numpy() for src, model in clean.items()}
records = []
for (target, kind), src in sources.items():
    true = bench.table(target, "test_acc")[heldout_idx.numpy()]
    corr = rank_correlation(preds[src], true)
    ceiling = rank_correlation(source_objective(src)[heldout_idx.numpy()], true)
    records.append({"target": target, "source": kind, "trained on": " + ".join(src),
                    "spearman": corr["spearman"], "kendall": corr["kendall"],
                    "source ceiling (spearman)": ceiling["spearman"], "held-out": corr["n"]})
table = pd.DataFrame(records)
print(table.round(3).to_string(index=False))

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for ax, target in zip(axes, DATASETS):
    src = sources[(target, "LODO")]
    true = bench.table(target, "test_acc")[heldout_idx.numpy()]
    ax.scatter(true, preds[src], s=2, alpha=0.3)
    rho = table.query("target == @target and source == 'LODO'")["spearman"].item()
    ax.set(title=f"{target} <- {' + '.join(src)}\nSpearman {rho:.3f}", xlabel=f"{target} test accuracy (%)",
           ylabel="surrogate (mean z-score of sources)")
fig.tight_layout()
save_figure(fig, FIG, "04_surrogate_scatter", dpi=110)
plt.close(fig)
Image(filename=str(FIG / "04_surrogate_scatter.png"))

# %% [markdown]
# ## Noise-aware surrogates
#
# Trained on X_t = (2X - 1) + sigma(t) z under the score network's VE-SDE (sigma_min 0.1, sigma_max 5), conditioned on
# sigma(t); evaluated on 4,000 held-out cells (a seeded subset) noised at fixed diffusion times (one seeded noise
# draw per cell). The quick
# profile trains the CIFAR-10 LODO copy only (time budget); the paper profile one per target.

# %% tags=["nbval-ignore-output"]
noise_targets = ["cifar10"] if profile == "quick" else list(DATASETS)
noisy = {t: train_surrogate(sources[(t, "LODO")], True, config, seed) for t in noise_targets}

# %% tags=["nbval-ignore-output"]
times = [1e-5, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]
sigmas = config.sde().sigma(torch.tensor(times)).tolist()
curve = pd.DataFrame([{"target": target, "t": t, "sigma": s, **heldout_correlation(noisy[target], target, config, seed, t=t, n_cells=4000)}
                      for target in noise_targets for t, s in zip(times, sigmas)])
print(curve.drop(columns="n").round({"sigma": 3, "spearman": 3, "kendall": 3}).to_string(index=False))
fig, ax = plt.subplots(figsize=(6, 4))
for target, part in curve.groupby("target", sort=False):
    ax.plot(part["sigma"], part["spearman"], marker="o", label=f"{target} (LODO)")
ax.set(xscale="log", xlabel="noise level sigma(t)", ylabel="Spearman on held-out cells",
       title="Noise-aware surrogate vs noise level")
ax.legend()
fig.tight_layout()
save_figure(fig, FIG, "04_noise_levels", dpi=110)
plt.close(fig)
Image(filename=str(FIG / "04_noise_levels.png"))

# %% [markdown]
# ## MetaD2A meta-training data
#
# The authors' files are torch pickles (one needs `igraph`). nagkit converts them once, on explicit opt-in
# (`trust_pickles=True`: these are the project's offline copies of the authors' release), through a restricted
# unpickler, validates every record (x is the 8x7 one-hot of its string) and writes plain tensors that load with
# `torch.load(weights_only=True)`; that converted copy is packaged with nagkit (`nagkit/resources/metad2a_nb201.pt`,
# provenance and checksums in `nagkit/resources/PROVENANCE.md`; a test checks a fresh conversion of the originals
# equals it), so this notebook does not need the originals. The meta-predictor f(X, D) also needs the ImageNet-32 class features.

# %%
# MetaD2A's records as packaged with nagkit (converted once from the untrusted pickles of its data release,
# see nagkit/resources/PROVENANCE.md); downloaded features are looked for in `<data root>/metad2a` (`$NAGKIT_DATA`, see `nagkit.paths`).
out_dir = data_root() / "metad2a"
meta = load_metad2a()
meta_train, meta_valid = meta.split()
print(f"records: {len(meta)}, tasks with records: {len(set(meta.task.tolist()))}, tasks listed: {len(meta.task_classes)}")
print(f"classes per task: {meta.task_classes.shape[1]}, class ids {int(meta.task_classes.min())}..{int(meta.task_classes.max())}")
print(f"distinct cells: {len(set(meta.arch))}, accuracy {float(meta.acc.min()):.2f}..{float(meta.acc.max()):.2f} %"
      f" (mean {float(meta.acc.mean()):.2f})")
print(f"MetaD2A split: {len(meta_train)} training / {len(meta_valid)} validation records")

# %%
try:
    features = load_class_features(out_dir)
except FileNotFoundError as err:
    features, meta_result = None, None
    print(str(err).replace(str(data_root()), "<data root>"))
if features is not None:
    meta_model, info = meta_train_predictor(meta, features, MetaTrainConfig())
    meta_result = info["valid"]
    print({k: round(v, 3) for k, v in meta_result.items()})

# %% [markdown]
# ## Results

# %% [markdown]
# ## Regression check
#
# The surrogates are trained here: on another CPU their weights differ in the last bits, so their rank
# correlations are compared with the stored ones within a tolerance rather than as text.

# %%
CHECKS = {f"clean.{r['target']}.{r['source']}.{m}": r[m] for r in records for m in ("spearman", "kendall")}
CHECKS |= {f"noise.{r['target']}.t{r['t']:g}.spearman": r["spearman"] for r in curve.to_dict(orient="records")}
CHECKS |= {"metad2a.records": len(meta), "metad2a.tasks": len(set(meta.task.tolist()))}
TOLERANCES = {
    "clean.*": Tolerance(0.03, "rank correlation over 13,625 held-out cells of a surrogate trained on 2,000; on "
                               "an emulated other CPU (torch's portable kernels) the largest change was 0.012"),
    "noise.*": Tolerance(0.03, "correlation on 4,000 cells noised with a fixed generator; at high noise a "
                               "retrained surrogate moves it by up to about 0.01"),
    "metad2a.*": Tolerance(0, "counts read from the packaged records: exact"),
}
print(assert_matches_stored(RES / "04_surrogates.json", CHECKS, TOLERANCES))

# %% tags=["nbval-ignore-output"]
T = "Surrogates (NB201)"
NO_PAPER = ("the paper prints no NB201 surrogate correlation; this LODO surrogate on the benchmark tables "
            "stands in for the MetaD2A meta-predictor (its ImageNet-32 features are not offline)")
rows = [row(T, f"clean surrogate, {r['target']} <- {r['trained on']}: Spearman / Kendall (held-out)", "not reported",
            f"{r['spearman']:.3f} / {r['kendall']:.3f}", "deviates", NO_PAPER) for r in records]
for target in noise_targets:
    c = curve[curve.target == target].set_index("t")["spearman"]
    rows.append(row(T, f"noise-aware surrogate, {target} (LODO): Spearman at t=1e-5 / 0.5 / 1", "not reported",
                    f"{c[1e-5]:.3f} / {c[0.5]:.3f} / {c[1.0]:.3f}", "deviates", NO_PAPER))
rows.append(row(T, "MetaD2A meta-training records (records / tasks)", "4,630 / 3,031",
                f"{len(meta):,} / {len(set(meta.task.tolist())):,}", "reproduced"))
cmd = ("`nagkit fetch imagenet32-features` (MetaD2A's ImageNet-32 features, converted), then "
       "`python -m nagkit.notebooks --profile paper --only 04` (10k iterations, cached; a GPU is advisable)")
if meta_result is None:
    rows.append(row(T, "meta-predictor f(X, D) on MetaD2A data: Spearman (400 validation records)", "not reported",
                    "-", "needs", cmd))
else:
    rows.append(row(T, "meta-predictor f(X, D) on MetaD2A data: Spearman (400 validation records)", "not reported",
                    f"{meta_result['spearman']:.3f}", "deviates", "the paper prints no number to compare against"))
write_results(RES / "04_surrogates.json", "04_surrogates", profile, rows, config=repr(config), seed=seed,
              clean=records, noise_curve=curve.to_dict(orient="records"), metad2a_valid=meta_result,
              regression=CHECKS, tolerances=tolerance_table(TOLERANCES))
print(pd.DataFrame(rows)[["row", "nagkit", "status"]].to_string(index=False))
