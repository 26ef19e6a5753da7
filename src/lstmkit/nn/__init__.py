"""Recurrent layers: ``LSTM`` (stacked, bidirectional, any cell, any backend), ``LSTMCell``,
``LSTMStream`` (online inference, one step per call); ``convert`` (a model's torch LSTMs / GRUs
made lstmkit's) and ``recording`` (the gates and states of every lstmkit layer in a model)."""

from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.convert import convert
from lstmkit.nn.lstm import BACKENDS, LSTM
from lstmkit.nn.recording import Recording, recording
from lstmkit.nn.stream import LSTMStream

__all__ = ["BACKENDS", "LSTM", "LSTMCell", "LSTMStream", "Recording", "convert", "recording"]
