"""Shared fixtures of the inspect tests: one thread, small models built from their configs."""

from __future__ import annotations

import pytest
import torch

from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier


@pytest.fixture
def classifier():
    """``classifier(**feature_options)``: a SequenceClassifier over 3 channels, 4 classes, seeded,
    in float64 and eval mode."""

    def make(seed: int = 0, **options) -> SequenceClassifier:
        torch.manual_seed(seed)
        options = {"input_size": 3, "hidden": 5, "layers": 1, "cell": "lstm"} | options
        model = SequenceClassifier(ClassifierConfig(FeatureConfig(**options), num_classes=4))
        return model.double().eval()

    return make
