"""The ``nn.Module``s of the tasks, each with a config dataclass that rebuilds it."""

from lstmkit.models.classifier import ClassifierConfig, SequenceClassifier
from lstmkit.models.features import POOLS, FeatureConfig, FeatureExtractor
from lstmkit.models.forecast import ForecastConfig, ForecastModel
from lstmkit.models.language import LanguageConfig, LanguageModel

__all__ = [
    "POOLS",
    "ClassifierConfig",
    "FeatureConfig",
    "FeatureExtractor",
    "ForecastConfig",
    "ForecastModel",
    "LanguageConfig",
    "LanguageModel",
    "SequenceClassifier",
]
