"""High-level estimators with fit / predict / save, used by the CLI (one code path)."""

from lstmkit.estimators.classifier import Classifier
from lstmkit.estimators.textgen import TextGenerator

__all__ = ["Classifier", "TextGenerator"]
