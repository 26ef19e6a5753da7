"""The search space of ``lstmkit tune``: a registry from task to its hyperparameters.

Every hyperparameter is an estimator option, named as in ``lstmkit train`` (``hidden``, ``lr``,
``batch_size``, ...), so a value the user gives with the usual train flag is *fixed*: it is
passed to every trial and not searched. Conditional hyperparameters (dropout between layers)
are searched only when they matter (more than one layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CELLS", "SPACES", "Param", "describe_space", "search_space", "suggest"]

CELLS = ("lstm", "peephole", "coupled", "gru", "layernorm")


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter.

    ``kind``: ``"int"`` / ``"float"`` (between ``low`` and ``high``, on a log scale with ``log``)
    or ``"categorical"`` (one of ``choices``). ``when``: searched only when it holds for the
    values chosen so far (fixed and earlier suggested ones); otherwise the option keeps the
    estimator's default.
    """

    name: str  # the estimator option (and train flag: --<name with - for _>)
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    when: Callable[[Mapping[str, Any]], bool] | None = None
    depends: tuple[str, ...] = ()  # the names ``when`` reads
    condition: str = ""  # ``when`` in words, for describe_space
    text: str = ""  # the range in words, when the values depend on the data

    def __post_init__(self) -> None:
        if self.kind not in _SUGGEST:
            raise ValueError(f"kind must be one of {', '.join(_SUGGEST)}, got {self.kind!r}")
        if self.kind == "categorical" and not self.choices:
            raise ValueError(f"categorical parameter {self.name} needs choices")
        if self.kind != "categorical" and (self.low is None or self.high is None):
            raise ValueError(f"{self.kind} parameter {self.name} needs low and high")

    def suggest(self, trial) -> Any:
        """The value an ``optuna.Trial`` proposes for this parameter."""
        return _SUGGEST[self.kind](self, trial)

    def describe(self) -> str:
        if self.text:
            text = self.text
        elif self.kind == "categorical":
            text = " | ".join(
                str(c).lower() if isinstance(c, bool) else str(c) for c in self.choices
            )
        else:
            text = f"{self.low:g} .. {self.high:g}" + (" (log)" if self.log else "")
        return text + (f"  [when {self.condition}]" if self.condition else "")


_SUGGEST: dict[str, Callable[[Param, Any], Any]] = {
    "int": lambda p, t: t.suggest_int(p.name, int(p.low), int(p.high), log=p.log),
    "float": lambda p, t: t.suggest_float(p.name, p.low, p.high, log=p.log),
    "categorical": lambda p, t: t.suggest_categorical(p.name, list(p.choices)),
}


def _stacked(values: Mapping[str, Any]) -> bool:
    return values.get("layers", 1) > 1


def _common(
    hidden: tuple[int, int],
    lr: tuple[float, float],
    batch_sizes: tuple[int, ...],
    bidirectional: bool,
) -> list[Param]:
    params = [
        Param("hidden", "int", *hidden, log=True),
        Param("layers", "int", 1, 3),
        Param("cell", "categorical", choices=CELLS),
    ]
    if bidirectional:
        params.append(Param("bidirectional", "categorical", choices=(False, True)))
    params.append(
        Param(
            "dropout", "float", 0.0, 0.5, when=_stacked, depends=("layers",), condition="layers > 1"
        )
    )
    params.append(Param("lr", "float", *lr, log=True))
    params.append(Param("batch_size", "categorical", choices=batch_sizes))
    return params


def _classify(context: Mapping[str, Any]) -> list[Param]:
    params = _common((16, 256), (1e-4, 1e-2), (32, 64, 128, 256), True)
    params.append(Param("head_dropout", "float", 0.0, 0.5))
    return params


def _lookbacks(season: int, longest: float) -> tuple[int, ...]:
    """1 to 4 seasons (steps of 8 without a season), no longer than ``longest`` (the longest
    look-back that leaves enough training windows; at least one season is always offered)."""
    unit = season if season > 1 else 8
    fits = tuple(unit * k for k in range(1, 5) if unit * k <= longest)
    return fits or (unit,)


def _forecast(context: Mapping[str, Any]) -> list[Param]:
    params = _common((16, 256), (1e-4, 1e-2), (16, 32, 64), True)
    params.append(Param("head_dropout", "float", 0.0, 0.5))
    lookbacks = _lookbacks(context.get("season", 1), context.get("max_lookback", math.inf))
    text = "1 to 4 seasons (steps of 8 without a season) that leave 8 training windows"
    params.append(Param("lookback", "categorical", choices=lookbacks, text=text))
    return params


def _textgen(context: Mapping[str, Any]) -> list[Param]:
    # a language model reads left to right: no bidirectional
    return _common((32, 512), (3e-4, 3e-2), (16, 32, 64), False)


# task -> builder of its parameters from the data's context (forecast: season, max_lookback)
SPACES: dict[str, Callable[[Mapping[str, Any]], list[Param]]] = {
    "classify": _classify,
    "forecast": _forecast,
    "textgen": _textgen,
}


def search_space(
    task: str, fixed: Mapping[str, Any] = (), context: Mapping[str, Any] | None = None
) -> list[Param]:
    """The parameters of ``task`` that ``fixed`` (the options the user set) leaves to search."""
    if task not in SPACES:
        raise ValueError(f"task must be one of {', '.join(SPACES)}, got {task!r}")
    fixed = dict(fixed)

    def searched(p: Param) -> bool:
        if p.name in fixed:
            return False
        decided = p.when is not None and all(name in fixed for name in p.depends)
        return not decided or p.when(fixed)  # e.g. no dropout search with --layers 1

    return [p for p in SPACES[task](context or {}) if searched(p)]


def suggest(trial, space: list[Param], fixed: Mapping[str, Any] = ()) -> dict[str, Any]:
    """The values ``trial`` proposes for ``space`` (conditional ones only where they apply)."""
    values, params = dict(fixed), {}
    for p in space:
        if p.when is not None and not p.when(values):
            continue
        params[p.name] = values[p.name] = p.suggest(trial)
    return params


def describe_space(space: list[Param]) -> list[str]:
    """One line per parameter: ``name  range``."""
    width = max((len(p.name) for p in space), default=0)
    return [f"{p.name:<{width}}  {p.describe()}" for p in space]
