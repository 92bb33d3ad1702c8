# %% [markdown]
# # 05 · Transfer NAG on NAS-Bench-201 (the paper's main table)
#
# DiffusionNAG's transfer protocol (method.md §5): generate architectures guided by a noise-aware predictor of the
# target dataset's accuracy until at least **10 unique valid** cells exist, rank them with the clean predictor, and
# train them in rank order. The table reports the test accuracy reached and the number of architectures trained
# (DiffusionNAG: 94.37 after 1 on CIFAR-10, 73.51 after 2 on CIFAR-100, both the global optima).
#
# `nagkit.transfer.protocol` runs exactly this loop; every "training" goes through the benchmark ledger, which counts
# distinct architectures and charges their simulated NB201 training time. Per seed we record the top-ranked cell and
# its accuracy (after 1 trained), how many were trained until the target's optimum was among them (`None` when the
# optimum is not in the pool: a failure), and the max / mean / min accuracy of the pool.
#
# **Where the offline protocol deviates from the paper, and why**
# - *Predictor.* The paper's predictor is a dataset-aware meta-predictor f(X, D) meta-trained on MetaD2A's
#   ImageNet-32 tasks and fed ResNet-18 features of the target's images. Those features are a download that is not
#   available offline (the `paper` profile codes that path and stops with the loader's message). The quick profile
#   uses **leave-one-dataset-out (LODO) surrogates** instead (notebook 04): for target CIFAR-10 the predictor is
#   trained only on the CIFAR-100 and ImageNet16-120 tables, for CIFAR-100 only on CIFAR-10 and ImageNet16-120; the
#   target's labels are never read. The harder **ImageNet16-120-only** source is reported too. Both see NB201
#   accuracies of *related* datasets, which the meta-predictor does not: the calibration section shows how much the
#   true source order alone is worth.
# - *Score network and sampler.* The packaged quick score network (1,500 CPU steps, not 250k) and nagkit's 20-step
#   predictor-corrector sampler (not 1,000 steps), batches of 16 samples (not 256).
# - *Guidance scale.* The paper's w = 10,000 (minus 300 per batch) is on its predictor's scale; ours predicts the mean
#   z-score of the source accuracies, so w is re-chosen, **without the target's labels**, on a pseudo-task (below).
# - *Pool.* The candidate pool is the first 10 distinct valid strings in generation order (string-level dedupe,
#   as the paper); validity counts every sample drawn.
# - *Seeds.* 20 generation seeds per (target, source), mean and 95% CI; the paper reports one run.

# %% tags=["parameters"]
profile = "quick"  # "quick": LODO surrogates (offline); "paper": the MetaD2A meta-predictor (needs downloads)
seed = 0
executor = "local"  # fan-out engine: "local" (process pool), "serial" or "ray" (nagkit.executor)

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Image

from nagkit.benchmarks import NB201Benchmark, analysis
from nagkit.executor import get_executor
from nagkit.figures import save_figure
from nagkit.notebooks import output_dirs
from nagkit.paper import GENERATION_QUALITY, POPULATION_NB201, TRANSFER_NB201
from nagkit.paths import data_root
from nagkit.cli.transfer import parse_sources
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results
from nagkit.transfer.lodo import lodo_surrogates
from nagkit.transfer.predictors import load_predictors
from nagkit.transfer.protocol import run_seed, summarise_runs, transfer_profile
from nagkit.transfer.tuning import choose_scale, optimum_rank

torch.set_num_threads(1)
pd.set_option("display.width", 160)
FIG, RES = output_dirs(profile)
bench = NB201Benchmark()
config = transfer_profile(profile)
TARGETS = ("cifar10", "cifar100") if profile == "quick" else ("cifar10", "cifar100", "ImageNet16-120")
SOURCES = {"lodo": "LODO (the other two datasets)", "imagenet16": "ImageNet16-120 only"}
SEEDS = [seed + i for i in range(20)]
pool = get_executor(executor, progress=False)
OPTIMA = {t: bench.optimum(t)[1] for t in TARGETS}
print({t: round(v, 2) for t, v in OPTIMA.items()})

# %% [markdown]
# ## Predictors
#
# The `paper` profile asks for the MetaD2A meta-predictor; without the downloaded ImageNet-32 features it stops
# with the loader's message and this notebook falls back to the LODO surrogates (a `needs` row records it). The
# surrogates are trained once per source set and cached under `$NAGKIT_CACHE/surrogates/` (about a minute each on 2 cores).

# %%
meta_error = None
if config.predictor == "metad2a":
    try:
        load_predictors("cifar10", (), config, seed=0)
    except FileNotFoundError as err:
        meta_error = str(err).replace(str(data_root()), "<data root>")
        config = replace(config, predictor="lodo")
print(f"predictor: {config.predictor}; meta-predictor: {meta_error or 'not requested'}")

# %% tags=["nbval-ignore-output"]
for target in TARGETS:
    for source in SOURCES:
        if source == "imagenet16" and target == "ImageNet16-120":
            continue
        lodo_surrogates(target, config.surrogate, 0, parse_sources(target, source))

# %% [markdown]
# ## Choosing the guidance scale without the target's labels
#
# For target T with LODO sources (S1, S2) the pseudo-task is "transfer from S2 to S1": guide and rank with the
# surrogate trained on S2 only and score the outcome on S1's benchmark accuracy (for CIFAR-10: ImageNet16-120 ->
# CIFAR-100; for CIFAR-100: ImageNet16-120 -> CIFAR-10). Each grid value runs the full loop on 3 seeds; the rule
# takes the w with the highest mean pseudo-target accuracy of the pools among those with validity >= 99% (smaller w
# on ties). A first version of this notebook also ranked by "pseudo-optimum within 3 trained", which is 0 or 1/3 on
# 3 seeds (noise) and picked w = 3 for CIFAR-100; the pool mean is the smoother signal. The chosen w is then used
# for both sources of that target. Larger scales were probed label-free while building this notebook (CIFAR-10 LODO
# surrogate, validity only): w = 100 dropped validity to about 67%, w = 1,000 to 0.

# %% tags=["nbval-ignore-output"]
GRID = (3.0, 10.0, 30.0)
SCALE, scale_tables = {}, []
for target in TARGETS:
    SCALE[target], table = choose_scale(target, GRID, [seed + 100 + i for i in range(3)], config, pool,
                                        profile=profile)
    scale_tables += table
scale_frame = pd.DataFrame(scale_tables)
scale_frame["pseudo_sources"] = scale_frame["pseudo_sources"].map(" + ".join)
print(scale_frame.round(3).to_string(index=False))
print("chosen:", SCALE)

# %% [markdown]
# ## 20 seeds per (target, source), and the unguided control
#
# Guided runs use the chosen w; the control ranks an **unguided** pool (w = 0) of the same size with the same clean
# LODO surrogate, so the effect of guidance is visible.

# %%
groups = [(t, s, SCALE[t]) for t in TARGETS for s in SOURCES if not (s == "imagenet16" and t == "ImageNet16-120")]
groups += [(t, "lodo", 0.0) for t in TARGETS]
items = [{"dataset": t, "sources": parse_sources(t, s), "seed": sd, "config": replace(config, scale=w), "profile": profile}
         for t, s, w in groups for sd in SEEDS]
runs = pool.map(run_seed, items, desc="transfer runs")
by_group = {g: runs[i * len(SEEDS):(i + 1) * len(SEEDS)] for i, g in enumerate(groups)}
stats = {g: summarise_runs(r) for g, r in by_group.items()}


# %% tags=["nbval-ignore-output"]
def fmt_ci(s, digits=2):
    return f"{s['mean']:.{digits}f} ± {s['ci95']:.{digits}f}"


def trained_text(s):
    done = [u for u in s["trained_to_optimum"] if u is not None]
    return f"{np.mean(done):.2f} (of {len(done)})" if done else "-"


lines = []
for (t, s, w), st in stats.items():
    pop = st["population"]
    lines.append({"target": t, "source": SOURCES[s], "w": w, "acc after 1": fmt_ci(st["acc_after_1_summary"]),
                  "optimum within 1": f"{st['reached_within_1']:.0%}", "within 3": f"{st['reached_within_3']:.0%}",
                  "in pool": f"{st['reached']:.0%}", "mean #trained when reached": trained_text(st),
                  "pool max/mean/min": f"{pop['max']:.2f} / {pop['mean']:.2f} / {pop['min']:.2f}",
                  "validity": f"{st['validity']:.1%}", "uniqueness": f"{st['uniqueness']:.1%}"})
result_frame = pd.DataFrame(lines)
print(result_frame.to_string(index=False))

# %% [markdown]
# Left of each pair: test accuracy of the top-ranked cell (after 1 trained); right: the mean accuracy of the
# 10-cell pool; one point per seed, dashed line the target's optimum.

# %%
SHORT = {"lodo": "LODO", "imagenet16": "IN16 only"}
fig, axes = plt.subplots(1, len(TARGETS), figsize=(6 * len(TARGETS), 4.5), squeeze=False)
for ax, target in zip(axes[0], TARGETS):
    data, labels = [], []
    for (t, s, w), st in stats.items():
        if t == target:
            data += [st["acc_after_1"], st["population_per_seed"]["mean"]]
            labels += [f"{SHORT[s]}, w={w:g}\nafter 1", f"{SHORT[s]}, w={w:g}\npool mean"]
    ax.boxplot(data)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7)
    ax.axhline(OPTIMA[target], ls="--", c="k", lw=1)
    ax.set(title=f"{target} (optimum {OPTIMA[target]:.2f}), {len(SEEDS)} seeds", ylabel="test accuracy (%)")
fig.tight_layout()
save_figure(fig, FIG, "05_transfer_accuracy", dpi=110)
plt.close(fig)
Image(filename=str(FIG / "05_transfer_accuracy.png"))

# %% [markdown]
# ## Calibration: what the true source order alone gives
#
# Training all 15,625 cells in the order of their *true* accuracy on one dataset and counting how many are trained
# until another dataset's optimum is among them (`nagkit.benchmarks.analysis.transfer_matrix`). A perfect surrogate
# of the ImageNet16-120 table would need this many; the LODO surrogates model a combination of two tables.

# %%
calibration = analysis.transfer_matrix(analysis.accuracy_frame(bench))
print(calibration.to_string())

# %% [markdown]
# Where the clean surrogates put each target's optimum among all 15,625 cells (evaluated after the runs, not used
# for any choice). The loop can only train the optimum within 3 if the pool contains it and the surrogate ranks at
# most 2 pool members above it.

# %% tags=["nbval-ignore-output"]
optimum_ranks = {(t, s): optimum_rank(load_predictors(t, parse_sources(t, s), config).rank, t, bench)
                 for t, s, w in groups if w > 0}
for (t, s), k in optimum_ranks.items():
    print(f"{t:8} <- {SOURCES[s]:30}: optimum ranked {k} of 15,625")

# %% [markdown]
# ## Beside the paper's table
#
# Paper rows are copied from method.md (DiffusionNAG's meta-predictor, one run); nagkit did not run MetaD2A, TNAS,
# BANANAS, REA or RS on this protocol (notebook 07 runs BO/REA/RS baselines on its own anytime protocol).

# %% tags=["nbval-ignore-output"]
def paper_cell(method, t):
    """A paper table cell, "accuracy (#trained)" (">500": no count printed; "-": not reported)."""
    if t not in TRANSFER_NB201[method]:
        return "-"
    acc, n = TRANSFER_NB201[method][t]
    return f"{acc:.2f} ({'>500' if n is None else n})"


PAPER = [(f"{m} (paper)", paper_cell(m, "cifar10"), paper_cell(m, "cifar100")) for m in TRANSFER_NB201]


def ours(t, s, w):
    st = stats[(t, s, w)]
    return (f"{st['acc_after_1_summary']['mean']:.2f} (1); optimum within 3: {st['reached_within_3']:.0%}")


table_rows = [{"method": m, "CIFAR-10": c10, "CIFAR-100": c100} for m, c10, c100 in PAPER]
for s in SOURCES:
    table_rows.append({"method": f"nagkit, {SOURCES[s]}, guided",
                       **{n: ours(t, s, SCALE[t]) for n, t in (("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"))}})
table_rows.append({"method": "nagkit, LODO, unguided pool",
                   **{n: ours(t, "lodo", 0.0) for n, t in (("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"))}})
print(pd.DataFrame(table_rows).to_string(index=False))

# %% [markdown]
# ## One generated population
#
# The paper prints max / mean / min test accuracy of one generated population (94.37 / 93.13 / 86.44 on CIFAR-10,
# 73.51 / 70.34 / 58.09 on CIFAR-100; MetaD2A's mean 91.52 / 67.14). Below: the pool of seed 0 (the 10 candidates)
# and the mean over the 20 seeds of each statistic.

# %% tags=["nbval-ignore-output"]
PAPER_POP = POPULATION_NB201
for t in ("cifar10", "cifar100"):
    for w in (SCALE[t], 0.0):
        st = stats[(t, "lodo", w)]
        one = by_group[(t, "lodo", w)][0]["population"]
        print(f"{t:8} w={w:<4g} seed {SEEDS[0]}: {one['max']:.2f} / {one['mean']:.2f} / {one['min']:.2f}   "
              f"mean of {len(SEEDS)} seeds: {st['population']['max']:.2f} / {st['population']['mean']:.2f} / "
              f"{st['population']['min']:.2f}   paper {' / '.join(f'{v:.2f}' for v in PAPER_POP[t])}")

# %% [markdown]
# ## Reading the numbers
#
# - **Guidance works on the population**: compare each guided row with the unguided control (same surrogate, same
#   pool size): the pools' mean and minimum accuracy rise sharply, and the top-ranked cell is better.
# - **The exact optimum rarely enters a 10-cell pool.** The LODO surrogates rank the CIFAR-10 optimum near the top of
#   all 15,625 cells (printed above), but the guided quick score network spreads its samples over a few hundred good
#   cells, so the optimum is in the pool in only a small fraction of seeds; CIFAR-100's optimum is ranked far lower by
#   its surrogates (its true-order calibration from ImageNet16-120 alone is 26). The paper's "1 / 2 trained" rests on
#   its meta-predictor and a fully trained score network with 1,000 sampling steps; the quick CPU setup does not
#   reproduce it, and the rows below say so (target: the optimum within 3 trained in >= 80% of seeds).
# - Larger guidance scales push the pool further up but cost validity (see the scale table); the choice rule never
#   looked at the target's labels.

# %% [markdown]
# ## Regression check
#
# Surrogates are trained here, so on another CPU guidance and ranking see weights that differ in the last bits;
# a sample or a ranking at a near-tie can then come out differently and a seed's run changes. The headline numbers
# are compared with the stored ones within about three times their seed-to-seed standard error (a whole reseed of
# the 20 seeds would move them by about 1.4 standard errors); the chosen scales and the calibration must match.

# %%
CHECKS = {f"scale.{t}": w for t, w in SCALE.items()}
for (t, src, w), st in stats.items():
    k = f"{t}.{src}.w{w:g}"
    CHECKS |= {f"{k}.acc_after_1": st["acc_after_1_summary"]["mean"], f"{k}.reached_within_1": st["reached_within_1"],
               f"{k}.reached_within_3": st["reached_within_3"], f"{k}.validity": st["validity"],
               f"{k}.uniqueness": st["uniqueness"], **{f"{k}.pool_{m}": st["population"][m] for m in ("max", "mean", "min")}}
CHECKS |= {f"calibration.{a}.{b}": float(v) for a, col in calibration.to_dict().items() for b, v in col.items()}
TOLERANCES = {
    "scale.*": Tolerance(0, "chosen by a rule whose margins are over 1 point of pool accuracy or 1% validity"),
    "calibration.*": Tolerance(0, "benchmark table lookups: exact"),
    "*.acc_after_1": Tolerance(1.0, "mean over 20 seeds; its 95% CI half-width is 0.2-0.6 points"),
    "*.reached_within_*": Tolerance(0.15, "fraction of 20 seeds: 3 seeds"),
    "*.validity": Tolerance(0.02, "fraction valid of all samples of 20 seeds (>= 200 samples per seed)"),
    "*.uniqueness": Tolerance(0.05, "fraction distinct of 20 pools of 10 cells: 10 cells"),
    "*.pool_max": Tolerance(1.0, "mean over 20 seeds of the pool maximum; seed sd about 0.5"),
    "*.pool_mean": Tolerance(1.5, "mean over 20 seeds of the pool mean; seed sd 0.5-1.5 (unguided pools)"),
    "*.pool_min": Tolerance(6.0, "mean over 20 seeds of the pool minimum: one bad cell (10% accuracy) in one "
                                 "unguided pool moves it by up to 4 points"),
}
print(assert_matches_stored(RES / "05_transfer_nag_nb201.json", CHECKS, TOLERANCES))

# %% [markdown]
# ## Results

# %% tags=["nbval-ignore-output"]
T = "NB201 transfer NAG (paper Table 1)"
NOTE = ("LODO surrogate on the other NB201 tables, not the paper's MetaD2A meta-predictor (offline); "
        "20 seeds, quick score net and sampler")
rows = []
for t in ("cifar10", "cifar100"):
    paper = paper_cell("DiffusionNAG", t)
    for s in SOURCES:
        st = stats[(t, s, SCALE[t])]
        ok = st["reached_within_3"] >= 0.8
        rows.append(row(T, f"{t}, {SOURCES[s]}: acc after 1 trained; optimum within 1 / 3 trained (% of seeds)", paper,
                        f"{fmt_ci(st['acc_after_1_summary'])}; {st['reached_within_1']:.0%} / {st['reached_within_3']:.0%}",
                        "reproduced" if ok else "deviates",
                        NOTE + ("" if ok else "; target: optimum within 3 trained in >= 80% of seeds, missed")))
    st = stats[(t, "lodo", 0.0)]
    rows.append(row(T, f"{t}, LODO, unguided pool (w = 0) ranked by the same surrogate", "not reported",
                    f"{fmt_ci(st['acc_after_1_summary'])}; {st['reached_within_1']:.0%} / {st['reached_within_3']:.0%}",
                    "deviates", "control without a paper number: shows what guidance adds"))
P = "NB201 generated population (max / mean / min test acc)"
UNGUIDED_VALIDITY = GENERATION_QUALITY[("nb201", "validity")]
for t, (pmax, pmean, pmin) in PAPER_POP.items():
    st = stats[(t, "lodo", SCALE[t])]
    pop = st["population"]
    ok = pop["mean"] >= pmean
    rows.append(row(P, f"{t}, guided (LODO, w={SCALE[t]:g}), mean over {len(SEEDS)} seeds of 10-cell pools",
                    f"{pmax:.2f} / {pmean:.2f} / {pmin:.2f}", f"{pop['max']:.2f} / {pop['mean']:.2f} / {pop['min']:.2f}",
                    "reproduced" if ok else "deviates",
                    "" if ok else f"mean below the paper's {pmean:.2f}; pools of 10 cells, LODO surrogate"))
    valid_ok = st["validity"] >= 0.99
    rows.append(row(P, f"{t}, validity under guidance (%)", f"not reported ({UNGUIDED_VALIDITY:.2f} unguided)",
                    f"{100 * st['validity']:.2f}",
                    "reproduced" if valid_ok else "deviates", "" if valid_ok else "below 99%"))
if meta_error is not None:
    rows.append(row(T, "MetaD2A meta-predictor guidance and ranking",
                    f"{paper_cell('DiffusionNAG', 'cifar10')} / {paper_cell('DiffusionNAG', 'cifar100')}", "-", "needs",
                    "`nagkit fetch imagenet32-features`, `nagkit fetch cifar10`, `nagkit fetch cifar100` and the "
                    "ResNet-18 weights (`nagkit data status` names every command), then "
                    "`python -m nagkit.notebooks --profile paper --only 05`"))
for r in rows:
    print(f"{r['row']} | paper {r['paper']} | nagkit {r['nagkit']} | {r['status']}")


def group_key(t, s, w):
    return s if w > 0 else "lodo_unguided"


summary = {}
for (t, s, w), st in stats.items():
    summary.setdefault(t, {})[group_key(t, s, w)] = {**st, "scale": w, "sources": list(parse_sources(t, s))}
_ = write_results(RES / "05_transfer_nag_nb201.json", "05_transfer_nag_nb201", profile, rows, summary=summary,
                  scale_selection=scale_tables, calibration=calibration.to_dict(),
                  optimum_rank={f"{t} <- {s}": k for (t, s), k in optimum_ranks.items()}, config=repr(config),
                  meta_predictor_error=meta_error, regression=CHECKS, tolerances=tolerance_table(TOLERANCES))
