# %% [markdown]
# # 07 · NAS baselines and Bayesian optimisation on NB201, with DiffusionNAG-BO
#
# The paper compares DiffusionNAG with search baselines on NAS-Bench-201 (method.md §5): BANANAS 94.37 (46 trained)
# on CIFAR-10 and 73.51 (88) on CIFAR-100, REA 93.92 and RS 93.70 (more than 500 trained). It also proposes
# DiffusionNAG as the acquisition optimiser of a BO loop; that code was never released and the paper gives no table
# for it, so DiffusionNAG-BO here is nagkit's own implementation of the idea.
#
# Every search trains architectures only through `nagkit.benchmarks.Ledger`: the number of distinct trained
# architectures and their simulated training time (the benchmark's 200-epoch training time) are counted, the
# incumbent is the best trained architecture by **validation** accuracy (mean over the benchmark's seeds), and its
# **test** accuracy is reported. Methods: random search (RS), regularised evolution (REA, population 20, tournament 5),
# local search (LS, best-improvement with restarts), BANANAS (ensemble of 5 MLPs on the path encoding, independent
# Thompson sampling, mutation pool around the 10 best) and GP-BO (exact GP with an exponentiated-Hamming kernel on the
# one-hot matrix, EI, mutation pool). Both BO surrogates are fit on rank-based normal scores of the validation
# accuracies (a long tail of failed cells otherwise dominates the squared loss).
#
# **DiffusionNAG-BO** (`nagkit.search.diffusion_bo`) is the BANANAS loop (same surrogate, ITS, 10 random initial
# cells, 5 per round) with the candidate pool replaced by guided generation: each round an ensemble of 5 noise-aware
# MLPs is fit on the trained cells (inputs noised by the score network's VE-SDE, conditioned on sigma), the ITS
# acquisition over that ensemble is the guidance objective (scale 10, constant), the packaged quick NB201 score network
# samples cells under it (20-step predictor-corrector), and the unseen valid samples with the highest clean acquisition
# are trained. Deviations from the paper's setting: a small CPU-trained score network (`nagkit/resources/SCORENET.md`),
# 20 sampler steps instead of 1,000, and 100 samples per round.
#
# **Transfer variants** (`prior="lodo"`, `nagkit.search.prior`): DiffusionNAG's point is a predictor that already knows
# the task family. `DiffusionNAG-BO (transfer)` starts from a transfer-NAG pool instead of 10 random cells (10 cells
# generated under the guidance of the target's leave-one-dataset-out surrogate, trained in the surrogate's rank order;
# the target's own labels are never read) and adds that surrogate, with a weight fading as cells are trained, to the
# acquisition during guided generation and candidate scoring. `BANANAS (transfer)` gets the same initial design and
# prior with its mutation pool: the control that isolates what guided generation adds. These two are transfer NAS and
# are compared with the black-box methods only the way the paper's table does (cost until the optimum).
#
# The dictionary `METHODS` drives every run, figure and table.

# %% tags=["parameters"]
# profile "quick": 3 seeds, budgets <= 100 -- "paper": 20 seeds, budget 150 (RS 600)
profile = "quick"
seed = 0
executor = "local"  # fan-out engine: "local" (process pool), "serial" or "ray" (nagkit.executor)

# %% tags=["nbval-ignore-output"]
import pandas as pd
import matplotlib.pyplot as plt
from IPython.display import Image

from nagkit.benchmarks import NB201Benchmark
from nagkit.benchmarks.nb201 import DATASETS
from nagkit.executor import get_executor
from nagkit.figures import save_figure
from nagkit.notebooks import output_dirs
from nagkit.paper import TRANSFER_NB201
from nagkit.paths import cache_dir
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results
from nagkit.search.anytime import accuracy_at, compare_row, plot_anytime, run_grid, summarise_runs
from nagkit.transfer.prior import TransferPrior

# %%
FIG, RES = output_dirs(profile)
QUICK = profile == "quick"
SEEDS = list(range(seed, seed + (3 if QUICK else 20)))
BUDGET = 100 if QUICK else 150
DNAG_BUDGET = 40 if QUICK else BUDGET
CACHE = cache_dir("search")  # finished runs ($NAGKIT_CACHE/search): an interrupted notebook resumes
METHODS = {
    "RS": {"name": "rs", "budget": BUDGET if QUICK else 600},
    "REA": {"name": "rea"},
    "LS": {"name": "ls"},
    "BANANAS": {"name": "bananas", "budget": 60 if QUICK else BUDGET},
    "GP-BO": {"name": "gpbo", "budget": 30 if QUICK else BUDGET},
    "DiffusionNAG-BO": {"name": "diffusionnag-bo", "budget": DNAG_BUDGET},
    # transfer NAS: initial design and a fading acquisition prior from the LODO surrogates (other datasets' tables)
    "BANANAS (transfer)": {"name": "bananas", "prior": "lodo", "budget": DNAG_BUDGET},
    "DiffusionNAG-BO (transfer)": {"name": "diffusionnag-bo", "prior": "lodo", "budget": DNAG_BUDGET},
}
BLACK_BOX = ["RS", "REA", "LS", "BANANAS", "GP-BO", "DiffusionNAG-BO"]
# Acquisition functions and acquisition optimisers, compared on CIFAR-10 inside the same BO loops (a spec equal to
# a main-grid spec at the same budget is the same run: it is read from the run cache).
# The optimiser comparison is the BANANAS loop (ITS) with a random pool, a mutation pool (= BANANAS ITS) and
# guided generation (= the DiffusionNAG-BO runs of the main grid, same seeds and budget).
ABLATION_BUDGET = {"bananas": DNAG_BUDGET, "gpbo": 30 if QUICK else BUDGET}
DEFAULT_ACQUISITION = {"bananas": "its", "gpbo": "ei"}
ACQUISITION = {f"{label} {acq.upper()}": {"name": name, "budget": ABLATION_BUDGET[name],
                                          **({} if acq == DEFAULT_ACQUISITION[name] else {"acquisition": acq})}
               for label, name, acqs in [("BANANAS", "bananas", ("its", "ei", "ucb", "pi")),
                                         ("GP-BO", "gpbo", ("ei", "ucb", "pi"))] for acq in acqs}
OPTIMISER = {"BANANAS ITS, random pool": {"name": "bananas", "optimiser": "random",
                                          "budget": ABLATION_BUDGET["bananas"]}}
pool = get_executor(executor, progress=False)
bench = NB201Benchmark()
OPTIMA = {d: bench.optimum(d)[1] for d in DATASETS}
print("seeds:", len(SEEDS), "| budgets:", {k: v.get("budget", BUDGET) for k, v in METHODS.items()})
print("optima (test accuracy %):", {d: round(v, 2) for d, v in OPTIMA.items()})

# %% [markdown]
# The transfer methods read the leave-one-dataset-out surrogates of each target (trained on the other two
# NB201 tables only, as in notebook 05). They are trained once here, before the parallel runs, or loaded from
# `$NAGKIT_CACHE/surrogates` when notebook 05 already trained them.

# %% tags=["nbval-ignore-output"]
for dataset in DATASETS:
    TransferPrior().predictors(dataset)

# %% [markdown]
# ## Anytime curves on the three NB201 datasets

# %% tags=["nbval-ignore-output"]
runs = run_grid(METHODS, DATASETS, SEEDS, BUDGET, pool, cache_dir=CACHE)
summary = summarise_runs(runs)

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 8))
for j, dataset in enumerate(DATASETS):
    for i, axis in enumerate(("count", "time")):
        ax = axes[i, j]
        plot_anytime(summary, dataset, ax, axis)
        low = min(accuracy_at(s, 10)["mean"] for s in summary[dataset].values())
        ax.axhline(OPTIMA[dataset], color="grey", lw=0.8, ls=":")
        ax.set_ylim(low - 0.5, OPTIMA[dataset] + 0.3)
fig.suptitle(f"Incumbent (by validation) test accuracy, mean and 95% CI over {len(SEEDS)} seeds")
fig.tight_layout()
save_figure(fig, FIG, "07_anytime", dpi=100)
plt.close(fig)
Image(filename=str(FIG / "07_anytime.png"))


# %% [markdown]
# Final accuracy at each method's budget, accuracy after a common number of trainings, and the number of
# architectures trained until the global optimum (by test accuracy) was first trained, averaged over the runs that
# reached it within the budget (notebook 09 turns these counts into the speed-up table, with the misses censored at
# the budget).

# %% tags=["nbval-ignore-output"]
def table(summary, at):
    records = []
    for dataset, methods in summary.items():
        for label, s in methods.items():
            acc, until, common = s["final_test_acc"], s["trained_until_optimum"], accuracy_at(s, at)
            records.append({"dataset": dataset, "method": label, "budget": s["budget"],
                            "final test acc": f"{acc['mean']:.2f} ± {acc['ci95']:.2f}",
                            f"acc @ {at}": f"{common['mean']:.2f} ± {common['ci95']:.2f}",
                            "trained to optimum": "-" if until["mean"] is None else f"{until['mean']:.1f}",
                            "runs reaching it": f"{until['n']}/{until['runs']}"})
    return pd.DataFrame(records)

COMMON = min(s.get("budget", BUDGET) for s in METHODS.values())
print(table(summary, COMMON).to_string(index=False))

# %% tags=["nbval-ignore-output"]
print("wall seconds per run (this machine):")
print(pd.DataFrame([{"dataset": d, "method": m, "seconds/run": round(s["wall_seconds"]["mean"], 2)}
                    for d, ms in summary.items() for m, s in ms.items()]).to_string(index=False))

# %% [markdown]
# ## Acquisition functions and acquisition optimisers (CIFAR-10)
#
# Left and middle: the acquisition functions inside BANANAS and GP-BO. Right: the acquisition optimiser inside the
# same BANANAS loop (ITS): random pool of 100, mutation pool of 100 around the 10 best (BANANAS), and guided generation
# (DiffusionNAG-BO).

# %% tags=["nbval-ignore-output"]
ablation_runs = run_grid({**ACQUISITION, **OPTIMISER}, ["cifar10"], SEEDS, BUDGET, pool, cache_dir=CACHE)
guided = [{**r, "label": "BANANAS ITS, guided generation"} for r in runs
          if r["label"] == "DiffusionNAG-BO" and r["dataset"] == "cifar10"]
ablation = summarise_runs(ablation_runs + guided)

# %% tags=["nbval-ignore-output"]
COMMON_ABLATION = min(ABLATION_BUDGET.values())
print(table(ablation, COMMON_ABLATION).to_string(index=False))
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
groups = [[k for k in ACQUISITION if k.startswith("BANANAS")], [k for k in ACQUISITION if k.startswith("GP-BO")],
          ["BANANAS ITS", *OPTIMISER, "BANANAS ITS, guided generation"]]
for ax, labels in zip(axes, groups):
    plot_anytime(ablation, "cifar10", ax, "count", labels)
    ax.axhline(OPTIMA["cifar10"], color="grey", lw=0.8, ls=":")
    ax.set_ylim(min(accuracy_at(ablation["cifar10"][k], 10)["mean"] for k in labels) - 0.5, OPTIMA["cifar10"] + 0.3)
fig.tight_layout()
save_figure(fig, FIG, "07_acquisition", dpi=100)
plt.close(fig)
Image(filename=str(FIG / "07_acquisition.png"))

# %% [markdown]
# ## Regression check
#
# RS, REA and LS only look up benchmark tables with integer random draws: their runs are identical on every machine
# and are checked exactly. The BO methods fit surrogates (MLP ensembles, GPs, the score network's guidance) in
# floating point, so on another CPU an early acquisition choice at a near-tie can go the other way and a run then
# behaves like one under another seed; their final accuracies are checked within three standard deviations of the
# difference of two independent 3-seed means (per-seed sd from the 20-seed paper profile: CIFAR-10 0.2-0.3,
# CIFAR-100 0.4-0.6, ImageNet16-120 0.3-0.5 points). Their counts until the optimum are too noisy at 3 seeds to
# check (a full reseed moves them by most of the budget). One claim with a wide margin is asserted: DiffusionNAG-BO
# (transfer) ends at least as high as random search on every dataset.

# %%
EXACT = ("RS", "REA", "LS")


def censored_until(s):
    until = s["trained_until_optimum"]
    missed = until["runs"] - until["n"]
    return ((until["mean"] or 0) * until["n"] + missed * s["budget"]) / until["runs"]


CHECKS = {}
for name, summ in (("main", summary), ("ablation", ablation)):
    for dataset, methods in summ.items():
        for label, s in methods.items():
            key = f"{'exact' if label in EXACT else 'bo'}.{name}.{dataset}.{label}"
            CHECKS[f"{key}.final_test_acc"] = s["final_test_acc"]["mean"]
            if label in EXACT:
                CHECKS |= {f"{key}.acc_at_{COMMON}": accuracy_at(s, COMMON)["mean"],
                           f"{key}.censored_until_optimum": censored_until(s),
                           f"{key}.runs_reaching_optimum": s["trained_until_optimum"]["n"]}
for dataset in DATASETS:
    assert (summary[dataset]["DiffusionNAG-BO (transfer)"]["final_test_acc"]["mean"]
            >= summary[dataset]["RS"]["final_test_acc"]["mean"]), dataset
TOLERANCES = {
    "exact.*": Tolerance(1e-9, "benchmark lookups with integer random draws: identical on every machine"),
    "bo.*.cifar10.*": Tolerance(0.8, "3 x 0.82 x per-seed sd 0.3 (difference of two 3-seed means)"),
    "bo.*.cifar100.*": Tolerance(1.5, "3 x 0.82 x per-seed sd 0.6"),
    "bo.*.ImageNet16-120.*": Tolerance(1.3, "3 x 0.82 x per-seed sd 0.5"),
}
print(assert_matches_stored(RES / "07_bo_nas.json", CHECKS, TOLERANCES))

# %% [markdown]
# ## Results
#
# Report rows compare the final incumbent (mean ± 95% CI over seeds) with the paper; the count in brackets is the
# mean number of architectures trained until the optimum was first trained, over the runs that reached it. A
# row reproduces when the paper's accuracy lies within max(CI, 0.1) points of ours and, where the paper gives a
# count, every run reached the optimum within 1.5x that count. The paper does not state the budget behind its RS and
# REA numbers, and gives no numbers for DiffusionNAG-BO: its rows (and the transfer variants') compare with the global
# optimum (what the paper's BO figure converges to). With the quick profile's 3 seeds the intervals are wide; the paper
# profile runs 20 seeds (`python -m nagkit.notebooks --profile paper --only 07 09`).

# %% tags=["nbval-ignore-output"]
T = "NB201 search baselines (test accuracy %, #trained)"
SCOPE = (f"{profile} profile: {len(SEEDS)} seeds, budget {{budget}}"
         + ("; full protocol: python -m nagkit.notebooks --profile paper --only 07" if QUICK else ""))
PAPER = [(m, d, *TRANSFER_NB201[m][d]) for m in ("BANANAS", "REA", "RS") for d in DATASETS if d in TRANSFER_NB201[m]]
rows = []
for method, dataset, acc, trained in PAPER:
    s = summary[dataset][method]
    text, status = compare_row(s, acc, trained)
    note = SCOPE.format(budget=s["budget"])
    if status == "deviates":
        note = ("paper budget not stated for RS/REA; " if trained is None else "") + note
    paper = f"{acc:.2f}" + (f" ({trained})" if trained else " (>500 trained)" if method == "RS" else "")
    rows.append(row(T, f"{method} {dataset}", paper, text, status, note))
for method in ("DiffusionNAG-BO", "DiffusionNAG-BO (transfer)", "BANANAS (transfer)"):
    for dataset in DATASETS:
        s = summary[dataset][method]
        text, status = compare_row(s, OPTIMA[dataset])
        rows.append(row(T, f"{method} {dataset}", f"no number (BO code not released); optimum {OPTIMA[dataset]:.2f}",
                        text, status, "not in the paper; compared with the optimum; " + SCOPE.format(budget=s["budget"])))
for r in rows:
    print(f"{r['row']:>30}: paper {r['paper'][:16]:<16} nagkit {r['nagkit']:<48} {r['status']}")
compact = [{k: r[k] for k in ("label", "dataset", "seed", "budget", "trained_until_optimum", "seconds_until_optimum",
                              "final_arch", "wall_seconds")}
           | {"final_test_acc": r["test_acc"][-1], "seconds_spent": r["seconds"][-1]} for r in runs + ablation_runs]
path = write_results(RES / "07_bo_nas.json", "07_bo_nas", profile, rows, seeds=SEEDS, methods=METHODS,
                     acquisition=ACQUISITION, optimiser=OPTIMISER, summary=summary, ablation=ablation, runs=compact,
                     regression=CHECKS, tolerances=tolerance_table(TOLERANCES))
print("wrote", path.name)
