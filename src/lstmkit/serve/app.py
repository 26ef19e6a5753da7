"""The FastAPI app of ``lstmkit serve``: ``GET /health`` and the run's one model endpoint.

``build_app(run_dir)`` loads the trained estimator (``lstmkit.load``) and registers the endpoint
of its task only (``POST /predict`` classify, ``POST /forecast`` forecast, ``POST /generate``
textgen; any other path is a 404). A panel run (``PanelForecaster``, one model over many
series) answers ``POST /forecast`` for every series of a long table in one request. The
estimator does all preprocessing, exactly as for ``lstmkit predict`` / ``generate``; this module
turns JSON into its arguments and back.

Every model call runs on one worker thread (:class:`~lstmkit.serve.batching.ModelRunner`), never
on the event loop; classify requests that arrive together share a forward pass
(:class:`~lstmkit.serve.batching.MicroBatcher`).

Status codes: 200; 400 malformed JSON; 404 an endpoint this run does not have; 405 a wrong
method; 413 a body over ``max_body_bytes``; 415 a body not sent as JSON; 422 a body of the wrong
shape or type, or content the model refuses (its ``ValueError`` message is the ``detail``).
Every error body is JSON ``{"detail": ...}``.
"""

import logging
import math
import warnings
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lstmkit import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ENDPOINTS", "build_app", "require_serve_deps"]

log = logging.getLogger("lstmkit.serve")

DEFAULT_MAX_BODY_BYTES = 10 * 2**20  # 10 MB
ENDPOINTS = {
    "classify": "/predict",
    "regress": "/predict",
    "forecast": "/forecast",
    "textgen": "/generate",
}
_MAX_ERRORS = 20  # validation errors listed in one 422 detail


def require_serve_deps() -> None:
    """Import-check fastapi, uvicorn and pydantic; ImportError naming the extra otherwise."""
    try:
        import fastapi  # noqa: F401
        import pydantic  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"lstmkit serve needs FastAPI and uvicorn ({e.name} is missing): "
            "pip install 'lstmkit[serve]'"
        ) from e


def build_app(
    model: str | Path | Any,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_window: float = 0.002,
) -> "FastAPI":
    """The FastAPI app serving ``model``: a run directory or a fitted estimator
    (``Classifier``, ``Regressor``, ``Forecaster``, ``TextGenerator``).

    Args:
        model: what to serve; a run directory is read with ``lstmkit.load`` (a panel run
            gives a ``PanelForecaster``, also served as it is).
        max_body_bytes: larger request bodies get a 413.
        batch_window: classify and regress: seconds a request waits for others of the same shape to
            share its forward pass (0: no batching).

    Raises:
        ImportError: FastAPI / uvicorn / pydantic missing (the message names the extra).
        ValueError: not a run directory, or a task this version cannot serve.
    """
    require_serve_deps()
    from fastapi import FastAPI

    from lstmkit.serve.batching import MicroBatcher, ModelRunner
    from lstmkit.serve.middleware import BodyLimit, RequestLog

    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
        raise TypeError(f"max_body_bytes must be an integer, got {max_body_bytes!r}")
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
    if not batch_window >= 0:
        raise ValueError(f"batch_window must be >= 0 seconds, got {batch_window}")
    run_dir = None
    if isinstance(model, str | Path):
        from lstmkit.estimators.loading import load

        run_dir, model = Path(model), load(model)
    if getattr(model, "panel_", None) is not None:  # Forecaster.fit(..., id_col=...)
        model = model.panel_
    task = getattr(model, "task", None)
    if task not in ENDPOINTS:
        raise ValueError(
            f"cannot serve {type(model).__name__} (task {task!r}); expected a fitted "
            f"Classifier, Regressor, Forecaster or TextGenerator, or a run directory of one"
        )
    model._check_fitted()
    panel = _is_panel(model)
    _warm_up(model)
    runner = ModelRunner()
    batcher = None
    if task == "classify":
        batcher = MicroBatcher(model.predict_proba, runner, window=batch_window)
    elif task == "regress":
        batcher = MicroBatcher(model.predict, runner, window=batch_window)

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            runner.close()

    app = FastAPI(
        title=f"lstmkit serve: {task}",
        version=__version__,
        description=f"A trained lstmkit {task} model"
        + (" over many series (a panel)" if panel else "")
        + (f" (run directory `{run_dir}`)" if run_dir else "")
        + f". `POST {ENDPOINTS[task]}` runs it; `GET /health` describes it.",
        lifespan=lifespan,
    )
    app.state.task = task
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RequestLog)  # added last: outermost, so that 413s are logged too
    _add_error_handlers(app, task)
    info = _model_info(model, run_dir)

    from lstmkit.serve.schemas import Health

    @app.get("/health", response_model=Health, summary="Liveness and what is served")
    async def health() -> dict:
        passes = {} if batcher is None else {"requests": batcher.requests, "passes": batcher.passes}
        return {
            "status": "ok",
            "task": task,
            "endpoint": ENDPOINTS[task],
            "lstmkit_version": __version__,
            "model": info,
            "max_body_bytes": max_body_bytes,
            "batching": {"window_ms": batch_window * 1000 if batcher else None} | passes,
        }

    (_add_panel_forecast if panel else _ROUTES[task])(app, model, runner, batcher)
    return app


# ---------------------------------------------------------------------------- endpoints
def _add_predict(app, clf, runner, batcher) -> None:
    from fastapi import HTTPException

    from lstmkit.serve.schemas import PredictRequest, PredictResponse

    @app.post("/predict", response_model=PredictResponse, summary="Classify sequences")
    async def predict(body: PredictRequest) -> dict:
        X, lengths = _sequences(body.inputs, body.lengths)
        proba = await _model_call(batcher(X, lengths))  # (N, K)
        if not np.isfinite(proba).all():
            raise HTTPException(
                status_code=422,
                detail="the model gives non-finite probabilities for these inputs; are they on "
                "the scale of the training data?",
            )
        classes = clf.classes_.tolist()
        return {
            "labels": [classes[k] for k in proba.argmax(1)],
            "probabilities": proba.tolist(),
            "classes": classes,
        }


def _add_regress(app, reg, runner, batcher) -> None:
    from fastapi import HTTPException

    from lstmkit.serve.schemas import PredictRequest, RegressResponse

    @app.post("/predict", response_model=RegressResponse, summary="Predict each sequence's target")
    async def predict(body: PredictRequest) -> dict:
        X, lengths = _sequences(body.inputs, body.lengths)
        values = await _model_call(batcher(X, lengths))  # (N,) or (N, T)
        if not np.isfinite(values).all():
            raise HTTPException(
                status_code=422,
                detail="the model gives non-finite values for these inputs; are they on the "
                "scale of the training data?",
            )
        return {"values": values.tolist(), "targets": list(reg.config_.names)}


def _add_forecast(app, fc, runner, batcher) -> None:
    from lstmkit.serve.schemas import ForecastRequest, ForecastResponse

    @app.post("/forecast", response_model=ForecastResponse, summary="Forecast the next horizon")
    async def forecast(body: ForecastRequest) -> dict:
        df = _history_frame(body.history)
        table = await _model_call(runner(fc.predict, df))
        return {"forecast": _table_json(table)}


def _add_panel_forecast(app, fc, runner, batcher) -> None:
    from typing import Annotated

    from fastapi import Body, HTTPException

    from lstmkit.serve.schemas import PanelForecastRequest, PanelForecastResponse

    n, H = fc.names_, fc.horizon_
    hint = "send {id column: [...], time column: [...], target: [...]} as in the training table"
    want = [c for c in (n.id_col, n.time_col, *n.future) if c is not None]
    future_hint = f"send the columns {want}, {H} rows per series after its end"
    if not n.future:
        future_hint = "this model takes no future covariates: leave `future` out"
    examples = _panel_examples(fc)
    Request = Annotated[PanelForecastRequest, Body(openapi_examples=examples or None)]

    @app.post("/forecast", response_model=PanelForecastResponse,
              summary="Forecast the next horizon of every series")  # fmt: skip
    async def forecast(body: Request) -> dict:
        df = _history_frame(body.history, "history", hint)
        future = None
        if body.future is not None:
            future = _history_frame(body.future, "future", future_hint)
        elif n.future:
            raise HTTPException(
                status_code=422,
                detail=f"this model needs the future covariates {list(n.future)} over the {H} "
                f"steps after each series' end: send `future` with the columns {want}, {H} rows "
                "per series",
            )
        table = await _model_call(runner(fc.predict, df, future))
        return {"forecast": _table_json(table)}


def _add_generate(app, gen, runner, batcher) -> None:
    from lstmkit.serve.schemas import GenerateRequest, GenerateResponse

    @app.post("/generate", response_model=GenerateResponse, summary="Continue a prompt")
    async def generate(body: GenerateRequest) -> dict:
        args = (body.prompt, body.length, body.temperature, body.top_k, body.top_p, body.seed)
        return {"text": await _model_call(runner(gen.generate, *args))}


_ROUTES = {
    "classify": _add_predict,
    "regress": _add_regress,
    "forecast": _add_forecast,
    "textgen": _add_generate,
}


async def _model_call(work):
    """Await a model call; its ValueError / TypeError (bad content) becomes a 422."""
    from fastapi import HTTPException

    try:
        return await work
    except (ValueError, TypeError) as e:
        raise HTTPException(status_code=422, detail=str(e)) from e


# ---------------------------------------------------------------------------- JSON <-> arrays
def _sequences(inputs: list, lengths: list[int] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Nested lists -> ((N, L, C) float32, (N,) int64 or None); 422 for a ragged or empty
    request. The estimator checks the rest (channels, lengths' range)."""
    from fastapi import HTTPException

    try:
        with np.errstate(over="ignore"):  # too large for float32: inf, refused below
            X = np.asarray(inputs, dtype=np.float32)
    except ValueError:
        shapes = sorted({_shape(seq) for seq in inputs})
        raise HTTPException(
            status_code=422,
            detail=f"inputs are ragged: sequences of shapes {shapes[:5]} in one request; every "
            "sequence needs the same length L and channels C (right-pad shorter ones with 0 "
            "and give their `lengths`)",
        ) from None
    if X.ndim == 2:
        X = X[:, :, None]  # (N, L) -> (N, L, 1)
    if X.ndim != 3 or 0 in X.shape:
        raise HTTPException(
            status_code=422,
            detail=f"inputs must be a non-empty (N, L, C) or (N, L) nested list, got shape "
            f"{X.shape}",
        )
    if not np.isfinite(X).all():
        raise HTTPException(
            status_code=422, detail="inputs hold values too large for float32 (|x| > 3.4e38)"
        )
    if lengths is None:
        return X, None
    if len(lengths) != len(X):  # checked here: a batch lines lengths up with rows
        raise HTTPException(
            status_code=422,
            detail=f"lengths must give one integer per sequence: {len(X)} sequences, "
            f"{len(lengths)} lengths",
        )
    return X, np.asarray(lengths, dtype=np.int64)


def _shape(seq: list) -> tuple[int, ...]:
    """The outer shape of one sequence: (L,) or (L, C) where its rows agree, else (L, -1)."""
    if not seq or not isinstance(seq[0], list):
        return (len(seq),)
    widths = {len(row) if isinstance(row, list) else -1 for row in seq}
    return (len(seq), widths.pop() if len(widths) == 1 else -1)


def _history_frame(
    history: dict[str, list],
    name: str = "history",
    hint: str = "send {time column: [...], target: [...]} as in the training table",
):
    """The ``name`` columns as the table ``lstmkit predict`` would read from a CSV."""
    import pandas as pd
    from fastapi import HTTPException

    if not history:
        raise HTTPException(status_code=422, detail=f"{name} has no columns; {hint}")
    sizes = {k: len(v) for k, v in history.items()}
    if len(set(sizes.values())) > 1:
        raise HTTPException(
            status_code=422, detail=f"{name} columns must all have the same length, got {sizes}"
        )
    return pd.DataFrame(history)


def _panel_examples(fc) -> dict[str, dict]:
    """The OpenAPI example of a panel request in the run's own columns: two of its series,
    three steps each (and the future covariates over the horizon after them)."""
    import pandas as pd

    n, H, steps = fc.names_, fc.horizon_, 3
    ids = [i.item() if hasattr(i, "item") else i for i in fc.ids_[: 2 if n.id_col else 1]]
    try:
        times = list(range(steps + H))
        if fc.freq_:
            times = pd.date_range("2024-01-01", periods=steps + H, freq=fc.freq_).astype(str)
            times = times.tolist()
    except (TypeError, ValueError):  # a frequency pandas cannot lay out: no example
        return {}

    def table(rows: slice, columns: tuple[str, ...], target: bool) -> dict[str, list]:
        k = len(range(steps + H)[rows])
        out = {} if n.id_col is None else {n.id_col: [i for i in ids for _ in range(k)]}
        if n.time_col is not None:
            out[n.time_col] = times[rows] * len(ids)
        if target:
            out[n.target] = [10.0, 12.0, 11.0] * len(ids)
        return out | {c: [0.0] * (k * len(ids)) for c in columns}

    value = {"history": table(slice(0, steps), (*n.past, *n.future, *n.static), True)}
    if n.future:
        value["future"] = table(slice(steps, steps + H), n.future, False)
    return {"two series": {"summary": f"{len(ids)} series, {steps} steps each", "value": value}}


def _table_json(table) -> dict[str, list]:
    """A forecast table as column -> list: times as the CSV writes them, NaN as null."""
    import pandas as pd

    out = {}
    for col in table.columns:
        s = table[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[str(col)] = s.astype(str).tolist()
        else:
            values = (v.item() if isinstance(v, np.generic) else v for v in s.tolist())
            out[str(col)] = [
                None if isinstance(v, float) and not math.isfinite(v) else v for v in values
            ]
    return out


def _warm_up(model) -> None:
    """One tiny call of each code path, so that one-time set-up (kernels) happens before the
    first request rather than during it."""
    try:
        if model.task in ("classify", "regress"):
            run = model.predict_proba if model.task == "classify" else model.predict
            X = np.zeros((1, 1, model.n_features_in_), np.float32)
            with warnings.catch_warnings():  # zeros are far from the training data: no matter
                warnings.simplefilter("ignore")
                run(X)
                run(X, np.ones(1, np.int64))
        elif model.task == "textgen":
            model.generate("", 1, seed=0)
    except Exception as e:  # serving may still work for real inputs; say so and go on
        log.warning("warm-up call of the %s model failed: %s", model.task, e)


def _is_panel(model) -> bool:
    from lstmkit.estimators.panel_forecaster import PanelForecaster

    return isinstance(model, PanelForecaster)


def _model_info(model, run_dir: Path | None) -> dict[str, Any]:
    """What /health says about the model: parameters and what it reads."""
    cfg = model.config_
    info: dict[str, Any] = {
        "params": sum(p.numel() for p in model.model_.parameters()),
        "run_dir": None if run_dir is None else str(run_dir),
    }
    if model.task in ("classify", "regress"):
        f = cfg.features
        info["input_size"] = cfg.input_channels
        if model.task == "classify":
            info["classes"] = model.classes_.tolist()
        else:
            info |= {"targets": list(cfg.names), "target_mean": list(cfg.target_mean)}
        info |= {"cell": f.cell, "hidden": f.hidden, "layers": f.layers}
        info["bidirectional"] = f.bidirectional
    elif _is_panel(model):
        n = model.names_
        info |= {"panel": True, "id_col": n.id_col, "time_col": n.time_col, "target": n.target}
        info |= {"features": list(n.past), "future_features": list(n.future)}
        info |= {"static_features": list(n.static), "freq": model.freq_, "season": model.season_}
        info |= {"series_trained": len(model.ids_), "lookback": model.lookback_}
        info |= {"horizon": model.horizon_, "quantiles": list(model.levels_)}
        info |= {"cell": cfg.cell, "hidden": cfg.hidden}
    elif model.task == "forecast":
        f = cfg.features
        info |= dict(model.frame_meta_)
        info |= {"lookback": model.lookback_, "horizon": model.horizon_}
        info |= {"quantiles": list(cfg.quantiles), "cell": f.cell, "hidden": f.hidden}
    else:
        info |= {"level": model.level, "vocab_size": cfg.vocab_size, "cell": cfg.cell}
        info |= {"hidden": cfg.hidden, "layers": cfg.layers}
    return info


# ---------------------------------------------------------------------------- errors
def _add_error_handlers(app, task: str) -> None:
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    async def on_invalid(request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        bad_json = [e for e in errors if e.get("type") == "json_invalid"]
        if bad_json:
            e = bad_json[0]
            where = e["loc"][-1] if e.get("loc") else "?"
            why = (e.get("ctx") or {}).get("error", e.get("msg"))
            return JSONResponse(
                {"detail": f"malformed JSON body: {why} at character {where}"}, status_code=400
            )
        ctype = request.headers.get("content-type", "")
        if "json" not in ctype and any(tuple(e.get("loc", ())) == ("body",) for e in errors):
            return JSONResponse(
                {"detail": f"send the body as JSON with Content-Type: application/json "
                 f"(got {ctype or 'no Content-Type'!r})"},
                status_code=415,
            )  # fmt: skip
        detail = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in errors]
        if len(detail) > _MAX_ERRORS:
            more = len(detail) - _MAX_ERRORS
            detail = [*detail[:_MAX_ERRORS], {"msg": f"... and {more} more errors"}]
        return JSONResponse({"detail": detail}, status_code=422)

    async def on_http(request, exc: HTTPException):
        if exc.status_code == 404:
            return JSONResponse(
                {"detail": f"no endpoint {request.method} {request.url.path}: this server runs "
                 f"a {task} model; its endpoints are POST {ENDPOINTS[task]}, GET /health and "
                 "GET /docs"},
                status_code=404,
            )  # fmt: skip
        return await http_exception_handler(request, exc)

    async def on_crash(request, exc: Exception) -> JSONResponse:  # the server logs exc
        return JSONResponse({"detail": "internal server error (logged on the server)"}, 500)

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
