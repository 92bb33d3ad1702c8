"""Image datasets with the paper's splits (datasets.py), downloads (fetch.py), set-encoder features (features.py)."""
from nagkit.data.datasets import SPECS, DatasetSpec, ImageSet, Splits, get_spec, load_splits
from nagkit.data.features import DatasetFeatures, dataset_features, load_resnet18
from nagkit.data.fetch import RESOURCES, NetworkUnavailable

__all__ = [
    "RESOURCES", "SPECS", "DatasetFeatures", "DatasetSpec", "ImageSet", "NetworkUnavailable", "Splits",
    "dataset_features", "get_spec", "load_resnet18", "load_splits",
]
