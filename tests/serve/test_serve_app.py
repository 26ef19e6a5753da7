"""``lstmkit.serve.build_app`` in-process (FastAPI's TestClient) and the micro-batcher on its own:
validation details, the body limit's two paths, the request log, (N, L) inputs, errors of
``build_app`` itself."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import numpy as np
import pytest
from fastapi.testclient import TestClient

import lstmkit
from lstmkit.serve import build_app
from lstmkit.serve.batching import MicroBatcher, ModelRunner

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def clf(tiny_runs):
    return lstmkit.load(tiny_runs.classify)


@pytest.fixture(scope="module")
def client(clf):
    with TestClient(build_app(clf, max_body_bytes=4000)) as c:
        yield c


def test_health_and_predict_in_process(client, clf):
    h = client.get("/health").json()
    assert h["task"] == "classify" and h["model"]["input_size"] == 8
    assert h["model"]["run_dir"] is None and h["max_body_bytes"] == 4000
    X = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    r = client.post("/predict", json={"inputs": X.tolist()})
    assert r.status_code == 200
    np.testing.assert_allclose(r.json()["probabilities"], clf.predict_proba(X), atol=1e-5)


def test_validation_detail_lists_what_and_where(client):
    r = client.post("/predict", json={"inputs": [[[0.0] * 7 + ["x"]] * 8]})
    assert r.status_code == 422
    first = r.json()["detail"][0]
    assert first["loc"][:2] == ["body", "inputs"] and first["loc"][-1] == 7
    assert set(first) == {"loc", "msg", "type"}  # the input is not echoed back
    r = client.post("/predict", json={"inputs": [[["x"] * 8] * 8] * 5})  # 320 bad values
    detail = r.json()["detail"]
    assert r.status_code == 422 and len(detail) == 21 and "more errors" in detail[-1]["msg"]


def test_body_limit_by_content_length_and_by_streamed_bytes(client):
    big = json.dumps({"inputs": [[[0.5] * 8] * 8] * 20}).encode()
    assert len(big) > 4000
    r = client.post("/predict", content=big, headers=JSON)
    assert r.status_code == 413 and "4000 bytes" in r.json()["detail"]

    def chunks(data: bytes):
        yield from (data[i : i + 500] for i in range(0, len(data), 500))

    r = client.post("/predict", content=chunks(big), headers=JSON)
    assert r.status_code == 413
    ok = json.dumps({"inputs": [[[0.5] * 8] * 8]}).encode()
    r = client.post("/predict", content=chunks(ok), headers=JSON)
    assert r.status_code == 200, r.text


def test_one_log_line_per_request(client, caplog):
    with caplog.at_level(logging.INFO, logger="lstmkit.serve"):
        client.get("/health")
        client.post("/predict", content=b"{", headers=JSON)
        client.post("/predict", content=b"x" * 5000, headers=JSON)
        client.get("/a%0Ab")  # a newline in the path stays encoded: no fake log line
    lines = [r.getMessage() for r in caplog.records if r.name == "lstmkit.serve"]
    assert [ln.rsplit(" ", 2)[0] for ln in lines] == [
        "GET /health 200",
        "POST /predict 400",
        "POST /predict 413",
        "GET /a%0Ab 404",
    ]


def test_two_dimensional_inputs_for_a_one_channel_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)  # (N, L): one channel per step
    y = (X.mean(1) > 0).astype(int)
    one = lstmkit.Classifier(
        arch="encoder", hidden=4, layers=1, epochs=1, conv_channels=0, cell="lstm"
    )
    one.fit(X, y)
    with TestClient(build_app(one)) as c:
        r = c.post("/predict", json={"inputs": X[:4].tolist(), "lengths": [6, 2, 3, 6]})
        assert r.status_code == 200, r.text
        want = one.predict_proba(X[:4], np.array([6, 2, 3, 6]))
        np.testing.assert_allclose(r.json()["probabilities"], want, atol=1e-5)
        assert r.json()["labels"] == one.classes_[want.argmax(1)].tolist()
        r = c.post("/predict", json={"inputs": X[:2, :, None].tolist()})  # (N, L, 1) too
        assert r.status_code == 200


def test_fuzzed_bodies_never_get_a_500(tiny_runs):
    rng = np.random.default_rng(1)
    values = [None, True, 0, -1, 2**70, 1.5, 1e308, "", "x", "1960-01-01", [], {}, [1], [[1]],
              [[[1.0] * 8] * 8], {"a": [1]}]  # fmt: skip
    keys = ["inputs", "lengths", "history", "prompt", "length", "temperature", "top_k",
            "top_p", "seed", "month", "passengers"]  # fmt: skip
    for run, path in ((tiny_runs.classify, "/predict"), (tiny_runs.forecast, "/forecast"),
                      (tiny_runs.textgen, "/generate")):  # fmt: skip
        with TestClient(build_app(run), raise_server_exceptions=False) as c:
            for _ in range(60):
                body = {"length": 3} if path == "/generate" else {}  # short, when valid
                body |= {
                    k: values[rng.integers(len(values))]
                    for k in rng.choice(keys, size=rng.integers(0, 4), replace=False)
                }
                if rng.random() < 0.3 and "history" in body:
                    body["history"] = {"month": body["history"], "passengers": [1]}
                r = c.post(path, json=body)
                assert r.status_code < 500, (path, body, r.text)
                assert "detail" in r.json() or r.status_code == 200


def test_non_finite_probabilities_are_a_422(clf):
    class Broken:  # a classifier whose output overflowed
        task, config_, classes_, model_ = "classify", clf.config_, clf.classes_, clf.model_

        def _check_fitted(self):
            pass

        def predict_proba(self, X, lengths=None):
            return np.full((len(X), 10), np.nan, np.float32)

    with TestClient(build_app(Broken())) as c:
        r = c.post("/predict", json={"inputs": [[[0.0] * 8]]})
    assert r.status_code == 422 and "non-finite" in r.json()["detail"]


def test_build_app_refuses_what_it_cannot_serve(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        build_app(tmp_path / "nope")
    with pytest.raises(ValueError, match="not an lstmkit run directory"):
        build_app(tmp_path)
    with pytest.raises(ValueError, match="cannot serve"):
        build_app(object())
    with pytest.raises(ValueError, match="not fitted"):
        build_app(lstmkit.Classifier(arch="encoder"))
    with pytest.raises(ValueError, match="max_body_bytes"):
        build_app(tmp_path, max_body_bytes=0)
    with pytest.raises(ValueError, match="batch_window"):
        build_app(tmp_path, batch_window=-1)


def test_app_serves_again_after_its_lifespan_ended(clf):
    app = build_app(clf)
    for _ in range(2):  # the model thread ends with the lifespan and restarts with the next
        with TestClient(app) as c:
            assert c.post("/predict", json={"inputs": [[[0.0] * 8]]}).status_code == 200


def test_listening_socket_is_tcp_so_that_nodelay_is_set():
    from lstmkit.serve.server import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] > 0
        with pytest.raises(OSError, match=r"cannot listen on 127\.0\.0\.1"):
            _listen("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


# ---------------------------------------------------------------------------- micro-batcher
def _batcher(window: float = 0.05):
    calls = []

    def fn(X, lengths):
        calls.append((X.shape, None if lengths is None else lengths.tolist()))
        if lengths is not None and (lengths < 1).any():
            raise ValueError("lengths must be >= 1")
        total = X.sum(axis=(1, 2)) if lengths is None else X.sum(axis=(1, 2)) + 1000 * lengths
        return total[:, None]  # (N, 1): row i depends on row i only

    runner = ModelRunner()
    return MicroBatcher(fn, runner, window=window), calls, runner


def test_batcher_groups_requests_of_one_shape_into_one_pass():
    batcher, calls, runner = _batcher()

    async def main():
        xs = [np.full((n, 4, 2), float(n), np.float32) for n in (1, 2, 3)]
        other = np.ones((1, 5, 2), np.float32)  # another L: its own pass
        return await asyncio.gather(*(batcher(x) for x in xs), batcher(other)), xs

    (outs, xs) = asyncio.run(main())
    runner.close()
    for out, x in zip(outs[:3], xs, strict=True):
        np.testing.assert_array_equal(out[:, 0], x.sum(axis=(1, 2)))
    assert outs[3][0, 0] == 10
    assert sorted(shape for shape, _ in calls) == [(1, 5, 2), (6, 4, 2)]
    assert (batcher.requests, batcher.passes) == (4, 2)


def test_batcher_reruns_a_failed_group_one_by_one():
    batcher, calls, runner = _batcher()
    x = np.ones((2, 3, 1), np.float32)

    async def main():
        return await asyncio.gather(
            batcher(x, np.array([3, 1])),
            batcher(x, np.array([0, 2])),  # bad: fails the shared pass
            batcher(x, np.array([2, 2])),
            return_exceptions=True,
        )

    good1, bad, good2 = asyncio.run(main())
    runner.close()
    np.testing.assert_array_equal(good1[:, 0], [3003, 1003])
    np.testing.assert_array_equal(good2[:, 0], [2003, 2003])
    assert isinstance(bad, ValueError) and "lengths" in str(bad)
    assert [shape[0] for shape, _ in calls] == [6, 2, 2, 2]  # one shared try, then each


def test_batcher_without_a_window_runs_each_request():
    batcher, calls, runner = _batcher(window=0)

    async def main():
        return await asyncio.gather(*(batcher(np.ones((1, 2, 1), np.float32)) for _ in range(3)))

    asyncio.run(main())
    runner.close()
    assert len(calls) == 3 and batcher.passes == 3
    with pytest.raises(ValueError, match="window"):
        MicroBatcher(lambda X, lengths: X, ModelRunner(), window=-1)
