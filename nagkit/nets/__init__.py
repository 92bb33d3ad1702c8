"""Trainable networks built from architectures: NB201 cells (nb201.py), MobileNetV3 subnets (mbv3.py)."""
