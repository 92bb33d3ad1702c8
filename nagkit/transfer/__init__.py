"""Transfer NAG (method.md section 5) on any registered tabular benchmark with at least two datasets.

Modules (import the one you need; this package imports none of them):

- :mod:`nagkit.transfer.lodo`: source datasets of a target and the leave-one-dataset-out (LODO)
  surrogates trained on them (the target's labels are never read);
- :mod:`nagkit.transfer.predictors`: the clean (ranking) and noise-aware (guidance) predictors of a run;
- :mod:`nagkit.transfer.protocol`: generate -> rank -> train in rank order, one seed and its summaries;
- :mod:`nagkit.transfer.tuning`: label-free choice of the guidance scale on pseudo-tasks;
- :mod:`nagkit.transfer.prior`: the transfer prior of BO loops (``prior="lodo"`` of BANANAS / DiffusionNAG-BO).
"""
