"""The toy classification problem the Trainer tests share (single-process and DDP): 3 learnable
classes from random (n, 6, 3) sequences, a 1-layer classifier, its step and evaluation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier


def toy_data(n=96, L=6, C=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, L, C, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long() + (x[:, -1, 1] > 0.5).long()  # 3 learnable classes
    return x, y


def toy_model(seed=0):
    torch.manual_seed(seed)
    return SequenceClassifier(ClassifierConfig(FeatureConfig(3, 8, 1, dropout=0.0), 3, 0.2))


def toy_step(model, batch):
    x, y = batch
    return F.cross_entropy(model(x), y), len(y)


@torch.no_grad()
def toy_evaluate(model, batches):
    tot, n = 0.0, 0
    for x, y in batches.batches():
        tot += float(F.cross_entropy(model(x), y, reduction="sum"))
        n += len(y)
    return {"loss": tot / n}
