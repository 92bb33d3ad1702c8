# %% [markdown]
# # 11 - GDSS baseline of the positional-embedding ablation
#
# The paper's ablation (method.md section 2) compares DiffusionNAG with and without its positional embedding and
# with GDSS (Jo et al., ICML 2022), an undirected graph diffusion over node features *and* adjacency whose score
# networks are permutation-equivariant: paper validity 4.56% on NB201, 0.00% on MBV3. `nagkit.baselines.gdss` is
# our small GDSS: the score nets' VE-SDE on both `X` and a symmetric `A` (both on the [-1, 1] scale), a dense-GCN
# feature score `s_X` and a symmetric pairwise adjacency score `s_A`, the predictor-corrector sampler. It is
# trained on the score nets' training set (`nagkit.diffusion.train.training_set`: half of NB201, a uniform MBV3
# sample).
#
# **Decoding rule.** A sampled graph is read in its node order: node `i`'s op is the argmax of its features (an
# MBV3 row whose maximum is below 0 is an unused slot, as for the score nets); `A_ij > 0` with `i < j` is the edge
# `i -> j`. Validity is then decided by the space's own rules (`space.validate`), under two readings:
# - `nodes`: the ops alone, the rule the score nets' samples are judged by (notebook 03; their adjacency is fixed);
# - `graph`: the ops, and the oriented edges must be exactly the space's adjacency.
#
# Nothing in a permutation-equivariant model tells a node which row it is, so even a GDSS that learned the
# node-type counts perfectly would put NB201's single input and output node at rows 0 and 7 with chance
# 1 / (8 * 7) = 1.8%.

# %% tags=["parameters"]
profile = "quick"
seed = 0

# %%
import json

import matplotlib.pyplot as plt
import torch

from nagkit.baselines import gdss
from nagkit.notebooks import output_dirs
from nagkit.paper import VALIDITY_GDSS
from nagkit.regression import Tolerance, assert_matches_stored, tolerance_table
from nagkit.report import row, write_results
from nagkit.spaces import get_space

torch.set_num_threads(1)
FIG, RES = output_dirs(profile)
N = 1000
SPACES = ("nb201", "mbv3")
cfg = gdss.profile(profile, seed=seed)
print(cfg)

# %% [markdown]
# ## Train GDSS on each space, sample 1,000 graphs

# %% tags=["nbval-ignore-output"]
runs, samples, quality = {}, {}, {}
for name in SPACES:
    space = get_space(name)
    train = gdss.training_archs(space, profile)
    runs[name] = gdss.train(space, cfg, train)
    samples[name] = gdss.sample(runs[name].model, gdss.make_sde(space), N, cfg, torch.Generator().manual_seed(seed))
    quality[name] = gdss.quality(space, *samples[name], train)
    print(f"{name}: {len(train)} training architectures, {cfg.steps} steps in {runs[name].seconds:.0f} s, "
          f"final loss {sum(runs[name].losses[-100:]) / 100:.3f}")
    for rule, q in quality[name].items():
        print(f"  rule {rule:5}: {q['valid']:4} valid of {q['n']}: validity {q['validity']:6.2%}, "
              f"uniqueness {q['uniqueness']:6.1%}, novelty {q['novelty']:6.1%}")

# %% [markdown]
# What the samples look like: edges per graph against the space's, and, where slots may be unused, how many
# slots a sample uses. A sample that uses every MBV3 slot (depth 4 in every stage) passes the nodes rule in any
# node order, so the nodes rule can credit an order-free model there.

# %% tags=["nbval-ignore-output"]
all_slots = {}
for name in SPACES:
    space = get_space(name)
    x, a = samples[name]
    edges = (a > 0).triu(1).sum(dim=(1, 2)).float()
    print(f"{name}: {edges.mean():.1f} edges per sampled graph (the space: {int(space.adjacency.sum())})")
    if space.optional_rows:
        valid = [s for s in gdss.decode_graphs(space, x, a, "nodes") if s is not None]
        full = sum(int(space.encode(s).sum()) == space.n_nodes for s in valid)
        all_slots[name] = (full, len(valid))
        train_used = space.encode_batch(gdss.training_archs(space, profile)[:N]).sum(dim=(1, 2))
        print(f"  slots used per sample: {gdss.discretize(x, 'argmax', True).sum(dim=(1, 2)).mean():.1f} "
              f"(training set: {train_used.mean():.1f}); {full} of the {len(valid)} nodes-rule-valid samples use "
              f"all {space.n_nodes} slots")

# %% [markdown]
# ## DiffusionNAG's validity (notebook 03's stored results, 1,000 samples, seed 0)

# %% tags=["nbval-ignore-output"]
stored03 = json.loads((RES / "03_generation_quality.json").read_text())["quality"]
ours = {(name, pe): stored03[f"{name}_{pe}"]["argmax"]["validity"] for name in SPACES for pe in ("pos", "nopos")}
for (name, pe), v in ours.items():
    print(f"DiffusionNAG {name} ({pe}): validity {v:.2%}")

# %% tags=["nbval-ignore-output"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
labels = ["DiffusionNAG\n(pos emb)", "DiffusionNAG\n(no pos emb)", "GDSS\n(nodes rule)", "GDSS\n(graph rule)",
          "GDSS\n(paper)"]
width = 0.38
for k, name in enumerate(SPACES):
    vals = [ours[(name, "pos")], ours[(name, "nopos")], quality[name]["nodes"]["validity"],
            quality[name]["graph"]["validity"], VALIDITY_GDSS[name] / 100]
    bars = axes[0].bar([i + (k - 0.5) * width for i in range(len(vals))], [100 * v for v in vals], width, label=name)
    axes[0].bar_label(bars, fmt="%.1f", fontsize=7)
axes[0].set(xticks=range(len(labels)), ylabel=f"validity (%) of {N} samples", ylim=(0, 110),
            title="positional-embedding ablation")
axes[0].set_xticklabels(labels, fontsize=8)
axes[0].legend()
for name in SPACES:
    losses = torch.tensor(runs[name].losses)
    axes[1].plot(torch.nn.functional.avg_pool1d(losses[None, None], 50, 1)[0, 0], label=name)
axes[1].set(title="GDSS training", xlabel="step", ylabel="DSM loss (X + A, moving avg 50)", yscale="log")
axes[1].legend()
fig.tight_layout()
for ext in ("png", "pdf"):
    fig.savefig(FIG / f"11_gdss_validity.{ext}", dpi=120)

# %% [markdown]
# ## Regression check
#
# GDSS is trained here, so on another CPU its weights differ in the last bits, and sampled graphs near a decision
# boundary come out differently: validities are compared with the stored ones within tolerances. Uniqueness and
# novelty are reported but not checked: they are fractions of the valid samples (a handful on NB201).

# %%
CHECKS = {f"{name}.{rule}.validity": q["validity"] for name in SPACES for rule, q in quality[name].items()}
CHECKS |= {f"{name}.final_loss": sum(runs[name].losses[-100:]) / 100 for name in SPACES}
TOLERANCES = {
    "mbv3.nodes.validity": Tolerance(0.15, "fraction of 1,000 samples from a net trained here: seeds 0 and 1 gave "
                                           "33.4% and 26.7% (0.067 apart); about 2x that"),
    "*.validity": Tolerance(0.02, "fraction of 1,000 samples: seeds 0 and 1 gave the same (0.2% / 0.0%); the "
                                  "binomial sd of the difference of two 1,000-sample estimates at p = 0.02 is 0.006"),
    "*.final_loss": Tolerance(0.03, "DSM loss averaged over the last 100 steps: seeds 0 and 1 differed by at most "
                                    "0.007"),
}
print(assert_matches_stored(RES / "11_gdss_baseline.json", CHECKS, TOLERANCES))

# %% [markdown]
# ## Results
#
# Rule for the status of each row: *reproduced* when our GDSS validity is at least 50 points below our
# DiffusionNAG validity with the positional embedding (the claim: without positional information the samples are
# rarely valid architectures) and within 5 points of the paper's GDSS figure. Both readings of validity are
# reported against the paper's single figure (the paper does not say how it read GDSS's graphs).

# %% tags=["nbval-ignore-output"]
RULE_TEXT = {"graph": "graph rule: the edges must be the space's too", "nodes": "nodes rule: the ops alone"}
rows = []
for name in SPACES:
    paper, with_pos = VALIDITY_GDSS[name], ours[(name, "pos")]
    for rule in ("graph", "nodes"):
        v = quality[name][rule]["validity"]
        far_below, near = v <= with_pos - 0.5, abs(100 * v - paper) <= 5.0
        note = (f"{RULE_TEXT[rule]}; {N} samples, seed {seed}; DiffusionNAG with positional embedding: "
                f"{100 * with_pos:.2f}")
        if rule == "nodes" and name in all_slots:
            full, n_valid = all_slots[name]
            note += f"; {full} of its {n_valid} valid samples use every slot (valid in any node order)"
        if not far_below:
            note += "; not far below DiffusionNAG"
        elif not near:
            note += "; the claim holds, but more than 5 points from the paper's figure"
        rows.append(row("Ablation: no positional embedding", f"{name} GDSS validity, {rule} rule (%)",
                        f"{paper:.2f}", f"{100 * v:.2f}", "reproduced" if far_below and near else "deviates", note))
for r in rows:
    print(r["row"], "| paper", r["paper"], "| nagkit", r["nagkit"], "|", r["status"], "|", r["note"])
_ = write_results(RES / "11_gdss_baseline.json", "11_gdss_baseline", profile, rows, n=N, seed=seed,
                  config=cfg.__dict__, quality=quality, regression=CHECKS, tolerances=tolerance_table(TOLERANCES))
