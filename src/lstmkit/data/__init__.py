"""Data for lstmkit's tasks.

Classification (``classify``): :func:`load_classification` turns a ``--data`` source (a built-in
name or a ``.npz`` / IDX / UCR ``.tsv`` / ``.ts`` file) into :class:`SequenceData` train and test
sets; :func:`stratified_split` makes a hold-out when the source has no test split.
"""

from lstmkit.data.builtin import BUILTIN_NAMES
from lstmkit.data.idx import read_idx, write_idx
from lstmkit.data.load import load_classification
from lstmkit.data.sequences import SequenceData, stratified_split

__all__ = [
    "BUILTIN_NAMES",
    "SequenceData",
    "load_classification",
    "read_idx",
    "stratified_split",
    "write_idx",
]
