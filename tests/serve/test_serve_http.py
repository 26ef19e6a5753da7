"""``lstmkit serve`` over real HTTP: one server process per task (plus one with a small body
limit) on 127.0.0.1, started side by side once for the module.

Answers are checked against the estimator's own output computed here in-process; every bad
request must get a 4xx with a JSON ``detail`` (never a 500); 400 concurrent requests all get the
right answer; SIGTERM ends every server with exit code 0.
"""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import numpy as np
import pandas as pd
import pytest

import lstmkit
from lstmkit.data.series.tables import load_table

SMALL_LIMIT_MB = 0.01  # 10485 bytes
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def servers(tiny_runs, serve_launch, tmp_path_factory):
    logs = tmp_path_factory.mktemp("serve_logs")
    started = {
        "classify": serve_launch(tiny_runs.classify, logs / "classify.log"),
        "forecast": serve_launch(tiny_runs.forecast, logs / "forecast.log"),
        "textgen": serve_launch(tiny_runs.textgen, logs / "textgen.log"),
        "small": serve_launch(
            tiny_runs.classify, logs / "small.log", "--max-body-mb", str(SMALL_LIMIT_MB)
        ),
    }
    return SimpleNamespace(**{k: s.wait_ready() for k, s in started.items()})


@pytest.fixture(scope="module")
def models(tiny_runs):
    return SimpleNamespace(
        classify=lstmkit.load(tiny_runs.classify),
        forecast=lstmkit.load(tiny_runs.forecast),
        textgen=lstmkit.load(tiny_runs.textgen),
    )


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().images[:200] / 16.0).astype(np.float32)  # (200, 8, 8) as trained


@pytest.fixture(scope="module")
def airline() -> pd.DataFrame:
    df, _ = load_table("airline")
    return df.tail(48).reset_index(drop=True)


def _post(url: str, body) -> httpx.Response:
    return httpx.post(url, json=body, timeout=60)


def _check_predict(answer: dict, clf, X: np.ndarray, lengths=None) -> None:
    proba = clf.predict_proba(X, lengths)
    np.testing.assert_allclose(np.asarray(answer["probabilities"]), proba, atol=1e-5)
    assert answer["labels"] == clf.classes_[proba.argmax(1)].tolist()
    assert answer["classes"] == clf.classes_.tolist()


# ---------------------------------------------------------------------------- valid requests
def test_health_describes_each_task(servers):
    for task, path in (("classify", "/predict"), ("forecast", "/forecast"),
                       ("textgen", "/generate")):  # fmt: skip
        r = httpx.get(f"{getattr(servers, task).url}/health")
        assert r.status_code == 200
        h = r.json()
        assert (h["status"], h["task"], h["endpoint"]) == ("ok", task, path)
        assert h["lstmkit_version"] == lstmkit.__version__
        assert h["model"]["params"] > 0
        assert h["max_body_bytes"] == 10 * 2**20
    assert httpx.get(f"{servers.small.url}/health").json()["max_body_bytes"] == 10485


def test_predict_matches_the_estimator(servers, models, digits):
    X = digits[:5]
    r = _post(f"{servers.classify.url}/predict", {"inputs": X.tolist()})
    assert r.status_code == 200, r.text
    _check_predict(r.json(), models.classify, X)
    lengths = [8, 3, 5, 1, 8]
    r = _post(f"{servers.classify.url}/predict", {"inputs": X.tolist(), "lengths": lengths})
    assert r.status_code == 200, r.text
    _check_predict(r.json(), models.classify, X, np.array(lengths))


def test_forecast_matches_lstmkit_predict(servers, models, airline):
    history = {c: airline[c].tolist() for c in airline.columns}
    r = _post(f"{servers.forecast.url}/forecast", {"history": history})
    assert r.status_code == 200, r.text
    got = r.json()["forecast"]
    table = models.forecast.predict(airline)
    csv = pd.read_csv(io.StringIO(table.to_csv(index=False)), dtype=str)  # `lstmkit predict`
    assert list(got) == list(table.columns) == ["month", "passengers", "q0.1", "q0.5", "q0.9"]
    assert got["month"] == csv["month"].tolist()  # the same time stamps as the CSV
    assert got["month"][0] == "1961-01-01"
    for col in table.columns[1:]:
        np.testing.assert_allclose(got[col], table[col].to_numpy(), rtol=1e-6)
    assert np.all(np.diff(np.array([got["q0.1"], got["q0.5"], got["q0.9"]]), axis=0) >= 0)


def test_forecast_with_a_missing_value(servers, models, airline):
    history = {c: airline[c].tolist() for c in airline.columns}
    history["passengers"][40] = None  # a gap the pipeline fills, as for a CSV's empty cell
    r = _post(f"{servers.forecast.url}/forecast", {"history": history})
    assert r.status_code == 200, r.text
    frame = airline.copy()
    frame.loc[40, "passengers"] = np.nan
    np.testing.assert_allclose(
        r.json()["forecast"]["passengers"], models.forecast.predict(frame)["passengers"], rtol=1e-6
    )


def test_generate_matches_the_estimator(servers, models):
    for body in (
        {"prompt": "And God said", "length": 30, "temperature": 0.8, "seed": 3},
        {"prompt": "the", "length": 20, "temperature": 1.2, "seed": 7, "top_k": 5, "top_p": 0.9},
        {"prompt": "", "length": 10, "seed": 0},
    ):
        r = _post(f"{servers.textgen.url}/generate", body)
        assert r.status_code == 200, r.text
        want = models.textgen.generate(
            body["prompt"], body["length"], body.get("temperature", 1.0), body.get("top_k"),
            body.get("top_p"), body["seed"],
        )  # fmt: skip
        assert r.json() == {"text": want}


# ---------------------------------------------------------------------------- bad requests
_ROW = [0.0] * 8
_X = [[_ROW] * 8] * 2  # (2, 8, 8)
_BAD = [
    # (task, body as sent, status, a piece of the detail)
    ("classify", b'{"inputs": [[[0, 1]', 400, "malformed JSON"),
    ("classify", b"", 422, "missing"),
    ("classify", b"{}", 422, "missing"),
    ("classify", b"[1, 2]", 422, "dictionary"),
    ("classify", {"input": _X}, 422, "extra_forbidden"),
    ("classify", {"inputs": [[_ROW] * 8, [_ROW] * 7]}, 422, "ragged"),
    ("classify", {"inputs": [[_ROW] * 8, [_ROW[:7]] * 8]}, 422, "ragged"),
    ("classify", {"inputs": [[[0.0] * 3] * 8]}, 422, "channels"),
    ("classify", {"inputs": [[[0.0] * 8] * 8, [[0.0] * 8] * 8]}, 200, None),
    ("classify", {"inputs": [[["0.5"] * 8] * 8]}, 422, "valid number"),
    ("classify", {"inputs": [[[True] * 8] * 8]}, 422, "valid number"),
    ("classify", {"inputs": "0.5"}, 422, "valid list"),
    ("classify", {"inputs": [1.0, 2.0]}, 422, "valid list"),
    ("classify", {"inputs": []}, 422, "non-empty"),
    ("classify", b'{"inputs": [[[NaN, 0, 0, 0, 0, 0, 0, 0]]]}', 422, "finite"),
    ("classify", b'{"inputs": [[[Infinity, 0, 0, 0, 0, 0, 0, 0]]]}', 422, "finite"),
    ("classify", {"inputs": [[[1e300] * 8]]}, 422, "too large"),
    ("classify", {"inputs": _X, "lengths": [8]}, 422, "one integer per sequence"),
    ("classify", {"inputs": _X, "lengths": [8, 9]}, 422, "lengths must lie in"),
    ("classify", {"inputs": _X, "lengths": [8, 2.5]}, 422, "valid integer"),
    ("forecast", b'{"history": {"month": [', 400, "malformed JSON"),
    ("forecast", b"{}", 422, "missing"),
    ("forecast", {"history": [1, 2]}, 422, "dictionary"),
    ("forecast", {"history": {}}, 422, "no columns"),
    ("forecast", {"history": {"month": ["1960-01-01"], "passengers": [1, 2]}}, 422,
     "same length"),
    ("forecast", {"history": {"month": ["1960-01-01"] * 2, "sales": [1, 2]}}, 422,
     "'passengers' not found"),
    ("forecast", {"history": {"passengers": [1, 2]}}, 422, "'month' not found"),
    ("forecast", {"history": {"month": ["x", "y"], "passengers": [1, 2]}}, 422, "as a date"),
    ("forecast", {"history": {"month": ["1960-01-01", "1960-02-01"], "passengers": ["a", 2]}},
     422, "numeric"),
    ("forecast", {"history": {"month": ["1960-01-01", "1960-02-01"], "passengers": [1, 2]}},
     422, "look-back"),
    ("forecast", {"history": {"month": [[1]], "passengers": [1]}}, 422, "valid string"),
    ("forecast", b'{"history": {"month": ["1960-01-01"], "passengers": [NaN]}}', 422, "finite"),
    ("textgen", b'{"prompt": "x"', 400, "malformed JSON"),
    ("textgen", b"{}", 422, "missing"),
    ("textgen", {"prompt": 5}, 422, "valid string"),
    ("textgen", {"prompt": "x", "length": "5"}, 422, "valid integer"),
    ("textgen", {"prompt": "x", "length": -1}, 422, "greater than or equal"),
    ("textgen", {"prompt": "x", "length": 10**6}, 422, "less than or equal"),
    ("textgen", {"prompt": "x", "temperature": 0}, 422, "greater than"),
    ("textgen", {"prompt": "x", "top_p": 2}, 422, "less than or equal"),
    ("textgen", {"prompt": "x", "top_k": 0}, 422, "greater than or equal"),
    ("textgen", {"prompt": "x", "seed": "1"}, 422, "valid integer"),
    ("textgen", {"prompt": "x", "mood": "happy"}, 422, "extra_forbidden"),
    ("textgen", {"prompt": "\u20ac", "length": 3}, 422, "never occur"),
]  # fmt: skip
_PATHS = {"classify": "/predict", "forecast": "/forecast", "textgen": "/generate"}


@pytest.mark.parametrize(("task", "body", "status", "piece"), _BAD,
                         ids=[f"{t}-{i}" for i, (t, *_) in enumerate(_BAD)])  # fmt: skip
def test_bad_request_is_a_4xx_with_a_json_detail(servers, task, body, status, piece):
    url = f"{getattr(servers, task).url}{_PATHS[task]}"
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(url, content=raw, headers=JSON, timeout=60)
    assert r.status_code == status, r.text
    if piece is None:
        return
    assert r.headers["content-type"] == "application/json"
    detail = r.json()["detail"]
    assert piece in json.dumps(detail), detail


def test_not_json_and_wrong_endpoints(servers):
    url = servers.classify.url
    r = httpx.post(f"{url}/predict", content=b'{"inputs": [[1]]}',
                   headers={"content-type": "text/plain"})  # fmt: skip
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    for method, path in (("POST", "/forecast"), ("POST", "/generate"), ("GET", "/nope")):
        r = httpx.request(method, f"{url}{path}", json={})
        assert r.status_code == 404
        assert "POST /predict" in r.json()["detail"]
    r = httpx.get(f"{url}/predict")
    assert r.status_code == 405 and "detail" in r.json()
    r = httpx.post(f"{servers.forecast.url}/predict", json={"inputs": _X})
    assert r.status_code == 404 and "POST /forecast" in r.json()["detail"]


def test_openapi_docs(servers):
    r = httpx.get(f"{servers.classify.url}/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    for task, path in _PATHS.items():
        spec = httpx.get(f"{getattr(servers, task).url}/openapi.json").json()
        assert set(spec["paths"]) == {"/health", path}


# ---------------------------------------------------------------------------- body limit
def test_oversize_bodies_get_413(servers, models, digits):
    url = f"{servers.small.url}/predict"
    small = {"inputs": digits[:3].tolist()}
    assert len(json.dumps(small)) < 10485
    r = _post(url, small)
    assert r.status_code == 200, r.text
    _check_predict(r.json(), models.classify, digits[:3])

    big = json.dumps({"inputs": digits[:150].tolist()}).encode()
    assert len(big) > 3 * 10485
    r = httpx.post(url, content=big, headers=JSON, timeout=60)  # Content-Length says it
    assert r.status_code == 413
    assert "--max-body-mb" in r.json()["detail"] and "10485 bytes" in r.json()["detail"]

    def pieces(data: bytes, size: int = 2048):
        yield from (data[i : i + size] for i in range(0, len(data), size))

    # chunked transfer encoding: no Content-Length, the streamed bytes are counted
    r = httpx.post(url, content=pieces(big), headers=JSON, timeout=60)
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 413 and "detail" in r.json()
    r = httpx.post(url, content=pieces(json.dumps(small).encode(), 100), headers=JSON)
    assert r.status_code == 200, r.text  # a chunked body within the limit is served
    _check_predict(r.json(), models.classify, digits[:3])

    # a client that waits for "100 Continue" is told 413 before it sends its 50 MB
    host, port = servers.small.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n")  # fmt: skip
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert httpx.get(f"{servers.small.url}/health").status_code == 200


def test_one_log_line_per_request(servers):
    def lines() -> list[str]:
        return [ln for ln in servers.small.log().splitlines() if re.match(r"(GET|POST) /", ln)]

    before = len(lines())
    httpx.get(f"{servers.small.url}/health")
    httpx.post(f"{servers.small.url}/predict", content=b"{", headers=JSON)
    deadline = time.monotonic() + 5
    while len(after := lines()) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the line is written just after the answer is sent
    time.sleep(0.2)
    after = lines()
    assert len(after) == before + 2
    assert re.fullmatch(r"GET /health 200 \d+\.\d ms", after[-2])
    assert re.fullmatch(r"POST /predict 400 \d+\.\d ms", after[-1])


# ---------------------------------------------------------------------------- concurrency
def _concurrently(fn, n: int, workers: int = 48) -> list:
    local = threading.local()

    def call(i: int):
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        return fn(local.client, i)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(call, range(n)))


def test_400_concurrent_predicts(servers, models, digits):
    rng = np.random.default_rng(0)
    requests = []
    for i in range(400):
        n = 1 + i % 3
        X = digits[(7 * i) % 190 : (7 * i) % 190 + n]
        lengths = rng.integers(1, 9, size=n) if i % 4 == 0 else None
        requests.append((X, lengths))
    url = f"{servers.classify.url}/predict"
    before = httpx.get(f"{servers.classify.url}/health").json()["batching"]

    def call(client: httpx.Client, i: int):
        X, lengths = requests[i]
        body = {"inputs": X.tolist()}
        if lengths is not None:
            body["lengths"] = lengths.tolist()
        return client.post(url, json=body)

    answers = _concurrently(call, len(requests))
    assert [r.status_code for r in answers] == [200] * 400
    # the expected answers in two passes: rows do not depend on the other rows of a batch
    clf = models.classify
    plain = [i for i, (_, lengths) in enumerate(requests) if lengths is None]
    padded = [i for i, (_, lengths) in enumerate(requests) if lengths is not None]
    want = {}
    for group, lengths in ((plain, None), (padded, [requests[i][1] for i in padded])):
        proba = clf.predict_proba(np.concatenate([requests[i][0] for i in group]),
                                  None if lengths is None else np.concatenate(lengths))  # fmt: skip
        splits = np.cumsum([len(requests[i][0]) for i in group])[:-1]
        want |= dict(zip(group, np.split(proba, splits), strict=True))
    for i, r in enumerate(answers):
        got = r.json()
        np.testing.assert_allclose(np.asarray(got["probabilities"]), want[i], atol=1e-5)
        assert got["labels"] == clf.classes_[want[i].argmax(1)].tolist()
    health = httpx.get(f"{servers.classify.url}/health")
    assert health.status_code == 200
    after = health.json()["batching"]
    served = after["requests"] - before["requests"]
    passes = after["passes"] - before["passes"]
    assert served == 400 and 1 <= passes <= 400


def test_concurrent_forecasts_and_generations(servers, models, airline):
    f_url, g_url = f"{servers.forecast.url}/forecast", f"{servers.textgen.url}/generate"
    ends = [len(airline) - k for k in range(8)]  # histories ending at different months

    def call(client: httpx.Client, i: int):
        if i % 2:
            return client.post(g_url, json={"prompt": "And", "length": 8, "seed": i})
        part = airline.iloc[: ends[(i // 2) % len(ends)]]
        return client.post(f_url, json={"history": {c: part[c].tolist() for c in part}})

    answers = _concurrently(call, 32, workers=16)
    assert [r.status_code for r in answers] == [200] * 32
    forecasts = {end: models.forecast.predict(airline.iloc[:end])["passengers"] for end in ends}
    for i, r in enumerate(answers):
        if i % 2:
            assert r.json()["text"] == models.textgen.generate("And", 8, seed=i)
        else:
            want = forecasts[ends[(i // 2) % len(ends)]]
            np.testing.assert_allclose(r.json()["forecast"]["passengers"], want, rtol=1e-6)
    for server in (servers.forecast, servers.textgen):
        assert httpx.get(f"{server.url}/health").status_code == 200


# ---------------------------------------------------------------------------- shutdown
def test_sigterm_stops_every_server_with_exit_code_0(servers, digits):
    url = f"{servers.classify.url}/predict"
    before = servers.classify.log().count("POST /predict 200")  # earlier tests' requests
    answers = _concurrently(
        lambda c, i: c.post(url, json={"inputs": digits[i : i + 1].tolist()}), 50
    )
    assert [r.status_code for r in answers] == [200] * 50
    names = ("classify", "forecast", "textgen", "small")
    for name in names:  # all at once: they shut down side by side
        getattr(servers, name).proc.send_signal(signal.SIGTERM)
    for name in names:
        server = getattr(servers, name)
        assert server.wait() == 0, server.log()  # one signal: a second one may kill it
        log = server.log()
        assert log.rstrip().endswith("lstmkit serve stopped (SIGTERM)"), log[-2000:]
        assert "Traceback" not in log and "Exception in ASGI" not in log, log
        assert " 500 " not in log
    # each of the 50 was logged (a line is written just after its answer), none lost at shutdown
    assert servers.classify.log().count("POST /predict 200") == before + 50
