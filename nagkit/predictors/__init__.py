"""Architecture property predictors: clean f(X), noise-aware f(X_t, sigma), dataset-aware f(X, D)
(method.md sections 3-4), their training loops and the MetaD2A meta-training data (leave-one-dataset-out
surrogates on benchmark tables: :mod:`nagkit.transfer.lodo`)."""
import warnings

# torch-geometric 2.8 scripts a helper with torch.jit at import time; torch 2.14 deprecates that. Not actionable here.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)

from nagkit.predictors.encoder import EncoderConfig, GraphEncoder
from nagkit.predictors.fit import (
    FitConfig,
    MetaTrainConfig,
    SurrogateConfig,
    evaluate,
    fit_predictor,
    meta_train_profile,
    noised,
    predict,
    rank_correlation,
    scale,
    surrogate_profile,
)
from nagkit.predictors.metad2a import (
    MetaD2AData,
    TaskFeatureSampler,
    cached_meta_predictor,
    convert_metad2a,
    default_source_dir,
    load_class_features,
    load_metad2a,
    load_untrusted,
    meta_predictor_key,
    meta_train_predictor,
    save_class_features,
)
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.predictors.set_encoder import SetEncoder, SetEncoderConfig

__all__ = [
    "EncoderConfig", "FitConfig", "GraphEncoder", "MetaD2AData", "MetaTrainConfig", "Predictor",
    "PredictorConfig", "SetEncoder", "SetEncoderConfig", "SurrogateConfig", "TaskFeatureSampler",
    "cached_meta_predictor", "convert_metad2a", "default_source_dir", "evaluate", "fit_predictor",
    "load_class_features", "load_metad2a", "load_untrusted", "meta_predictor_key", "meta_train_predictor",
    "meta_train_profile", "noised", "predict", "rank_correlation", "save_class_features", "scale",
    "surrogate_profile",
]
