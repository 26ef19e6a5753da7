"""Training: the Trainer, its config, schedules, checkpoints, batches and metrics."""

from lstmkit.train.batches import TensorBatches
from lstmkit.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from lstmkit.train.trainer import Trainer

__all__ = ["OPTIMIZERS", "SCHEDULES", "TensorBatches", "TrainConfig", "Trainer"]
