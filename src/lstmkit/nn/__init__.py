"""Recurrent layers: ``LSTM`` (stacked, bidirectional, any cell, any backend), ``LSTMCell``, and
``LSTMStream`` (online inference, one step per call)."""

from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.lstm import BACKENDS, LSTM
from lstmkit.nn.stream import LSTMStream

__all__ = ["BACKENDS", "LSTM", "LSTMCell", "LSTMStream"]
