"""Recurrent layers: ``LSTM`` (stacked, bidirectional, any cell, any backend) and ``LSTMCell``."""

from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.lstm import BACKENDS, LSTM

__all__ = ["BACKENDS", "LSTM", "LSTMCell"]
