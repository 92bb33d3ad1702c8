"""Baselines the paper compares against: GDSS, an undirected graph diffusion (:mod:`nagkit.baselines.gdss`)."""
