"""Unit-test setup: one torch thread (small models on 2 cores run several times faster, and reproducibly)."""
import torch

torch.set_num_threads(1)
