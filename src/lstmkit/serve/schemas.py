"""Request and response bodies of ``lstmkit serve`` (pydantic v2; FastAPI turns them into the
OpenAPI schema at ``/docs``).

Numbers are strict: ``"1.5"`` (a string) or ``true`` is a 422, not a number; ``NaN`` and
``Infinity`` (which Python's JSON reader accepts) are refused too. Unknown fields are refused, so
that a typo (``"input"`` for ``"inputs"``) is an error rather than silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictInt, StrictStr

__all__ = [
    "MAX_GENERATE_LENGTH",
    "ForecastRequest",
    "ForecastResponse",
    "GenerateRequest",
    "GenerateResponse",
    "Health",
    "PanelForecastRequest",
    "PanelForecastResponse",
    "PredictRequest",
    "PredictResponse",
]

MAX_GENERATE_LENGTH = 5_000  # tokens one /generate request may ask for

# a finite JSON number (an integer is accepted as a float; strings, booleans, NaN, inf are not)
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Cell = StrictInt | Number | StrictStr | None  # one value of a forecast history column


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Body):
    """``POST /predict`` (classify): N sequences of L steps with C channels each."""

    inputs: list[list[list[Number]]] | list[list[Number]] = Field(
        description="(N, L, C) nested lists, or (N, L) for one channel per step; every sequence "
        "of a request has the same L (right-pad shorter ones and give `lengths`)",
        examples=[[[[0.0, 0.1], [0.5, 0.2], [0.9, 0.4]]]],
    )
    lengths: list[StrictInt] | None = Field(
        default=None,
        description="valid steps of each sequence (N integers in [1, L]); padding past a "
        "sequence's length is ignored",
    )


class PredictResponse(BaseModel):
    labels: list[Any] = Field(description="predicted class of each sequence (N,)")
    probabilities: list[list[float]] = Field(
        description="class probabilities (N, K), columns in the order of `classes`"
    )
    classes: list[Any] = Field(description="the K class labels")


class RegressResponse(BaseModel):
    values: list[Any] = Field(
        description="predicted target of each sequence (N,), or (N, T) for T targets, in the "
        "units of the training targets"
    )
    targets: list[str] = Field(description="the T target names")


class ForecastRequest(_Body):
    """``POST /forecast``: the series so far, one list per column, as in the training table."""

    history: dict[str, list[Cell]] = Field(
        description="column -> values: the time column (dates as strings), the target and the "
        "covariates the model was trained with; at least the look-back's worth of rows; "
        "null marks a missing value",
        examples=[{"month": ["1960-10-01", "1960-11-01"], "passengers": [461, 390]}],
    )


class ForecastResponse(BaseModel):
    forecast: dict[str, list[Cell]] = Field(
        description="column -> values for the horizon after the history's end: the time column "
        "(or `step`), the target (point forecast) and `q<level>` quantile columns, the same "
        "columns `lstmkit predict` writes"
    )


class PanelForecastRequest(_Body):
    """``POST /forecast`` on a panel run (one model over many series): every series to forecast,
    in one long table, one list per column as in the training table."""

    history: dict[str, list[Cell]] = Field(
        description="column -> values in long format, one row per (series, time step): the id "
        "column, the time column (dates as strings), the target and the covariates the model "
        "was trained with (a static one repeated on every row of its series); series may differ "
        "in length and need not be sorted; null marks a missing value. A run trained on a wide "
        "table (one column per series) takes the wide table",
        examples=[{"unique_id": ["a", "a", "a", "b", "b", "b"],
                   "ds": ["2024-01-01", "2024-01-02", "2024-01-03"] * 2,
                   "y": [10.0, 12.0, 11.0, 200.0, 180.0, 210.0]}],
    )  # fmt: skip
    future: dict[str, list[Cell]] | None = Field(
        default=None,
        description="runs trained with future covariates only: their values over the horizon "
        "after each series' end, column -> values: the id and time columns and the future "
        "covariates, `horizon` rows per series",
    )


class PanelForecastResponse(BaseModel):
    forecast: dict[str, list[Cell]] = Field(
        description="column -> values in long format, `horizon` rows per series of the "
        "history: the id column, the time column (continuing each series' frequency), the "
        "target (point forecast) and `q<level>` quantile columns, the same columns `lstmkit "
        "predict` writes for a panel run"
    )


class GenerateRequest(_Body):
    """``POST /generate`` (textgen): continue ``prompt`` by ``length`` sampled tokens."""

    prompt: StrictStr = Field(description="text to continue (may be empty)")
    length: StrictInt = Field(
        default=200, ge=0, le=MAX_GENERATE_LENGTH, description="tokens to generate"
    )
    temperature: Number = Field(default=1.0, gt=0, description="> 0; lower is more conservative")
    top_k: StrictInt | None = Field(
        default=None, ge=1, description="sample among the K most likely tokens"
    )
    top_p: Number | None = Field(
        default=None, gt=0, le=1, description="nucleus sampling: the most likely tokens holding P"
    )
    seed: StrictInt | None = Field(default=None, description="the same seed gives the same text")


class GenerateResponse(BaseModel):
    text: str = Field(description="the prompt followed by the generated tokens")


class Health(BaseModel):
    status: str
    task: str
    endpoint: str = Field(description="the one model endpoint this server has")
    lstmkit_version: str
    model: dict[str, Any] = Field(description="parameters and the shape of what it reads")
    max_body_bytes: int
    batching: dict[str, Any] = Field(
        description="classify: requests served and forward passes run (several requests share "
        "one pass when they arrive together)"
    )
