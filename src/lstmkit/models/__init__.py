"""The ``nn.Module``s of the tasks, each with a config dataclass that rebuilds it."""

from lstmkit.models.classifier import ARCHS, ClassifierConfig, SequenceClassifier
from lstmkit.models.fcn import FCNBranches, FCNConfig
from lstmkit.models.features import POOLS, FeatureConfig, FeatureExtractor
from lstmkit.models.forecast import ForecastConfig, ForecastModel
from lstmkit.models.language import LanguageConfig, LanguageModel
from lstmkit.models.regressor import RegressorConfig, SequenceRegressor

__all__ = [
    "ARCHS",
    "POOLS",
    "ClassifierConfig",
    "FCNBranches",
    "FCNConfig",
    "FeatureConfig",
    "FeatureExtractor",
    "ForecastConfig",
    "ForecastModel",
    "LanguageConfig",
    "LanguageModel",
    "RegressorConfig",
    "SequenceClassifier",
    "SequenceRegressor",
]
