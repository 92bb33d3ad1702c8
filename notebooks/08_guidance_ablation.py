# %% [markdown]
# # 08 · Guidance ablation and multi-objective guidance
#
# DiffusionNAG steers the reverse diffusion with a noise-aware predictor: conditional score = score + w(t) ·
# ∇_X f(X_t, σ(t)) (method.md §3). The paper pushes predicted accuracy up with the authors' schedule
# w = 10,000 − 300 per generated batch on NB201 and lists guidance on/off and the guidance scale among its ablations
# (accuracy distribution of the generated cells); method.md gives no number for that ablation. The numbers it does give
# for one guided generation run on NB201 are max / mean / min test accuracy 94.37 / 93.13 / 86.44 (CIFAR-10).
#
# This notebook measures, with the packaged quick NB201 score net and nagkit's default 20-step PC sampler:
#
# 1. **Scale sweep (NB201, CIFAR-10).** No guidance, a sweep of constant w, the annealed schedule w·(1 − t) and the authors'
#    schedule. Each setting draws the same number of samples from the same seed; every valid sample is judged by its
#    **true** CIFAR-10 test accuracy from the benchmark.
# 2. **Accuracy under a latency budget (NB201).** Accuracy guidance plus a noise-aware latency predictor as an `at_most`
#    penalty; true latency and true accuracy of the samples with and without the constraint.
# 3. **FLOPs targets (MBV3).** Generation steered to a FLOPs target with a noise-aware FLOPs predictor; the true analytic
#    FLOPs of the valid samples per target vs unguided.
#
# Offline protocol (deviation from the paper): the accuracy predictor is not the MetaD2A meta-predictor (its image
# features are a download) but nagkit's **leave-one-dataset-out surrogate** (notebook 04): for CIFAR-10 it is trained only
# on CIFAR-100 and ImageNet16-120 accuracies of 2,000 cells (the mean of their z-scores), so the CIFAR-10 labels that judge
# the samples are never seen by the guide. Its output is a z-score, not an accuracy, so a given w is **not** the same
# strength as the authors' w.

# %% tags=["parameters"]
profile = "quick"  # "quick": 300 samples per setting, 20-step PC; "paper": 1,000 samples, 1,000-step PC
seed = 0

# %%
import numpy as np
import torch
from IPython.display import Image

from nagkit.benchmarks.nb201 import NB201Benchmark
from nagkit.diffusion.checkpoint import load_scorenet, profile_checkpoint
from nagkit.diffusion.sample import SamplerConfig
from nagkit.diffusion.train import TrainConfig, make_sde
from nagkit.guidance import Objective, Schedule, authors_schedule
from nagkit.guidance_sweep import (Setting, SweepConfig, constant_sweep, pick_scale, plot_distributions, plot_scatter,
                                   records, run_sweep, summarise)
from nagkit.notebooks import output_dirs
from nagkit.paper import POPULATION_NB201
from nagkit.predictors.fit import surrogate_profile
from nagkit.transfer.lodo import lodo_surrogates
from nagkit.predictors.properties import Property, property_predictor, property_profile
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results
from nagkit.spaces import get_space

torch.set_num_threads(1)  # small networks: one thread is as fast and never oversubscribes
FIG, RES = output_dirs(profile)
QUICK = profile == "quick"
N = 300 if QUICK else 1000
SAMPLER = SamplerConfig("pc", 20 if QUICK else 1000, batch_size=256)  # authors' batch of 256 (their w drops per batch)
SWEEP = SweepConfig(n=N, sampler=SAMPLER, seed=seed)
TARGETS = ["cifar10"] if QUICK else ["cifar10", "cifar100"]
ABOVE = {"cifar10": 93.0, "cifar100": 70.0}
YMIN = {"cifar10": 80.0, "cifar100": 50.0}  # figure axes; the samples below are counted in the labels
PAPER_POPULATION = POPULATION_NB201  # max / mean / min
bench = NB201Benchmark()


def load(name):
    space = get_space(name)
    model, ckpt = load_scorenet(profile_checkpoint(name, profile), space)  # paper: notebook 02's net
    cfg = TrainConfig(**ckpt["train_config"])
    return space, model, make_sde(cfg), cfg


nb201, nb_model, nb_sde, nb_cfg = load("nb201")
print(f"NB201 score net: VE-SDE sigma {nb_cfg.sigma_min}..{nb_cfg.sigma_max}; {N} samples per setting, "
      f"{SAMPLER.method} {SAMPLER.steps} steps")

# %% [markdown]
# ## 1 · Guidance scale sweep on NB201
#
# The guide is `Objective(surrogate.predict)` (maximise). The constant scales span "no visible effect" to "validity breaks";
# the range was found by trying (the surrogate's gradient is O(1) per z-score, the score net's score is O(1/σ)). The
# annealed schedule w·(1 − t) is strongest at the data end. The authors' schedule is applied per batch of 256 exactly as
# in the paper, i.e. 10,000 for the first batch, 9,700 for the second.
#
# Surrogates are cached under `$NAGKIT_CACHE/surrogates/` (notebook 04 trains the same CIFAR-10 copy).

# %% tags=["nbval-ignore-output"]
guides = {t: lodo_surrogates(t, surrogate_profile(profile), seed)["noise"] for t in TARGETS}
latency_prop = Property("nb201", "latency", "cifar10")  # used in section 2; recorded for every sample now
latency = property_predictor(latency_prop, True, property_profile(profile, nb_cfg), seed)

# %% tags=["nbval-ignore-output"]
SCALES = [0, 1, 3, 10, 30, 100, 300]
settings = constant_sweep(SCALES) + [Setting("annealed w=30", Schedule("annealed", 30.0)),
                                     Setting("authors 10000-300/batch", authors_schedule(nb201))]
sweeps, tables = {}, {}
for target in TARGETS:
    truth = {"acc": lambda a, t=target: bench.query(a, t, "test_acc"), "latency": latency_prop}
    sweeps[target] = run_sweep(nb201, nb_model, nb_sde, [Objective(guides[target].predict)], settings, truth, SWEEP)
    tables[target] = summarise(sweeps[target], "acc", above=ABOVE[target])
    print(f"{target} (true test accuracy %, {N} samples per setting; shares are of all samples)")
    print(tables[target].round(3).to_string(index=False))
    for r in sweeps[target]:
        if r["error"]:
            print(f"  {r['label']}: sampling stopped: {r['error']}")
    print()

# %%
for target in TARGETS:
    opt = bench.optimum(target)[1]
    plot_distributions(sweeps[target], "acc", FIG / f"08_nb201_guidance_{target}.png",
                       xlabel=f"{target} test accuracy of valid samples (%)", reference={f"optimum {opt:.2f}": opt},
                       title=f"NB201 {target}: guidance by the leave-one-dataset-out surrogate", ymin=YMIN[target])
Image(filename=str(FIG / "08_nb201_guidance_cifar10.png"))

# %% [markdown]
# The box plots show the true accuracy of the valid samples per setting (validity under each label; settings with
# no valid sample have no box). The axis starts at 80%; the labels count the samples below it (NB201 has cells at 10%). Which constant scale to carry forward is chosen **without reading any accuracy**:
# the largest w whose samples stay ≥ 99% valid and ≥ 80% unique (`pick_scale`).

# %% tags=["nbval-ignore-output"]
chosen = {}
for target in TARGETS:
    base, best = sweeps[target][0], pick_scale(sweeps[target])
    chosen[target] = best
    b, g = np.asarray(base["values"]["acc"]), np.asarray(best["values"]["acc"])
    print(f"{target}: chosen {best['label']} (validity {best['validity']:.1%}, uniqueness {best['uniqueness']:.1%}); "
          f"mean accuracy {b.mean():.2f} -> {g.mean():.2f}, median {np.median(b):.2f} -> {np.median(g):.2f}, "
          f"max {g.max():.2f}, min {g.min():.2f}")

# %% [markdown]
# ## 2 · Accuracy under a latency budget (NB201, CIFAR-10)
#
# A second noise-aware predictor learns the benchmark's CIFAR-10 latency (ms) of 2,000 seeded cells under the score net's
# SDE (`nagkit.predictors.properties`). The constraint is `Objective(latency.predict, "at_most", value=budget)`: a
# penalty −(latency − budget)² only above the budget, weighted by 1/std² of the latency targets times λ so it is on the
# accuracy guide's z-score scale. The accuracy guide keeps the scale chosen above. The budget is 14 ms (the unguided
# samples' median is about 16 ms). The unguided and accuracy-only runs are those of the sweep above (same seed).
# Shares are of all samples; `share >= 93 within budget` counts the samples that meet both goals, `acc mean within
# budget` is the mean true accuracy of the samples that meet the budget.

# %% tags=["nbval-ignore-output"]
BUDGET = 14.0
acc_obj = Objective(guides["cifar10"].predict)
w_acc = chosen["cifar10"]["w"]
lat_weight = 1.0 / float(latency.y_std) ** 2
truths = {"acc": lambda a: bench.query(a, "cifar10", "test_acc"), "latency": latency_prop}
multi = [Setting(f"accuracy + latency<={BUDGET:g} (lambda={lam:g})", Schedule("constant", w_acc),
                  (acc_obj, Objective(latency.predict, "at_most", weight=lam * lat_weight, value=BUDGET)))
          for lam in (1.0, 10.0)]
multi_runs = [sweeps["cifar10"][0], chosen["cifar10"]] + run_sweep(nb201, nb_model, nb_sde, [acc_obj], multi, truths, SWEEP)
all_acc, all_lat = bench.table("cifar10", "test_acc"), bench.table("cifar10", "latency") * 1000
best_in_budget = float(all_acc[all_lat <= BUDGET].max())
multi_table = summarise(multi_runs, "acc", above=93.0, within={"latency": BUDGET})
multi_table["latency median"] = [float(np.median(r["values"]["latency"])) for r in multi_runs]
print(multi_table.round(3).to_string(index=False))
print(f"best CIFAR-10 accuracy of any NB201 cell within {BUDGET:g} ms: {best_in_budget:.2f} "
      f"(share of all cells within budget: {(all_lat <= BUDGET).mean():.1%})")

# %%
plot_scatter(multi_runs, "latency", "acc", FIG / "08_nb201_latency_budget.png",
             xlabel="true CIFAR-10 latency (ms)", ylabel="true CIFAR-10 test accuracy (%)", vline=BUDGET,
             title="NB201: accuracy guidance with and without a latency budget", ymin=YMIN["cifar10"])
Image(filename=str(FIG / "08_nb201_latency_budget.png"))

# %% [markdown]
# ## 3 · FLOPs targets on MBV3
#
# The packaged quick MBV3 score net (VE-SDE σ 0.1..1.0) reaches only about 59% validity unguided (notebook 03), so validity
# is reported next to every target. The FLOPs predictor is noise-aware, trained on 2,000 seeded OFA subnets (uniform
# depth and kernel/expand per decision) against the analytic MFLOPs of `nagkit.spaces.mbv3.flops` at 224 px, under the
# MBV3 score net's SDE. Guidance: `Objective(flops.predict, "target", value=T)`, i.e. −(FLOPs − T)², weighted by
# 1/std² of the training FLOPs, at w = 10.

# %% tags=["nbval-ignore-output"]
mb, mb_model, mb_sde, mb_cfg = load("mbv3")
flops_prop = Property("mbv3", "flops")
flops_model = property_predictor(flops_prop, True, property_profile(profile, mb_cfg), seed)

# %% tags=["nbval-ignore-output"]
FLOPS_TARGETS = (200.0, 275.0, 350.0)
W_FLOPS = 10.0
flops_weight = 1.0 / float(flops_model.y_std) ** 2
mb_settings = [Setting("no guidance")] + [
    Setting(f"target {T:g}", Schedule("constant", W_FLOPS), (Objective(flops_model.predict, "target", weight=flops_weight, value=T),))
    for T in FLOPS_TARGETS]
mb_runs = run_sweep(mb, mb_model, mb_sde, [], mb_settings, {"flops": flops_prop}, SWEEP)
targets = {f"target {T:g}": T for T in FLOPS_TARGETS}
mb_table = summarise(mb_runs, "flops", targets=targets)
mb_table["flops std"] = [float(np.std(r["values"]["flops"])) for r in mb_runs]
print(f"MBV3, true MFLOPs (224 px) of the valid samples, {N} samples per setting")
print(mb_table.round(2).to_string(index=False))

# %%
plot_distributions(mb_runs, "flops", FIG / "08_mbv3_flops_targets.png", xlabel="true MFLOPs of valid samples (224 px)",
                   reference={f"target {T:g}": T for T in FLOPS_TARGETS}, title="MBV3: generation steered to a FLOPs target")
Image(filename=str(FIG / "08_mbv3_flops_targets.png"))

# %% [markdown]
# ## Regression check
#
# The packaged score nets are fixed, but the guides (surrogates, latency and FLOPs predictors) are trained here, so on
# another CPU their gradients differ in the last bits and a sample near a tie between two cells can end in the other.
# The summary statistics are compared with the stored ones within tolerances of a few percent of the samples (15 of
# 300); extreme values (max, min) are not checked: one flipped sample can move them by tens of points. Constant scales
# of 30 and more are where validity and uniqueness break down: there the sampler amplifies last-bit differences (on
# an emulated other CPU, validity at w=100 went from 66% to 6%), so only the claim that validity breaks is asserted.

# %%
def table_checks(prefix, frame, columns, skip=()):
    return {f"{prefix}.{r['setting']}.{c}": r[c] for r in records(frame) for c in columns
            if r.get(c) is not None and r["setting"] not in skip}


UNSTABLE = [f"w={w:g}" for w in SCALES if w >= 30]
for t in TARGETS:
    broken = {r["label"]: r["validity"] for r in sweeps[t] if r["label"] in UNSTABLE[1:]}
    assert all(v < 0.99 for v in broken.values()), broken  # "validity breaks from w=100 on"
SHARES = ("validity", "uniqueness")
CHECKS = {f"chosen_scale.{t}": chosen[t]["w"] for t in TARGETS}
for t in TARGETS:
    CHECKS |= table_checks(f"sweep.{t}", tables[t], (*SHARES, "share >= 93", "acc mean", "acc median"), UNSTABLE)
CHECKS |= table_checks("latency", multi_table, (*SHARES, "share within budget", "share >= 93 within budget",
                                                "acc mean", "acc median", "latency median"))
CHECKS |= table_checks("flops", mb_table, (*SHARES, "flops mean", "flops median", "mean |error|", "flops std"))
TOLERANCES = {
    "chosen_scale.*": Tolerance(0, "picked by a validity / uniqueness rule on the grid: a grid value"),
    "*validity": Tolerance(0.05, "fraction of 300 samples: 15 samples"),
    "*uniqueness": Tolerance(0.05, "fraction of 300 samples: 15 samples"),
    "*share*": Tolerance(0.05, "fraction of 300 samples: 15 samples"),
    "*.acc *": Tolerance(2.0, "mean / median accuracy of 300 samples: a sample flipping between a collapsed (10%) "
                              "and a good cell moves the mean by 0.27; on an emulated other CPU the largest change "
                              "was 1.2"),
    "*latency median": Tolerance(0.5, "median latency (ms) of 300 samples; samples spread over 5-30 ms"),
    "flops.*": Tolerance(10.0, "MFLOPs statistics of ~300 samples spread over 200-420 MFLOPs"),
}
print(assert_matches_stored(RES / "08_guidance_ablation.json", CHECKS, TOLERANCES))

# %% [markdown]
# ## Report rows
#
# Statuses are computed from the measurements with the criteria stated in each note.

# %% tags=["nbval-ignore-output"]
TABLE = "Guidance ablation (method.md §3, §5 ablations)"
rows = []
for target in TARGETS:
    base, best = sweeps[target][0], chosen[target]
    b, g = np.asarray(base["values"]["acc"]), np.asarray(best["values"]["acc"])
    shifted = g.mean() - b.mean() >= 1.0 and best["validity"] >= 0.99
    rows.append(row(TABLE, f"NB201 {target}: guidance on vs off (mean / median true test acc., validity)",
                    "guidance shifts the accuracy distribution up (no number given)",
                    f"w=0: {b.mean():.2f} / {np.median(b):.2f}, {base['validity']:.1%}; {best['label']}: {g.mean():.2f} / "
                    f"{np.median(g):.2f}, {best['validity']:.1%}",
                    "reproduced" if shifted else "deviates",
                    "" if shifted else "criterion: mean up >= 1 point at validity >= 99% not met"))
    pmax, pmean, pmin = PAPER_POPULATION[target]
    ok = g.max() >= pmax - 0.01 and g.mean() >= pmean - 0.5
    rows.append(row(TABLE, f"NB201 {target}: guided population max / mean / min",
                    f"{pmax:.2f} / {pmean:.2f} / {pmin:.2f}", f"{g.max():.2f} / {g.mean():.2f} / {g.min():.2f}",
                    "reproduced" if ok else "deviates",
                    (f"{best['label']} picked by validity/uniqueness only; LODO surrogate guide, {N} samples, "
                     f"{SAMPLER.steps}-step PC; criterion: max = optimum, mean within 0.5") ))
    authors = sweeps[target][-1]
    rows.append(row(TABLE, f"NB201 {target}: authors' schedule (w = 10,000 - 300/batch), validity",
                    "used by the paper (validity 98.97% reported for unguided generation)", f"{authors['validity']:.1%}",
                    "reproduced" if authors["validity"] >= 0.99 else "deviates",
                    "our surrogate outputs z-scores, a different scale from the authors' predictor: the same w is a "
                    "different strength; validity breaks from w=100 on (see sweep)"))
share, acc_in = multi_table["share within budget"], multi_table["acc mean within budget"]
lam_ok = [i for i in (2, 3) if share[i] > share[0] and acc_in[i] > acc_in[0] and multi_runs[i]["validity"] >= 0.99]
rows.append(row(TABLE, f"NB201 CIFAR-10: accuracy + latency <= {BUDGET:g} ms (share within budget; mean true acc. within budget)",
                "guidance works for other properties and combinations (no number given)",
                "; ".join(f"{r['label']}: {share[i]:.1%}, {acc_in[i]:.2f}" for i, r in enumerate(multi_runs) if i != 1)
                + f"; accuracy only: {share[1]:.1%} within budget",
                "reproduced" if lam_ok else "deviates",
                "criterion: some lambda puts more samples within budget than no guidance AND raises their mean accuracy, "
                "at validity >= 99%"))
errs = mb_table["mean |error|"].iloc[1:]
unguided_err = [float(np.abs(np.asarray(mb_runs[0]["values"]["flops"]) - T).mean()) for T in FLOPS_TARGETS]
ok = bool(all(e < u for e, u in zip(errs, unguided_err)))
rows.append(row(TABLE, "MBV3: FLOPs target 200 / 275 / 350 MFLOPs (mean |error| guided vs unguided; validity)",
                "guidance works for other properties (no number given)",
                " / ".join(f"{e:.0f} vs {u:.0f}" for e, u in zip(errs, unguided_err))
                + "; validity " + " / ".join(f"{r['validity']:.0%}" for r in mb_runs[1:]),
                "reproduced" if ok else "deviates",
                f"quick MBV3 score net, unguided validity {mb_runs[0]['validity']:.0%} (paper 99.09%); "
                "criterion: guided error below unguided for every target"))
for r in rows:
    print(f"{r['status']:10} {r['row']}: {r['nagkit']}")
_ = write_results(RES / "08_guidance_ablation.json", "08_guidance_ablation", profile, rows,
                  sweep={t: records(tab) for t, tab in tables.items()},
                  chosen_scale={t: chosen[t]["w"] for t in TARGETS},
                  latency_budget={"budget_ms": BUDGET, "table": records(multi_table), "best_any_cell": best_in_budget},
                  flops_targets={"targets": list(FLOPS_TARGETS), "w": W_FLOPS, "table": records(mb_table)},
                  samples_per_setting=N, sampler={"method": SAMPLER.method, "steps": SAMPLER.steps},
                  regression=CHECKS, tolerances=tolerance_table(TOLERANCES))

# %% tags=["nbval-ignore-output"]
for name, runs in [*((f"NB201 {t}", sweeps[t]) for t in TARGETS), ("NB201 latency", multi_runs), ("MBV3 FLOPs", mb_runs)]:
    print(name, ", ".join(f"{r['label']}: {r['seconds']:.1f} s" for r in runs))

# %% [markdown]
# ## What this shows, and what it does not
#
# - Guidance by a surrogate that never saw CIFAR-10 labels moves the true CIFAR-10 accuracy distribution of the generated
#   cells up at 100% validity until the scale is large enough to collapse diversity (uniqueness falls) and then validity
#   (the larger constant scales and the authors' 10,000 produce no valid cell with this surrogate). The scale is not
#   comparable to the authors': their predictor's output scale differs from the z-score surrogate used here.
# - The chosen scale is picked from validity and uniqueness only, never from the accuracy it is judged by.
# - The latency constraint trades accuracy for latency; it is a soft penalty, so some samples stay above the budget, and
#   a larger λ pushes latency further down at the cost of accuracy.
# - MBV3 FLOPs guidance moves the true FLOPs towards each target, but the quick MBV3 score net's validity (about 59%
#   unguided) is far below the paper's 99.09%; another checkpoint would change the validity column, not the method.
# - Quick profile: CIFAR-10 only, 300 samples per setting and 20 PC steps; the paper profile adds CIFAR-100 and uses
#   1,000 samples and the authors' 1,000-step sampler (not run here).
