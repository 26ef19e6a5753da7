"""Reference API: parameters, recorded values, dtypes, bad input, and no torch import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lstmkit import reference as ref

N, L, I, H = 2, 5, 3, 4


def _run(cell: str, seed: int = 0, with_state: bool = True) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    params = ref.init_params(I, H, cell=cell, seed=seed)
    has_c = ref.REGISTRY[cell].has_cell_state
    h0 = rng.standard_normal((N, H)) if with_state else None
    c0 = rng.standard_normal((N, H)) if with_state and has_c else None
    return ref.lstm_forward(rng.standard_normal((N, L, I)), params, h0=h0, c0=c0, cell=cell)


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------


def test_cells_and_gate_names() -> None:
    assert ref.CELLS == ("lstm", "peephole", "coupled", "gru", "layernorm")
    assert ref.gate_names("lstm") == ("i", "f", "g", "o")
    assert ref.gate_names("coupled") == ("f", "g", "o")
    assert ref.gate_names("gru") == ("r", "z", "n")


EXPECTED_SHAPES = {
    "lstm": {"weight_ih": (16, 3), "weight_hh": (16, 4), "bias_ih": (16,), "bias_hh": (16,)},
    "coupled": {"weight_ih": (12, 3), "weight_hh": (12, 4), "bias_ih": (12,), "bias_hh": (12,)},
    "gru": {"weight_ih": (12, 3), "weight_hh": (12, 4), "bias_ih": (12,), "bias_hh": (12,)},
}
EXPECTED_SHAPES["peephole"] = EXPECTED_SHAPES["lstm"] | {"weight_peephole": (12,)}
EXPECTED_SHAPES["layernorm"] = EXPECTED_SHAPES["lstm"] | {
    "ln_gates_weight": (16,),
    "ln_gates_bias": (16,),
    "ln_cell_weight": (4,),
    "ln_cell_bias": (4,),
}


@pytest.mark.parametrize("cell", ref.CELLS)
def test_init_params(cell: str) -> None:
    params = ref.init_params(I, H, cell=cell, seed=5)
    assert {k: v.shape for k, v in params.items()} == EXPECTED_SHAPES[cell]
    bound = 1 / np.sqrt(H)
    for key, value in params.items():
        assert value.dtype == np.float64
        if key in ("ln_gates_weight", "ln_cell_weight"):
            np.testing.assert_array_equal(value, 1.0)
        elif key in ("ln_gates_bias", "ln_cell_bias"):
            np.testing.assert_array_equal(value, 0.0)
        else:
            assert np.abs(value).max() <= bound and value.std() > 0.1 * bound
    again = ref.init_params(I, H, cell=cell, seed=5)
    other = ref.init_params(I, H, cell=cell, seed=6)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert not np.array_equal(params["weight_ih"], other["weight_ih"])


# ---------------------------------------------------------------------------------------------
# recorded per-step values obey the equations
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "layernorm"])
def test_recorded_cell_update(cell: str) -> None:
    h_seq, cache = _run(cell)
    s = cache["steps"]
    assert set(s) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (N, L, H) for v in s.values())
    c_prev = np.concatenate([cache["c0"][:, None], s["c"][:, :-1]], axis=1)  # (N, L, H)
    np.testing.assert_allclose(s["c"], s["f"] * c_prev + s["i"] * s["g"], atol=1e-12)
    np.testing.assert_array_equal(h_seq, s["h"])
    np.testing.assert_array_equal(cache["h_n"], h_seq[:, -1])
    np.testing.assert_array_equal(cache["c_n"], s["c"][:, -1])
    if cell != "layernorm":  # layernorm normalises c_t before the tanh
        np.testing.assert_allclose(h_seq, s["o"] * np.tanh(s["c"]), atol=1e-12)


def test_coupled_input_gate_is_one_minus_forget() -> None:
    _, cache = _run("coupled")
    np.testing.assert_allclose(cache["steps"]["i"], 1.0 - cache["steps"]["f"], atol=1e-15)


def test_gru_records_and_state() -> None:
    h_seq, cache = _run("gru")
    s = cache["steps"]
    assert set(s) == {"r", "z", "n", "h"}
    h_prev = np.concatenate([cache["h0"][:, None], h_seq[:, :-1]], axis=1)  # (N, L, H)
    np.testing.assert_allclose(h_seq, (1 - s["z"]) * s["n"] + s["z"] * h_prev, atol=1e-12)
    assert cache["c_n"] is None
    assert "c0" not in ref.lstm_backward(np.ones_like(h_seq), cache)


@pytest.mark.parametrize("cell", ref.CELLS)
def test_step_functions_compose_to_the_layer(cell: str) -> None:
    """The sequence loop is just the registered step applied L times."""
    rng = np.random.default_rng(1)
    params = ref.init_params(I, H, cell=cell)
    x = rng.standard_normal((N, L, I))
    h_seq, _ = ref.lstm_forward(x, params, cell=cell)
    spec = ref.REGISTRY[cell]
    h, c = np.zeros((N, H)), (np.zeros((N, H)) if spec.has_cell_state else None)
    for t in range(L):
        (h, c), _ = spec.step_forward(x[:, t], h, c, params)
        np.testing.assert_array_equal(h, h_seq[:, t])


# ---------------------------------------------------------------------------------------------
# dtypes, copies, edge cases
# ---------------------------------------------------------------------------------------------


def test_dtype_promotion() -> None:
    params64 = ref.init_params(I, H)
    params32 = {k: v.astype(np.float32) for k, v in params64.items()}
    x = np.random.default_rng(0).standard_normal((N, L, I))
    h32, cache32 = ref.lstm_forward(x.astype(np.float32), params32)
    assert h32.dtype == np.float32
    assert ref.lstm_backward(np.ones_like(h32), cache32)["weight_ih"].dtype == np.float32
    assert ref.lstm_forward(x.astype(np.float32), params64)[0].dtype == np.float64
    assert ref.lstm_forward(x, params32)[0].dtype == np.float64


def test_inputs_are_not_modified_and_later_changes_do_not_leak() -> None:
    params = ref.init_params(I, H)
    x = np.random.default_rng(0).standard_normal((N, L, I))
    saved = {k: v.copy() for k, v in params.items()}
    h_seq, cache = ref.lstm_forward(x, params)
    g1 = ref.lstm_backward(np.ones_like(h_seq), cache)
    assert all(np.array_equal(saved[k], params[k]) for k in params)
    params["weight_hh"] += 1.0
    x += 1.0
    g2 = ref.lstm_backward(np.ones_like(h_seq), cache)
    assert all(np.array_equal(g1[k], g2[k]) for k in g1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_empty_sequence(cell: str) -> None:
    params = ref.init_params(I, H, cell=cell)
    h0 = np.ones((N, H))
    h_seq, cache = ref.lstm_forward(np.zeros((N, 0, I)), params, h0=h0, cell=cell)
    assert h_seq.shape == (N, 0, H)
    np.testing.assert_array_equal(cache["h_n"], h0)
    grads = ref.lstm_backward(np.zeros((N, 0, H)), cache, dh_n=np.full((N, H), 2.0))
    np.testing.assert_array_equal(grads["h0"], 2.0)
    assert grads["x"].shape == (N, 0, I) and not grads["weight_ih"].any()


# ---------------------------------------------------------------------------------------------
# bad input: clear ValueErrors
# ---------------------------------------------------------------------------------------------


def test_unknown_cell() -> None:
    params = ref.init_params(I, H)
    x = np.zeros((N, L, I))
    for call in (
        lambda: ref.init_params(I, H, cell="lstmm"),
        lambda: ref.lstm_forward(x, params, cell="lstmm"),
        lambda: ref.gate_names("lstmm"),
    ):
        with pytest.raises(ValueError, match="unknown cell 'lstmm'") as info:
            call()
        assert all(name in str(info.value) for name in ref.CELLS)


@pytest.mark.parametrize("shape", [(L, I), (N, L, I, 1), ()])
def test_x_not_3d(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"x must be 3-D \(N, L, I\)"):
        ref.lstm_forward(np.zeros(shape), ref.init_params(I, H))


def test_x_wrong_input_size() -> None:
    with pytest.raises(ValueError, match="Expected 3, got 5"):
        ref.lstm_forward(np.zeros((N, L, 5)), ref.init_params(I, H))


def test_missing_and_unexpected_param_keys() -> None:
    params = ref.init_params(I, H, cell="peephole")
    del params["weight_peephole"]
    with pytest.raises(ValueError, match=r"missing \['weight_peephole'\]"):
        ref.lstm_forward(np.zeros((N, L, I)), params, cell="peephole")
    with pytest.raises(ValueError, match="does not use"):
        ref.lstm_forward(np.zeros((N, L, I)), ref.init_params(I, H, cell="peephole"))


def test_param_shape_mismatch() -> None:
    params = ref.init_params(I, H, cell="lstm")  # 4H gate rows, gru expects 3H
    with pytest.raises(ValueError, match=r"params\['weight_ih'\] has shape \(16, 3\), expected"):
        ref.lstm_forward(np.zeros((N, L, I)), params, cell="gru")


def test_bad_states_and_gradients() -> None:
    x = np.zeros((N, L, I))
    with pytest.raises(ValueError, match="h0 must have shape"):
        ref.lstm_forward(x, ref.init_params(I, H), h0=np.zeros((1, N, H)))
    with pytest.raises(ValueError, match="no cell state"):
        ref.lstm_forward(x, ref.init_params(I, H, cell="gru"), c0=np.zeros((N, H)), cell="gru")
    h_seq, cache = ref.lstm_forward(x, ref.init_params(I, H))
    with pytest.raises(ValueError, match="dh_seq must have the shape"):
        ref.lstm_backward(h_seq[:, :-1], cache)
    with pytest.raises(TypeError, match="returned by lstm_forward"):
        ref.lstm_backward(h_seq, {})


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_bad_sizes(size: object) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ref.init_params(size, H)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# NumPy only
# ---------------------------------------------------------------------------------------------


def test_import_does_not_pull_in_torch() -> None:
    code = (
        "import sys, numpy as np, lstmkit.reference as ref\n"
        "h, c = ref.lstm_forward(np.zeros((1, 2, 3)), ref.init_params(3, 4))\n"
        "ref.lstm_backward(h, c)\n"
        "sys.exit(int('torch' in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr or "importing lstmkit.reference imported torch"
