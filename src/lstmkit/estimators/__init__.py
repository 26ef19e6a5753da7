"""High-level estimators with fit / predict / save, used by the CLI (one code path)."""

from lstmkit.estimators.classifier import Classifier

__all__ = ["Classifier"]
