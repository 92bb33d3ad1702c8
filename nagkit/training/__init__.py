"""Training architectures from scratch.

``trainer``: the image trainer (``ImageTrainConfig``, the ``paper`` / ``quick`` profiles, devices,
batches, ``train_network`` with checkpoint / resume and SIGINT handling, ``TrainJob`` / ``run_job``);
networks come from the space's net builder (``nagkit.nets.NETS``).
``generated``: notebook 06's experiments (guided NB201 generation, generated MBV3 subnets, baseline
groups, group training at equal budget and its summaries).
"""
from nagkit.training.generated import (NB201_SOURCES, GuidedNB201Config, baseline_groups, best_by_valid, by_arch,
                                       generated_mbv3_subnets, guided_nb201_cells, top_by_benchmark, train_groups,
                                       train_many)
from nagkit.training.trainer import (PROFILE_CONFIGS, SEEDS, ImageTrainConfig, TrainJob, build_model, evaluate,
                                     job_splits, prepare_batch, profile, recalibrate_bn, run_job, train_network)

__all__ = ["NB201_SOURCES", "PROFILE_CONFIGS", "SEEDS", "GuidedNB201Config", "ImageTrainConfig", "TrainJob",
           "baseline_groups", "best_by_valid", "build_model", "by_arch", "evaluate", "generated_mbv3_subnets",
           "guided_nb201_cells", "job_splits", "prepare_batch", "profile", "recalibrate_bn", "run_job",
           "top_by_benchmark", "train_groups", "train_many", "train_network"]
