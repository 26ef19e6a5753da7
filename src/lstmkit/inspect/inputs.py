"""A trained run's inputs as its model reads them: one adapter per task.

Each adapter turns what a user has (classify: sequences, from arrays or a file; forecast: a
table; textgen: text) into :class:`Sample` s: the model's input tensors after the estimator's own
preprocessing (standardisation, the series pipeline, the tokenizer), the target in the model's
units when it is known, and labels for the plots.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["INPUTS", "ClassifyInputs", "ForecastInputs", "Sample", "TextInputs", "read_inputs"]

TEXT_SUFFIXES = ("", ".txt", ".text", ".md")


@dataclass
class Sample:
    """One sequence to inspect.

    Attributes:
        index: its position among the inputs (what ``samples=`` / ``--samples`` name).
        x: (1, L, C) float32 model inputs, or (1, L) int64 token ids.
        lengths: (1,) its valid length, or None.
        target: what the model's loss compares with, in the model's units (classify (1,) class
            index; forecast (1, horizon) scaled values or bin indices), or None when unknown.
        shown: (L, C) the input for the plots (classify: as given; forecast: scaled as the model
            reads it), or None (token ids).
        label: one line saying what the sample is.
        steps: a tick label per input step.
        channels: a name per input channel, or None.
    """

    index: int
    x: Tensor
    lengths: Tensor | None
    target: Tensor | None
    shown: np.ndarray | None
    label: str
    steps: list[str]
    channels: list[str] | None = None


class ClassifyInputs:
    """Sequences for a ``Classifier``: X (N, L, C) or (N, L) as given, y as class indices."""

    def __init__(self, est, X, y: np.ndarray | None = None, lengths=None) -> None:
        from lstmkit.estimators._inputs import sequence_arrays

        self.est = est
        self.X, self.lengths = sequence_arrays(X, lengths)
        est._check_channels(self.X)
        self.y = None if y is None else np.asarray(y, dtype=np.int64)
        if self.y is not None and self.y.shape != (len(self.X),):
            raise ValueError(f"y must have shape ({len(self.X)},), got {self.y.shape}")
        self.names = [str(c) for c in est.classes_]

    @classmethod
    def from_labels(cls, est, X, labels=None, lengths=None) -> ClassifyInputs:
        """``labels`` as the data holds them (the values the model was trained on)."""
        if labels is None:
            return cls(est, X, None, lengths)
        from lstmkit.data.sequences import build_sequence_data

        names = [str(c) for c in est.classes_]
        data = build_sequence_data(X, labels, lengths, name="inputs", classes=names)
        return cls(est, data.X, data.y, data.lengths)

    @classmethod
    def from_source(cls, est, source: Any, *, labels=None, lengths=None, **_) -> ClassifyInputs:
        """A file (.npz with X[, y, lengths], IDX, UCR) or an array X."""
        if isinstance(source, str | Path):
            X, y, lengths = read_inputs(source, [str(c) for c in est.classes_])
            return cls(est, X, y, lengths)
        return cls.from_labels(est, source, labels, lengths)

    def __len__(self) -> int:
        return len(self.X)

    def default_samples(self) -> list[int]:
        return list(range(min(3, len(self))))

    def batch(self) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Every sequence: x (N, L, C) standardised, lengths (N,) or None, target (N,) or None."""
        x, lengths = self.est._inputs(self.X, self.lengths)
        return x, lengths, None if self.y is None else torch.from_numpy(self.y)

    def sample(self, i: int) -> Sample:
        sl = slice(i, i + 1)
        x, lengths = self.est._inputs(
            self.X[sl], None if self.lengths is None else self.lengths[sl]
        )
        target = None if self.y is None else torch.from_numpy(self.y[sl])
        label = f"sample {i}" + ("" if self.y is None else f", true class {self.names[self.y[i]]}")
        steps = [str(t) for t in range(self.X.shape[1])]
        return Sample(i, x, lengths, target, self.X[i], label, steps)


class RegressInputs(ClassifyInputs):
    """Sequences for a ``Regressor``: X as given, y (N,) or (N, T) numeric targets or None."""

    def __init__(self, est, X, y=None, lengths=None) -> None:
        from lstmkit.estimators._inputs import sequence_arrays, targets_2d

        self.est = est
        self.X, self.lengths = sequence_arrays(X, lengths)
        est._check_channels(self.X)
        self.y = None if y is None else targets_2d(y, len(self.X), "inspect")
        self.names = list(est.config_.names)

    @classmethod
    def from_labels(cls, est, X, labels=None, lengths=None) -> RegressInputs:
        return cls(est, X, labels, lengths)

    @classmethod
    def from_source(cls, est, source: Any, *, labels=None, lengths=None, **_) -> RegressInputs:
        """A file (.npz with X[, y, lengths], a regression .ts / .tsv) or an array X."""
        if not isinstance(source, str | Path):
            return cls(est, source, labels, lengths)
        path = Path(source)
        if path.suffix.lower() == ".npz":
            from lstmkit.data.files import open_npz

            try:
                X, y, lengths = open_npz(path)
            except ValueError:  # X alone is enough
                X, _, lengths = read_inputs(path, None)
                y = None
            return cls(est, X, y, lengths)
        from lstmkit.data.regression import load_file

        data = load_file(path)
        return cls(est, data.X, data.y, data.lengths)

    def batch(self) -> tuple[Tensor, Tensor | None, Tensor | None]:
        x, lengths = self.est._inputs(self.X, self.lengths)
        return x, lengths, None if self.y is None else torch.from_numpy(self.y)

    def sample(self, i: int) -> Sample:
        if self.y is None:
            return super().sample(i)
        x, lengths = self.est._inputs(
            self.X[i : i + 1], None if self.lengths is None else self.lengths[i : i + 1]
        )
        values = ", ".join(f"{v:.4g}" for v in self.y[i])
        steps = [str(t) for t in range(self.X.shape[1])]
        target = torch.from_numpy(self.y[i : i + 1])
        return Sample(i, x, lengths, target, self.X[i], f"sample {i}, true {values}", steps)


class ForecastInputs:
    """Look-back windows of a table for a ``Forecaster``: window j reads rows j .. j+lookback-1
    (after the fitted pipeline) and forecasts the ``horizon`` rows after them."""

    def __init__(self, est, data) -> None:
        self.est = est
        self.prep = est.prepare(data)
        self.lookback, self.horizon = est.lookback_, est.horizon_
        if len(self.prep.values) < self.lookback:
            raise ValueError(
                f"the table has {len(self.prep.values)} rows after preparation; the model reads "
                f"windows of {self.lookback} (its look-back)"
            )
        self.channels = [str(c) for c in est.pipeline_.state.get("columns", [])] or None

    @classmethod
    def from_source(cls, est, source: Any, **_) -> ForecastInputs:
        """A CSV / Parquet file with the training columns, or a DataFrame."""
        if isinstance(source, str | Path):
            from lstmkit.data.series.tables import load_table

            source, _ = load_table(str(source))
        return cls(est, source)

    def __len__(self) -> int:
        return len(self.prep.values) - self.lookback + 1

    def default_samples(self) -> list[int]:
        """The last window with a known future (scored against the truth) and the last window
        (what ``predict`` forecasts from)."""
        last = len(self) - 1
        return sorted({max(last - self.horizon, 0), last})

    def batch(self) -> tuple[Tensor, None, None]:
        """The last window (1, lookback, C): what ``predict`` forecasts from."""
        s = self.sample(len(self) - 1)
        return s.x, None, None

    def sample(self, j: int) -> Sample:
        values, lb, horizon = self.prep.values, self.lookback, self.horizon
        window = values[j : j + lb].astype(np.float32)  # (lookback, C)
        x = torch.from_numpy(np.ascontiguousarray(window))[None]  # (1, lookback, C)
        origin = j + lb
        target = None
        if origin + horizon <= len(values):
            y = torch.from_numpy(values[origin : origin + horizon, 0].astype(np.float32))[None]
            target = self.est._encode(y)  # (1, horizon): scaled values, or bin indices
        stamps = _stamps(self.prep.index)
        ahead = f"forecasting the {horizon} steps after the data"
        if target is not None:
            ahead = f"forecasting {stamps[origin]}..{stamps[origin + horizon - 1]} (truth known)"
        label = f"window {j}: {stamps[j]}..{stamps[origin - 1]}, {ahead}"
        return Sample(j, x, None, target, window, label, stamps[j:origin], self.channels)


class TextInputs:
    """Text for a ``TextGenerator``, tokenized and cut into chunks of ``steps`` tokens; each
    chunk is read from a zero state, as a prompt is."""

    def __init__(self, est, text: str, steps: int = 64) -> None:
        if not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an integer >= 2 (tokens per chunk), got {steps!r}")
        tok = est.tokenizer_
        ids = tok.encode(text, strict=est.level == "char")
        if len(ids) < 2:
            raise ValueError(
                f"the text holds {len(ids)} {est.level} token(s); the next-token loss needs 2"
            )
        self.est, self.ids = est, ids
        self.chunks = [ids[a : a + steps] for a in range(0, len(ids), steps)]
        if len(self.chunks) > 1 and len(self.chunks[-1]) < 2:
            self.chunks[-2] += self.chunks.pop()  # a last chunk of one token predicts nothing

    @classmethod
    def from_source(cls, est, source: Any, *, text: str | None = None, steps: int = 64,
                    **_) -> TextInputs:  # fmt: skip
        """A UTF-8 text file, or ``text`` itself."""
        if text is None:
            text = read_text(source)
        return cls(est, text, steps)

    def __len__(self) -> int:
        return len(self.chunks)

    def default_samples(self) -> list[int]:
        return [0]

    def batch(self) -> tuple[Tensor, None, None]:
        """The first chunk (1, L) as token ids."""
        return self.sample(0).x, None, None

    def sample(self, k: int) -> Sample:
        chunk = self.chunks[k]
        tok = self.est.tokenizer_
        start = sum(len(c) for c in self.chunks[:k])
        steps = [_visible(tok.decode([i])) for i in chunk]
        preview = tok.decode(chunk)
        preview = preview if len(preview) <= 60 else preview[:57] + "..."
        label = f"chunk {k}: {self.est.level}s {start}..{start + len(chunk) - 1}: {preview!r}"
        return Sample(k, torch.tensor([chunk]), None, None, None, label, steps)


INPUTS = {
    "classify": ClassifyInputs,
    "regress": RegressInputs,
    "forecast": ForecastInputs,
    "textgen": TextInputs,
}


def read_inputs(path: str | Path, classes: list[str]):
    """X, y (class indices, or None without labels) and lengths from a classify input file."""
    from lstmkit.data.load import read_inputs as read

    path = Path(path)
    if path.suffix.lower() in (".csv", ".parquet", ".pq", ".txt", ".json"):
        raise ValueError(
            f"{path.name}: a classify run reads .npz (X[, y, lengths]), IDX or UCR .tsv / .ts "
            "files, not a table or text"
        )
    return read(path, classes)


def read_text(source: Any) -> str:
    """The UTF-8 text of a file (a table or an array is refused: it is another task's input)."""
    if not isinstance(source, str | Path):
        raise TypeError(f"a textgen run reads text: a file path or text=, got {type(source)}")
    path = Path(source).expanduser()
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ValueError(f"{path.name}: a textgen run reads a UTF-8 text file (.txt) or --text")
    if not path.is_file():
        raise ValueError(f"text file {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte offset {e.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _stamps(index) -> list[str]:
    """Short labels for a time index: dates without a day when every day is the 1st."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        if (index.hour == 0).all() and (index.minute == 0).all():
            fmt = "%Y-%m" if (index.day == 1).all() else "%Y-%m-%d"
        else:
            fmt = "%Y-%m-%d %H:%M"
        return list(index.strftime(fmt))
    return [str(v) for v in index]


def _visible(token: str) -> str:
    """A token as a tick label: line breaks and spaces made visible."""
    return token.replace("\n", "\u21b5").replace(" ", "\u00b7") or "\u2205"
