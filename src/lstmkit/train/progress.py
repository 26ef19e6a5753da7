"""Feedback while training: a progress bar where someone watches, one line per epoch on request.

``progress_bar`` shows tqdm's bar only where the output is a terminal or a notebook (a log
redirected to a file gets no bar). ``EpochLines`` is an ``on_epoch_end`` callback that logs one
line per epoch (losses, metrics, time) on the ``lstmkit.progress`` logger; ``epoch_lines(verbose)``
gives that logger its own stderr handler for the duration of a fit, so that ``verbose=1`` shows
the lines in a notebook or a script without any logging set-up.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["PROGRESS_LOGGER", "EpochLines", "epoch_lines", "in_notebook", "progress_bar"]

PROGRESS_LOGGER = "lstmkit.progress"


def in_notebook() -> bool:
    """Running inside a Jupyter (IPython) kernel."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    get = getattr(shell, "get_ipython", None)
    return get is not None and get() is not None and "IPKernelApp" in get().config


def progress_bar(
    iterable: Iterable, total: int, desc: str, unit: str = "batch", unit_scale: int = 1
) -> Any:
    """tqdm over ``iterable`` where someone watches (a terminal or a notebook), else None.
    ``unit_scale``: units per item (a batch of 256 windows counts 256 ``window``)."""
    notebook = in_notebook()
    if not notebook and not sys.stderr.isatty():
        return None
    kw = {"total": total, "desc": desc, "leave": False, "unit": unit}
    if unit_scale != 1:
        kw["unit_scale"] = unit_scale
    if notebook:
        with contextlib.suppress(ImportError):  # the widget bar needs ipywidgets
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm(iterable, **kw)
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, **kw)


class EpochLines:
    """``on_epoch_end(epoch, record)``: ``epoch 3/10  loss 0.4123  val_loss 0.3811  ...  1.2 s``.

    A class (not a closure), so that estimators holding one still pickle."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int, record: dict[str, float]) -> None:
        skip = {"epoch", "seconds", "lr", "clipped_fraction", "grad_norm"}
        parts = [f"epoch {epoch}/{self.epochs}"]
        parts += [f"{k} {v:.4g}" for k, v in record.items() if k not in skip and _number(v)]
        parts.append(f"{record.get('seconds', 0.0):.1f} s")
        logging.getLogger(PROGRESS_LOGGER).info("  ".join(parts))


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@contextlib.contextmanager
def epoch_lines(verbose: int) -> Iterator[None]:
    """With ``verbose >= 1``: the ``lstmkit.progress`` logger writes its lines to the current
    stderr (not propagated, so a configured root logger does not print them twice)."""
    if verbose < 1:
        yield
        return
    logger = logging.getLogger(PROGRESS_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    before = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])
        logger.propagate = before[1]
