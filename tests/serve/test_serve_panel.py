"""``lstmkit serve`` on a panel run (one model over many series), in-process with FastAPI's
TestClient: several series in one ``POST /forecast`` answer exactly what ``PanelForecaster.predict``
gives for the same table, a run with a future covariate needs ``future``, bad tables get a 422
with a one-line message, and the OpenAPI schema describes the panel request in the run's columns.

Two tiny runs are trained once for the module with ``lstmkit train forecast --id-col ...`` in
this process: one plain, one with a future covariate (``promo``).
"""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.panel_data import daily_panel

import lstmkit
from lstmkit.cli.main import main
from lstmkit.serve import build_app

H = 7
TRAIN = ["--id-col", "unique_id", "--time-col", "ds", "--target", "y", "--horizon", str(H),
         "--hidden", "8", "--layers", "1", "--epochs", "2", "--batch-size", "64",
         "--no-baselines"]  # fmt: skip
LEVELS = ("q0.1", "q0.5", "q0.9")

pytestmark = pytest.mark.usefixtures("one_thread")


def _future(df: pd.DataFrame) -> pd.DataFrame:
    """``promo`` over the H days after every series' end (a promotion on the second day)."""
    last = pd.to_datetime(df.groupby("unique_id")["ds"].max())
    return pd.concat([pd.DataFrame({
        "unique_id": sid, "promo": [0, 1] + [0] * (H - 2),
        "ds": pd.date_range(t + pd.Timedelta(days=1), periods=H).strftime("%Y-%m-%d"),
    }) for sid, t in last.items()], ignore_index=True)  # fmt: skip


def _columns(df: pd.DataFrame) -> dict[str, list]:
    return {c: df[c].tolist() for c in df.columns}


def _train(data: pd.DataFrame, out, *flags: str):
    data.to_csv(out.with_suffix(".csv"), index=False)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["train", "forecast", "--data", str(out.with_suffix(".csv")), *TRAIN,
                     *flags, "--out", str(out)])  # fmt: skip
    assert code == 0, err.getvalue()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("panel-serve")
    df = daily_panel(8, steps=(30, 45), ids="s{}")
    promo = daily_panel(6, 1, steps=(30, 45), promo=True, ids="s{}")
    return SimpleNamespace(
        df=df, plain=_train(df, root / "plain"),
        promo_df=promo, promo=_train(promo, root / "promo", "--future-features", "promo"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def plain(runs):
    with TestClient(build_app(runs.plain)) as c:
        yield SimpleNamespace(client=c, model=lstmkit.load(runs.plain))


@pytest.fixture(scope="module")
def promo(runs):
    with TestClient(build_app(runs.promo)) as c:
        yield SimpleNamespace(client=c, model=lstmkit.load(runs.promo))


def _assert_same_forecasts(answer: dict, expected: pd.DataFrame) -> None:
    got = pd.DataFrame(answer)
    assert list(got.columns) == ["unique_id", "ds", "y", *LEVELS]
    assert got["unique_id"].tolist() == expected["unique_id"].tolist()
    assert got["ds"].tolist() == expected["ds"].astype(str).tolist()
    for col in ("y", *LEVELS):
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-5, atol=1e-5)


def test_several_series_in_one_request_get_what_predict_gives(plain, runs):
    three = runs.df[runs.df["unique_id"].isin(["s1", "s4", "s7"])]
    three = three.sample(frac=1.0, random_state=0)  # rows in any order
    r = plain.client.post("/forecast", json={"history": _columns(three)})
    assert r.status_code == 200, r.text
    answer = r.json()["forecast"]
    assert pd.Series(answer["unique_id"]).value_counts().to_dict() == {"s1": H, "s4": H, "s7": H}
    _assert_same_forecasts(answer, plain.model.predict(three))
    h = plain.client.get("/health").json()
    assert h["endpoint"] == "/forecast" and h["model"]["panel"] is True
    info = h["model"]
    assert (info["id_col"], info["horizon"], info["series_trained"]) == ("unique_id", H, 8)


def test_future_covariates_are_used_when_given_and_asked_for_when_not(promo, runs):
    df = runs.promo_df[runs.promo_df["unique_id"].isin(["s0", "s2", "s5"])]
    future = _future(df)
    r = promo.client.post("/forecast", json={"history": _columns(df), "future": _columns(future)})
    assert r.status_code == 200, r.text
    _assert_same_forecasts(r.json()["forecast"], promo.model.predict(df, future))
    r = promo.client.post("/forecast", json={"history": _columns(df)})
    assert r.status_code == 422
    assert "needs the future covariates ['promo']" in r.json()["detail"]
    assert "`future`" in r.json()["detail"]
    short = future[future["unique_id"] != "s2"]
    r = promo.client.post("/forecast", json={"history": _columns(df), "future": _columns(short)})
    assert r.status_code == 422 and "'s2'" in r.json()["detail"], r.text


def _without(df, col):
    return df.drop(columns=col)


def _duplicated(df):
    return pd.concat([df, df.iloc[:2]], ignore_index=True)


def _text_target(df):
    out = df.astype({"y": object})
    out.loc[3, "y"] = "12,5"
    return out


@pytest.mark.parametrize(("bad", "needle"), [
    (lambda df: _columns(_without(df, "unique_id")), "id column 'unique_id' not found"),
    (lambda df: _columns(_duplicated(df)), "duplicate (unique_id, ds) pair"),
    (lambda df: _columns(_text_target(df)), "must be numeric, got '12,5'"),
    (lambda df: _columns(df) | {"y": [1.0]}, "columns must all have the same length"),
    (lambda df: {}, "history has no columns; send {id column"),
    (lambda df: _columns(df.iloc[:0]), "no rows"),
])  # fmt: skip
def test_bad_tables_are_a_422_with_one_line(plain, runs, bad, needle):
    r = plain.client.post("/forecast", json={"history": bad(runs.df.iloc[:40])})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and needle in detail, detail


def test_future_for_a_run_without_future_covariates_is_a_422(plain, runs):
    df = runs.df.iloc[:40]
    future = _future(df).drop(columns="promo")
    r = plain.client.post("/forecast", json={"history": _columns(df), "future": _columns(future)})
    assert r.status_code == 422 and "trained without future_features" in r.json()["detail"]


def test_openapi_describes_the_panel_request_in_the_runs_columns(promo):
    spec = promo.client.get("/openapi.json").json()
    body = spec["paths"]["/forecast"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/PanelForecastRequest")
    schema = spec["components"]["schemas"]["PanelForecastRequest"]
    assert set(schema["properties"]) == {"history", "future"} and schema["required"] == ["history"]
    assert "long format" in schema["properties"]["history"]["description"]
    example = body["examples"]["two series"]["value"]
    assert set(example["history"]) == {"unique_id", "ds", "y", "promo"}
    assert len(example["future"]["ds"]) == 2 * H
    r = promo.client.post("/forecast", json=example)  # the example itself is a valid request
    assert r.status_code == 200, r.text
    assert len(r.json()["forecast"]["y"]) == 2 * H
