"""Architecture property predictors: clean f(X), noise-aware f(X_t, sigma), dataset-aware f(X, D)
(method.md sections 3-4), their training loops, NB201 leave-one-dataset-out surrogates and the
MetaD2A meta-training data."""
import warnings

# torch-geometric 2.8 scripts a helper with torch.jit at import time; torch 2.14 deprecates that. Not actionable here.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

from nagkit.predictors.encoder import EncoderConfig, GraphEncoder
from nagkit.predictors.fit import (
    FitConfig,
    SurrogateConfig,
    evaluate,
    fit_predictor,
    heldout_correlation,
    lodo_sources,
    lodo_surrogates,
    nb201_matrices,
    noised,
    predict,
    rank_correlation,
    scale,
    source_objective,
    split,
    surrogate_profile,
    train_surrogate,
)
from nagkit.predictors.metad2a import (
    MetaD2AData,
    MetaTrainConfig,
    TaskFeatureSampler,
    convert_metad2a,
    default_source_dir,
    load_class_features,
    load_metad2a,
    load_untrusted,
    meta_train_predictor,
    save_class_features,
)
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.predictors.set_encoder import SetEncoder, SetEncoderConfig

__all__ = [
    "EncoderConfig", "FitConfig", "GraphEncoder", "MetaD2AData", "MetaTrainConfig", "Predictor",
    "PredictorConfig", "SetEncoder", "SetEncoderConfig", "SurrogateConfig", "TaskFeatureSampler",
    "convert_metad2a", "default_source_dir", "evaluate", "fit_predictor", "heldout_correlation", "load_class_features",
    "load_metad2a", "load_untrusted", "lodo_sources", "lodo_surrogates", "meta_train_predictor",
    "nb201_matrices", "noised", "predict", "rank_correlation", "save_class_features", "scale",
    "source_objective", "split", "surrogate_profile", "train_surrogate",
]
