"""Recurrent layers: ``LSTM`` (stacked, bidirectional, any cell, any backend), ``LSTMCell``,
``GRU`` / ``GRUCell`` (torch's signatures and return structure),
``LSTMStream`` (online inference, one step per call); ``convert`` (a model's torch LSTMs / GRUs
made lstmkit's) and ``recording`` (the gates and states of every lstmkit layer in a model)."""

from lstmkit.nn.cell import GRUCell, LSTMCell
from lstmkit.nn.convert import convert
from lstmkit.nn.lstm import BACKENDS, GRU, LSTM
from lstmkit.nn.recording import Recording, recording
from lstmkit.nn.stream import LSTMStream

__all__ = [
    "BACKENDS",
    "GRU",
    "LSTM",
    "GRUCell",
    "LSTMCell",
    "LSTMStream",
    "Recording",
    "convert",
    "recording",
]
